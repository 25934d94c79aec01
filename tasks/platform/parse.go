package platform

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Default is the platform list used when the user names none: the common
// server and desktop targets.
const Default = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64"

// All is the spec that selects every first-class port.
const All = "all"

var (
	// ErrMalformed matches (errors.Is) a *MalformedError: an entry that is
	// not of the form os/arch, or an empty list.
	ErrMalformed = errors.New("malformed platform")
	// ErrUnknown matches (errors.Is) an *UnknownError: a well-formed
	// os/arch the toolchain does not support.
	ErrUnknown = errors.New("unsupported platform")
	// ErrAllMixed is returned (wrapped) when "all" is combined with
	// platform names in one list.
	ErrAllMixed = errors.New(`"all" cannot be combined with platform names`)
	// ErrNoPorts is returned (wrapped) when "all" finds no first-class
	// port in the list it is given.
	ErrNoPorts = errors.New("no first-class ports")
)

// MalformedError reports a platform entry that is not of the form os/arch,
// or a list with no entries at all.
type MalformedError struct {
	// Spec is the whole list as given.
	Spec string
	// Entry is the offending entry, trimmed; "" for an empty entry.
	Entry string
	// Index is the entry's 1-based position in the list, 0 when the whole
	// list is empty.
	Index int
	// Example is a well-formed platform to show, the user's own intent
	// when it can be guessed (linux-arm64 -> linux/arm64).
	Example string
}

// Error says what is wrong and shows the expected form.
func (e *MalformedError) Error() string {
	switch {
	case e.Index == 0:
		return fmt.Sprintf("platform list %q is empty: want comma-separated os/arch, e.g. linux/amd64,linux/arm64, or %s", e.Spec, All)
	case e.Entry == "":
		return fmt.Sprintf("platform list %q has an empty entry (#%d): want os/arch, e.g. %s", e.Spec, e.Index, e.Example)
	default:
		return fmt.Sprintf("platform %q is malformed: want os/arch, e.g. %s", e.Entry, e.Example)
	}
}

// Is makes errors.Is(err, ErrMalformed) true.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// UnknownError reports a well-formed os/arch that the Go toolchain does not
// support, with the closest supported names.
type UnknownError struct {
	// Name is the entry as written.
	Name string
	// GoVersion is the toolchain asked, e.g. "go1.26.8"; may be empty.
	GoVersion string
	// Suggestions are up to three supported platforms close to Name, best
	// first; empty when nothing is close.
	Suggestions []string
	// ValidFor is the OS whose ports Valid lists, or "" when Valid lists
	// the first-class ports (the OS itself is unknown). Only set when
	// Suggestions is empty.
	ValidFor string
	// Valid lists supported platforms to choose from when nothing is close.
	Valid []string
}

// Error names the platform, the toolchain, and what to use instead.
func (e *UnknownError) Error() string {
	by := "this Go toolchain"
	if e.GoVersion != "" {
		by = e.GoVersion
	}
	msg := fmt.Sprintf("platform %q is not supported by %s", e.Name, by)
	switch {
	case len(e.Suggestions) > 0:
		return msg + "; did you mean " + orList(e.Suggestions) + "?"
	case e.ValidFor != "" && len(e.Valid) > 0:
		return msg + "; valid for " + e.ValidFor + ": " + strings.Join(e.Valid, ", ")
	case len(e.Valid) > 0:
		return msg + "; first-class ports: " + strings.Join(e.Valid, ", ") + `; run "go tool dist list" for all`
	default:
		return msg + `; run "go tool dist list" to see the valid ones`
	}
}

// Is makes errors.Is(err, ErrUnknown) true.
func (e *UnknownError) Is(target error) bool { return target == ErrUnknown }

func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Parse turns a platform spec into the platforms to build, checked against
// ports (the toolchain's `go tool dist list -json`, as toolchain.Info.Ports
// returns it). The spec is "" (meaning Default), "all" (every first-class
// port, sorted by os/arch), or a comma-separated list of os/arch; spaces
// around entries are ignored and duplicates dropped, keeping the first.
// Variants (linux/arm/v7) are not accepted here: GOARM and friends are
// build settings, and Platform.ImageVariant derives the image variant.
// goVersion (e.g. "go1.26.8") only makes messages precise.
//
// On failure Parse reports every bad entry at once (errors.Join) as
// *MalformedError (errors.Is ErrMalformed), *UnknownError (errors.Is
// ErrUnknown, with suggestions), or a wrapped ErrAllMixed / ErrNoPorts.
func Parse(spec string, ports []Port, goVersion string) ([]Platform, error) {
	if spec == "" {
		spec = Default
	}
	known := make(map[string]Port, len(ports))
	for _, p := range ports {
		if _, dup := known[p.String()]; !dup {
			known[p.String()] = p
		}
	}

	entries := strings.Split(spec, ",")
	var (
		errs    []error
		out     []Platform
		seen    = map[string]bool{}
		hasAll  bool
		names   int
		nonZero int
	)
	for _, e := range entries {
		if strings.TrimSpace(e) != "" {
			nonZero++
		}
	}
	if nonZero == 0 {
		return nil, &MalformedError{Spec: spec, Example: "linux/amd64"}
	}
	for i, raw := range entries {
		e := strings.TrimSpace(raw)
		if e == All {
			hasAll = true
			continue
		}
		names++
		os, arch, ok := split(e)
		if !ok {
			errs = append(errs, &MalformedError{Spec: spec, Entry: e, Index: i + 1, Example: guessExample(e, known)})
			continue
		}
		if _, ok := known[e]; !ok {
			errs = append(errs, unknown(e, goVersion, ports))
			continue
		}
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, Platform{OS: os, Arch: arch})
	}
	if hasAll && names > 0 {
		errs = append([]error{fmt.Errorf("platform list %q: %w; use either %s or a list of os/arch", spec, ErrAllMixed, All)}, errs...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if hasAll {
		return allFirstClass(known, goVersion)
	}
	return out, nil
}

func allFirstClass(known map[string]Port, goVersion string) ([]Platform, error) {
	var out []Platform
	for _, p := range known {
		if p.FirstClass {
			out = append(out, p.Platform())
		}
	}
	if len(out) == 0 {
		by := "this Go toolchain"
		if goVersion != "" {
			by = goVersion
		}
		return nil, fmt.Errorf("platform list %q: %w reported by %s; name the platforms as os/arch instead", All, ErrNoPorts, by)
	}
	slices.SortFunc(out, func(a, b Platform) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// split returns os and arch when e is exactly two non-empty parts joined
// by one slash.
func split(e string) (os, arch string, ok bool) {
	os, arch, found := strings.Cut(e, "/")
	if !found || os == "" || arch == "" || strings.Contains(arch, "/") {
		return "", "", false
	}
	return os, arch, true
}

// guessExample offers the user's probable intent as the example when it is
// a supported port ("linux-arm64", "linux_arm64", "linux/arm/v7"), else
// linux/amd64.
func guessExample(e string, known map[string]Port) string {
	var tries []string
	for _, sep := range []string{"-", "_", " ", ":"} {
		if o, a, ok := strings.Cut(e, sep); ok {
			tries = append(tries, o+"/"+a)
		}
	}
	if parts := strings.Split(e, "/"); len(parts) > 2 {
		tries = append(tries, parts[0]+"/"+parts[1])
	}
	for _, t := range tries {
		if _, ok := known[strings.ToLower(t)]; ok {
			return strings.ToLower(t)
		}
	}
	return "linux/amd64"
}
