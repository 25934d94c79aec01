package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/cgo"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/merge"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/rebuild"
	"github.com/magepack/magepack/tasks/toolchain"
	"github.com/magepack/magepack/tasks/verify"
	"github.com/magepack/magepack/tasks/version"
	"github.com/magepack/magepack/tasks/vulncheck"
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
	// smoke-run, or that rebase refuses (not on the base it records, a
	// scratch image, a new base without its platform).
	ExitImage = 6
	// ExitPush is a failed push to a registry.
	ExitPush = 7
	// ExitMerge is a merge that refused its parts: a file that does not
	// match its checksum, parts of different commits, versions, toolchains,
	// configurations or checkout states, a job built twice with different
	// bytes, a job no part holds. Rebuild the shards; no setting fixes it.
	ExitMerge = 8
	// ExitVerify is a verification that failed: a signature, provenance,
	// subject, SBOM or commit check of an image or binary (verify), or a
	// rebuild that differs from what was published (rebuild).
	ExitVerify = 9
	// ExitVulnerable is vulnerable code a built binary reaches: a
	// vulnerability whose vulnerable symbol is in it, not waived.
	ExitVulnerable = 10
	// ExitInterrupted is a run stopped by Ctrl-C (SIGINT) or SIGTERM.
	ExitInterrupted = 130
)

// errorClass is one row of the error table: the errors it matches, their
// exit code, and the setting a user changes to fix them.
type errorClass struct {
	code  int
	match func(error) bool
	// hint names the setting behind such errors: "(MAGEPACK_PULL)" is
	// added to the message unless the message names it already.
	hint string
	// fix, when set, says in words which setting to change and how, for
	// the error the row matched; it is added to the message.
	fix func(error) string
}

