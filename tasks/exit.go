package tasks

import (
	"context"
	"errors"
	"strings"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/version"
)

// Exit codes of failed targets, one per failure class, so CI can tell them
// apart. `go tool mage` exits with them unchanged.
const (
	// ExitFailure is any failure not listed below.
	ExitFailure = 1
	// ExitConfig is a configuration mistake: a bad MAGEPACK_* value, an
	// unknown platform, no main package, a builder image older than
	// go.mod, parts that merge refuses.
	ExitConfig = 2
	// ExitBuild is a compile failure, or a failing Dockerfile step.
	ExitBuild = 3
	// ExitCheck is a linkage check failure: a dynamic binary bound for
	// scratch, or a glibc binary bound for Alpine.
	ExitCheck = 4
	// ExitNoEngine means no Docker engine answered.
	ExitNoEngine = 5
	// ExitImage is an image that could not be assembled, loaded, pulled or
	// smoke-run.
	ExitImage = 6
	// ExitPush is a failed push to a registry.
	ExitPush = 7
	// ExitInterrupted is a run stopped by Ctrl-C (SIGINT) or SIGTERM.
	ExitInterrupted = 130
)

// errorClass is one row of the error table: the errors it matches, their
// exit code, and the setting a user changes to fix them.
type errorClass struct {
	code  int
	match func(error) bool
	// hint names the setting behind such errors; it is added to the
	// message unless the message names it already.
	hint string
}

// errorClasses classifies every failure, in order: the first row that the
// error, or any error it wraps, matches gives the exit code. Concern
// packages return typed errors; this table is the one place that turns
// them into exit codes and names the MAGEPACK_* setting to change.
var errorClasses = []errorClass{
	{code: ExitInterrupted, match: is(context.Canceled)},
	{code: ExitConfig, match: as[*configError]},
	{code: ExitConfig, match: as[*gobuild.NoMainError], hint: "MAGEPACK_MAIN"},
	{code: ExitConfig, match: as[*platform.UnknownError], hint: "MAGEPACK_PLATFORMS"},
	{code: ExitConfig, match: as[*platform.MalformedError], hint: "MAGEPACK_PLATFORMS"},
	{code: ExitConfig, match: as[*version.ParseError], hint: "MAGEPACK_VERSION"},
	{code: ExitConfig, match: as[*version.NoGitError], hint: "MAGEPACK_VERSION"},
	{code: ExitConfig, match: as[*engine.BuilderTooOldError], hint: "MAGEPACK_BUILDER"},
	{code: ExitConfig, match: is(image.ErrNoCABundle), hint: "MAGEPACK_CA_BUNDLE"},
	{code: ExitNoEngine, match: is(engine.ErrNoEngine)},
	{code: ExitCheck, match: as[*checkError]},
	{code: ExitCheck, match: as[*linkage.Violation], hint: "MAGEPACK_CGO"},
	{code: ExitBuild, match: as[*gobuild.BuildError]},
	{code: ExitBuild, match: as[*engine.BuildStepError]},
	{code: ExitPush, match: as[*image.AuthError]},
	{code: ExitPush, match: as[*pushError]},
	{code: ExitImage, match: as[*engine.PullForbiddenError], hint: "MAGEPACK_PULL"},
	{code: ExitImage, match: as[*engine.SmokeError], hint: "MAGEPACK_SMOKE"},
	{code: ExitImage, match: as[*image.MissingPlatformError], hint: "MAGEPACK_ALPINE_BASE"},
	{code: ExitImage, match: as[*imageError]},
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// classify returns err's exit code and the settings to name, from the
// first class that matches it and the hints of every class any part of it
// matches (a joined error may hold several).
func classify(err error) (code int, hints []string) {
	code = ExitFailure
	found := false
	for _, c := range errorClasses {
		if !c.match(err) {
			continue
		}
		if !found {
			code, found = c.code, true
		}
		if c.hint != "" && !strings.Contains(err.Error(), c.hint) {
			hints = append(hints, c.hint)
		}
	}
	return code, hints
}

// exitCode is err's exit code (see errorClasses).
func exitCode(err error) int {
	code, _ := classify(err)
	return code
}

// exitError carries an exit code the way mage reads it: mage asks the
// returned error itself for ExitStatus, so it must sit on the outside.
type exitError struct {
	err   error
	code  int
	hints []string
}

func (e *exitError) Error() string {
	if len(e.hints) == 0 {
		return e.err.Error()
	}
	return e.err.Error() + " (" + strings.Join(e.hints, ", ") + ")"
}
func (e *exitError) Unwrap() error   { return e.err }
func (e *exitError) ExitStatus() int { return e.code }

// fail gives err its exit code and names the settings behind it. It
// returns nil for nil, and an error that has its code already unchanged.
func fail(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee == err {
			return err
		}
		return &exitError{err: err, code: ee.code}
	}
	code, hints := classify(err)
	return &exitError{err: err, code: code, hints: hints}
}

// imageError marks a failure to assemble, load, pull or smoke-run an image
// (exit code ExitImage).
type imageError struct{ err error }

func (e *imageError) Error() string { return e.err.Error() }
func (e *imageError) Unwrap() error { return e.err }

// pushError marks a failed push (exit code ExitPush).
type pushError struct{ err error }

func (e *pushError) Error() string { return e.err.Error() }
func (e *pushError) Unwrap() error { return e.err }

// checkError marks a linkage check failure (exit code ExitCheck).
type checkError struct{ err error }

func (e *checkError) Error() string { return "static check failed:\n" + e.err.Error() }
func (e *checkError) Unwrap() error { return e.err }
