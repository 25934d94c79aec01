package dist

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// LockFile is the name of the lock file Lock keeps in the dist folder.
const LockFile = ".magepack.lock"

// ErrBusy is what a BusyError matches with errors.Is: another magepack run
// holds the dist folder's lock.
var ErrBusy = errors.New("dist folder is in use by another magepack run")

// BusyError reports that another run holds the lock on Dir. Err is the
// context's error when Lock gave up because ctx ended, else nil.
type BusyError struct {
	Dir      string
	LockPath string
	Err      error
}

// Error names the folder and its lock file and says what to do.
func (e *BusyError) Error() string {
	return fmt.Sprintf("dist %q is in use by another magepack run (lock %s); wait for it to finish", e.Dir, e.LockPath)
}

// Is reports whether target is ErrBusy.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Unwrap returns the context error that ended the wait, if any.
func (e *BusyError) Unwrap() error { return e.Err }

// LockOption changes how Lock behaves.
type LockOption func(*lockOptions)

type lockOptions struct {
	wait time.Duration
	poll time.Duration
}

// WithWait makes Lock wait up to d for a lock another run holds (or until
// ctx ends, whichever is first) instead of failing at once. Lock prints
// nothing while it waits.
func WithWait(d time.Duration) LockOption {
	return func(o *lockOptions) { o.wait = d }
}

// Lock takes an exclusive advisory lock on the dist folder dir, creating
// the folder if it is missing, and returns the function that releases it
// (safe to call more than once). By default a lock another run holds fails
// at once with a *BusyError (errors.Is ErrBusy); WithWait waits for it.
// Within one process Lock waits for the holder (parallel work of one run
// takes turns) for as long as ctx allows, and returns ctx's error when it
// ends.
// Lock also fails, naming the folder and the fix, when dir is a file or is
// not writable.
//
// The lock is flock(2) on dir/.magepack.lock, so the kernel releases it when
// the holding process dies; the file itself stays. On platforms without
// flock the lock is a no-op that only creates the folder.
func Lock(ctx context.Context, dir string, opts ...LockOption) (unlock func() error, err error) {
	o := lockOptions{poll: 50 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	leave, err := enter(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			leave()
		}
	}()
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		// A folder that exists but refuses a new file is not writable,
		// whatever the errno (EACCES, EROFS, or ENOENT on /proc).
		return nil, &DirError{Dir: dir, Reason: fmt.Sprintf("is not writable (%v): fix its permissions or choose another folder", err)}
	}
	var deadline <-chan time.Time
	if o.wait > 0 {
		t := time.NewTimer(o.wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock dist %q (lock %s): %w", dir, path, err)
		}
		if ok {
			break
		}
		busy := &BusyError{Dir: dir, LockPath: path}
		if deadline == nil {
			_ = f.Close()
			return nil, busy
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			busy.Err = ctx.Err()
			return nil, busy
		case <-deadline:
			_ = f.Close()
			return nil, busy
		case <-time.After(o.poll):
		}
	}
	var once sync.Once
	var uerr error
	return func() error {
		once.Do(func() {
			defer leave()
			// Closing the file releases the flock; unlock first anyway so
			// the release does not depend on other descriptors of the file.
			uerr = errors.Join(unlockFile(f), f.Close())
			if uerr != nil {
				uerr = fmt.Errorf("unlock dist %q: %w", dir, uerr)
			}
		})
		return uerr
	}, nil
}

// inProcess orders the holders of each dist folder's lock within this
// process. flock(2) locks belong to open file descriptions, so without it
// two Locks of one folder in one process (parallel targets of one run)
// would each take the other for another magepack run; with it, Lock is
// the one owner of a dist folder, in this process and between processes.
var inProcess = struct {
	mu    sync.Mutex
	slots map[string]chan struct{}
}{slots: map[string]chan struct{}{}}

// enter takes dir's slot in this process, waiting for the goroutine that
// holds it for as long as ctx allows, and returns the function that
// gives it back.
func enter(ctx context.Context, dir string) (leave func(), err error) {
	key, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lock dist %q: %w", dir, err)
	}
	inProcess.mu.Lock()
	slot, ok := inProcess.slots[key]
	if !ok {
		slot = make(chan struct{}, 1)
		inProcess.slots[key] = slot
	}
	inProcess.mu.Unlock()
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for dist %q, which this run is writing: %w", dir, ctx.Err())
	}
}

// DirError says why dir cannot hold the outputs, and what to do.
type DirError struct {
	Dir    string
	Reason string // what is wrong with Dir and the fix, e.g. "is a file, not a folder: remove it …"
}

// Error names the folder and the reason.
func (e *DirError) Error() string { return fmt.Sprintf("dist %q %s", e.Dir, e.Reason) }

// ensureDir makes dir a folder, or explains why it cannot be one.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return &DirError{Dir: dir, Reason: "is a file, not a folder: remove it or choose another folder"}
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOTDIR):
		return &DirError{Dir: dir, Reason: fmt.Sprintf("cannot be created: a parent of it is a file (%v); remove it or choose another folder", err)}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("dist %q: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return &DirError{Dir: dir, Reason: fmt.Sprintf("cannot be created: a parent of it is a file (%v); remove it or choose another folder", err)}
		}
		return &DirError{Dir: dir, Reason: fmt.Sprintf("cannot be created (%v): choose a folder you can write to", err)}
	}
	return nil
}
