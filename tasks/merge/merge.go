// Package merge puts the dist folders of a sharded build (one per CI
// machine, each holding its shard's binaries) back together into one dist
// folder, as one machine building everything would have written it.
//
// It works in steps, so each can be checked alone: Expand turns the parts
// list into folders, Read verifies each part on its own (its SHA256SUMS
// against its files, its build record against its binaries), Decide checks
// the parts against each other and plans the result without writing
// anything, and Write writes the planned folder. Merge does all of it.
// Nothing is written when any check fails.
package merge

import (
	"context"

	"github.com/magepack/magepack/tasks/dist"
)

// Option changes what Merge checks and how it takes the merged folder.
type Option func(*options)

type options struct {
	want    *dist.Build
	lock    func(context.Context) (func() error, error)
	decided func(Plan)
}

// Fitting makes Merge refuse parts that do not fit want, the build this
// checkout makes (see CheckFits), before anything is written.
func Fitting(want dist.Build) Option { return func(o *options) { o.want = &want } }

// LockedBy makes Merge take the merged folder with lock instead of
// dist.Lock (which fails at once when another run holds it) followed by
// dist.CleanTemp; lock returns the function that releases it.
func LockedBy(lock func(context.Context) (func() error, error)) Option {
	return func(o *options) { o.lock = lock }
}

// OnPlan calls fn with the plan once every check has passed, before the
// merged folder is locked and written (to say what is merged from where).
func OnPlan(fn func(Plan)) Option { return func(o *options) { o.decided = fn } }

// Merge reads and verifies the part folders dirs, checks them against each
// other (and against the build of Fitting, when given) and writes the
// merged folder dest under its lock, recording binary paths as pathPrefix
// + "/" + name. It returns the plan it wrote, or the first step's error:
// a *RefusedError (errors.Is ErrRefused) when the parts do not make one
// verified build, a *CheckoutError when they are another build's, with
// nothing written to dest. See Read, Decide and Write.
func Merge(ctx context.Context, dirs []string, dest, pathPrefix string, opts ...Option) (Plan, error) {
	o := options{lock: func(ctx context.Context) (func() error, error) {
		unlock, err := dist.Lock(ctx, dest)
		if err != nil {
			return nil, err
		}
		if _, err := dist.CleanTemp(dest); err != nil {
			_ = unlock()
			return nil, err
		}
		return unlock, nil
	}}
	for _, opt := range opts {
		opt(&o)
	}
	plan, err := Decide(Read(dirs))
	if err != nil {
		return Plan{}, err
	}
	if o.want != nil {
		if err := CheckFits(plan, *o.want); err != nil {
			return Plan{}, err
		}
	}
	if err := checkDest(plan, dest); err != nil {
		return Plan{}, err
	}
	if o.decided != nil {
		o.decided(plan)
	}
	unlock, err := o.lock(ctx)
	if err != nil {
		return Plan{}, err
	}
	defer func() { _ = unlock() }()
	if err := Write(ctx, plan, dest, pathPrefix); err != nil {
		return Plan{}, err
	}
	return plan, nil
}