// errorClasses classifies every failure, in order: the first row that the
// error, or any error it wraps, matches gives the exit code; an error no
// row matches takes the code of the step family it failed in (see
// family), else ExitFailure. Concern packages return typed errors; this
// table is the one place that turns them into exit codes and names the
// MAGEPACK_* setting to change.
var errorClasses = []errorClass{
	{code: ExitInterrupted, match: is(context.Canceled)},
	{code: ExitConfig, match: as[*plan.Error]},
	{code: ExitConfig, match: is(toolchain.ErrNoModule)},
	{code: ExitConfig, match: as[*toolchain.ModFileError]},
	{code: ExitConfig, match: as[*gobuild.NoMainError], fix: mainFix},
	{code: ExitConfig, match: as[*engine.SmokeOptionsError], fix: smokeOptionsFix},
	{code: ExitConfig, match: as[*engine.BuildKitError], fix: func(error) string {
		return "or leave MAGEPACK_DOCKERFILE unset, so magepack assembles the image itself"
	}},
	{code: ExitConfig, match: as[*gobuild.ConfigError], fix: planFix},
	{code: ExitConfig, match: as[*cgo.CompilerError], fix: ccFix},
	{code: ExitConfig, match: as[*cgo.UnreachableError], fix: func(error) string {
		return "set MAGEPACK_PLATFORMS to the Linux platforms (e.g. linux/amd64,linux/arm64), or MAGEPACK_CGO=0"
	}},
	{code: ExitConfig, match: as[*dist.DirError], hint: "MAGEPACK_DIST"},
	{code: ExitConfig, match: as[*engine.PullPolicyError], hint: "MAGEPACK_PULL"},
	{code: ExitConfig, match: as[*platform.UnknownError], hint: "MAGEPACK_PLATFORMS"},
	{code: ExitConfig, match: as[*platform.MalformedError], hint: "MAGEPACK_PLATFORMS"},
	{code: ExitConfig, match: as[*version.ParseError], hint: "MAGEPACK_VERSION"},
	{code: ExitConfig, match: as[*version.NoGitError], fix: func(error) string { return "or set MAGEPACK_VERSION" }},
	{code: ExitConfig, match: as[*dockerfile.BuilderTooOldError], fix: builderFix},
	{code: ExitConfig, match: is(image.ErrNoCABundle), hint: "MAGEPACK_CA_BUNDLE"},
	{code: ExitConfig, match: as[*merge.NoMatchError], hint: "MAGEPACK_MERGE"},
	{code: ExitConfig, match: as[*attest.KeyError], fix: keyFix},
	{code: ExitConfig, match: is(merge.ErrDestIsPart), fix: func(error) string { return "set MAGEPACK_DIST apart from the parts" }},
	{code: ExitConfig, match: as[*vulncheck.DBError], hint: "MAGEPACK_VULNDB"},
	{code: ExitConfig, match: as[*rebuild.CommitError]},
	{code: ExitNoEngine, match: is(engine.ErrNoEngine)},
	{code: ExitMerge, match: is(merge.ErrRefused)},
	{code: ExitVerify, match: as[*verify.Failure]},
	{code: ExitVerify, match: as[*rebuild.MismatchError]},
	{code: ExitMerge, match: as[*dist.ChecksumError]},
	{code: ExitVulnerable, match: as[*vulnError]},
	{code: ExitCheck, match: as[*linkage.Violation], fix: violationFix},
	{code: ExitBuild, match: as[*cgo.DroppedError], fix: func(error) string { return cgoFix }},
	{code: ExitBuild, match: as[*gobuild.BuildError]},
	{code: ExitBuild, match: as[*engine.BuildStepError]},
	{code: ExitPush, match: as[*image.AuthError]},
	{code: ExitImage, match: as[*engine.PullForbiddenError], fix: func(error) string { return "set MAGEPACK_PULL=missing" }},
	{code: ExitImage, match: as[*engine.PullError], hint: "MAGEPACK_PULL"},
	{code: ExitImage, match: as[*engine.SmokeError], fix: smokeFix},
	{code: ExitImage, match: as[*engine.PortInUseError], hint: "MAGEPACK_PORT"},
	{code: ExitImage, match: as[*image.MissingPlatformError], hint: "MAGEPACK_ALPINE_BASE"},
	{code: ExitImage, match: as[*image.NoBaseError]},
	{code: ExitImage, match: as[*image.BaseMismatchError]},
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// mainFix names the main-package setting for what gobuild could not
// resolve.
func mainFix(err error) string {
	var e *gobuild.NoMainError
	errors.As(err, &e)
	switch {
	case e.Pattern != "":
		return "set MAGEPACK_MAIN to a pattern that matches main packages, e.g. ./cmd/..."
	case e.Main != "":
		return "set MAGEPACK_MAIN to main packages' paths relative to the module root"
	case len(e.Candidates) > 1:
		return fmt.Sprintf("set MAGEPACK_MAIN=%s to build them all, or e.g. MAGEPACK_MAIN=%s for one", e.Suggestion, e.Candidates[0])
	case len(e.Candidates) == 1:
		return "set MAGEPACK_MAIN=" + e.Candidates[0]
	default:
		return "set MAGEPACK_MAIN to the main package's path relative to the module root"
	}
}

// planFix names the setting behind a Config that gobuild cannot build.
func planFix(err error) string {
	var e *gobuild.ConfigError
	errors.As(err, &e)
	switch e.Field {
	case "Name":
		return "(MAGEPACK_NAME)"
	case "Targets":
		return "(MAGEPACK_PLATFORMS)"
	case "CGO":
		return "or set MAGEPACK_CGO=0"
	case "LdflagsExtra":
		return "(MAGEPACK_LDFLAGS)"
	}
	return ""
}

// ccFix says how to name a C compiler for the first platform without one.
func ccFix(err error) string {
	var e *cgo.CompilerError
	errors.As(err, &e)
	return fmt.Sprintf("(MAGEPACK_CC=%s=<compiler>)", e.Target)
}

// violationFix names the cgo setting behind linkage violations: static
// cgo for a dynamic cgo binary bound for scratch.
func violationFix(err error) string {
	var e *linkage.Violation
	errors.As(err, &e)
	if e.Target == linkage.TargetScratch && e.CGO {
		return "set MAGEPACK_CGO=static"
	}
	return "(MAGEPACK_CGO)"
}

// builderFix names the builder setting, unless the Dockerfile names the
// builder on a FROM line of its own, which no setting changes.
func builderFix(err error) string {
	var e *dockerfile.BuilderTooOldError
	if errors.As(err, &e) && e.Line > 0 {
		return "update that FROM line"
	}
	return "(MAGEPACK_BUILDER)"
}

// smokeOptionsFix names the setting behind bad smoke options.
func smokeOptionsFix(err error) string {
	var e *engine.SmokeOptionsError
	errors.As(err, &e)
	switch e.Field {
	case "Port":
		return "set MAGEPACK_PORT"
	case "Env":
		return "set MAGEPACK_ENV"
	}
	return "set MAGEPACK_SMOKE"
}

// smokeFix names the smoke setting when an image looks like a
// command-line tool, and the arguments and environment settings when the
// container died with an error; the message ends with the container's
// logs, so the fix gets a line of its own.
func smokeFix(err error) string {
	var e *engine.SmokeError
	switch {
	case !errors.As(err, &e):
	case e.CommandLine:
		return "\nset MAGEPACK_SMOKE=run:--version (arguments the tool accepts) or MAGEPACK_SMOKE=off (or Settings.Services[name].Smoke for this service alone)"
	case e.ExitCode > 0:
		return smokeArgsFix(err)
	}
	return ""
}

// classify returns err's exit code and the fixes to add, from the first
// class that matches it (or, when none does, the family of the step it
// failed in) and the hints of every class any part of it matches (a
// joined error may hold several).
func classify(err error) (code int, fixes []string) {
	code = ExitFailure
	if step, ok := failedStep(err); ok {
		code = step.code
	}
	found := false
	msg := err.Error()
	for _, c := range errorClasses {
		if !c.match(err) {
			continue
		}
		if !found {
			code, found = c.code, true
		}
		switch {
		case c.fix != nil:
			if f := c.fix(err); f != "" && !strings.Contains(msg, strings.TrimSpace(f)) {
				fixes = append(fixes, f)
			}
		case c.hint != "" && !strings.Contains(msg, c.hint):
			fixes = append(fixes, "("+c.hint+")")
		}
	}
	return code, fixes
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
	fixes []string // "(MAGEPACK_X)", "set MAGEPACK_X=…", or "\n…" for a line of its own
}

func (e *exitError) Error() string {
	msg := e.err.Error()
	for _, f := range e.fixes {
		switch {
		case strings.HasPrefix(f, "\n"), strings.HasPrefix(f, "("):
			if !strings.HasPrefix(f, "\n") {
				msg += " "
			}
			msg += f
		default:
			msg += "; " + f
		}
	}
	return msg
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
	code, fixes := classify(err)
	return &exitError{err: err, code: code, fixes: fixes}
}

// family is a kind of step the targets run: checking binaries, making
// images, pushing them. A failure inside one of its steps exits with the
// family's code, unless a row of errorClasses claims the error (or one it
// wraps) first: a Ctrl-C in a push is still 130, a bad setting met while
// making an image still 2.
type family struct {
	name string
	code int
}

// The step families, each with the exit code of its failures.
var (
	// checking is the static check of built binaries.
	checking = family{name: "check", code: ExitCheck}
	// imaging is making an image: assembling it, reading or pulling its
	// base, loading it into the engine, smoke-running and measuring it,
	// building it from a Dockerfile, and its SBOM, VEX and signatures.
	imaging = family{name: "image", code: ExitImage}
	// pushing is sending images and their referrers to a registry.
	pushing = family{name: "push", code: ExitPush}
)

// claim makes the error *err points to, if any, a failure of one of f's
// steps. A step function declares its family once, first thing:
//
//	defer imaging.claim(&err)
func (f family) claim(err *error) {
	if *err != nil {
		*err = &stepError{family: f, err: *err}
	}
}

// stepError is a failure inside a step of family; its message is the
// error's own.
type stepError struct {
	family family
	err    error
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// failedStep returns the family of the innermost step err failed in: the
// step that failed, when one step runs another. A joined error answers for
// its first part that failed in a step.
func failedStep(err error) (family, bool) {
	switch e := err.(type) {
	case interface{ Unwrap() error }:
		if f, ok := failedStep(e.Unwrap()); ok {
			return f, true
		}
	case interface{ Unwrap() []error }:
		for _, part := range e.Unwrap() {
			if f, ok := failedStep(part); ok {
				return f, true
			}
		}
	}
	if s, ok := err.(*stepError); ok {
		return s.family, true
	}
	return family{}, false
}
