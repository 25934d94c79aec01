package plan

import (
	"errors"
	"strings"
)

// Error is a configuration mistake: a setting whose value cannot work, or
// a repository that the settings do not fit (no main package, two mains
// with one name). Every mistake the plan finds comes back as an *Error,
// all of them joined in one, before any work starts; the executor gives
// them exit status 2.
type Error struct {
	// Setting names what to change: "MAGEPACK_PULL",
	// `Settings.Services["api"].Port`; "" when the message says it.
	Setting string
	Err     error
}

// Error is "configuration: " and the mistake, with the setting in
// parentheses unless the message names it already.
func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Setting != "" && !strings.Contains(msg, e.Setting) {
		msg += " (" + e.Setting + ")"
	}
	return "configuration: " + msg
}

// Unwrap returns the mistake, so errors.As finds the concern package's
// typed error inside.
func (e *Error) Unwrap() error { return e.Err }

// Bad returns err as a mistake in setting, or nil for nil. An *Error
// passes through unchanged.
func Bad(setting string, err error) error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) && pe == err {
		return err
	}
	return &Error{Setting: setting, Err: err}
}

// Join returns the mistakes in errs (nils dropped) as one *Error whose
// message lists each on its own line, or nil when there are none. The
// "configuration: " prefix is said once, not per mistake.
func Join(errs ...error) error {
	var list []error
	for _, err := range errs {
		if err != nil {
			list = append(list, err)
		}
	}
	switch len(list) {
	case 0:
		return nil
	case 1:
		if pe, ok := list[0].(*Error); ok {
			return pe
		}
	}
	for i, err := range list {
		list[i] = unprefixed(err)
	}
	return &Error{Err: errors.Join(list...)}
}

// unprefixed is err without its "configuration: " prefix, its setting
// still named, so a joined list says the prefix once.
func unprefixed(err error) error {
	pe, ok := err.(*Error)
	if !ok {
		return err
	}
	return bare{pe}
}

// bare is an *Error without the prefix; it unwraps to it, so errors.As
// still finds the typed error inside a joined list.
type bare struct{ e *Error }

func (b bare) Error() string { return strings.TrimPrefix(b.e.Error(), "configuration: ") }
func (b bare) Unwrap() error { return b.e }
