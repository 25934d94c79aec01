package tasks

import (
	"context"
	"errors"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
)

// Exit codes of failed targets, one per failure class, so CI can tell them
// apart. `go tool mage` exits with them unchanged.
const (
	// ExitFailure is any failure not listed below.
	ExitFailure = 1
	// ExitConfig is a configuration mistake: a bad MAGEPACK_* value, an
	// unknown platform, no main package.
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
	// ExitInterrupted is a run stopped by Ctrl-C (SIGINT).
	ExitInterrupted = 130
)

// exitError carries an exit code the way mage reads it: mage asks the
// returned error itself for ExitStatus, so it must sit on the outside.
type exitError struct {
	err  error
	code int
}

func (e *exitError) Error() string   { return e.err.Error() }
func (e *exitError) Unwrap() error   { return e.err }
func (e *exitError) ExitStatus() int { return e.code }

// fail gives err the exit code of its class. It returns nil for nil.
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
	return &exitError{err: err, code: exitCode(err)}
}

func exitCode(err error) int {
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	var (
		ce   *configError
		chk  *checkError
		viol *linkage.Violation
		be   *gobuild.BuildError
		step *engine.BuildStepError
		old  *engine.BuilderTooOldError
		ie   *imageError
		pe   *pushError
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &old):
		return ExitConfig
	case errors.Is(err, engine.ErrNoEngine):
		return ExitNoEngine
	case errors.As(err, &chk), errors.As(err, &viol):
		return ExitCheck
	case errors.As(err, &be), errors.As(err, &step):
		return ExitBuild
	case errors.As(err, &pe):
		return ExitPush
	case errors.As(err, &ie):
		return ExitImage
	}
	return ExitFailure
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
