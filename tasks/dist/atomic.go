// Package dist owns magepack's output folder (dist/ by default): atomic
// file writes, the SHA256SUMS file, the artifacts.json manifest and the
// lock that keeps two magepack runs from writing the same folder at once.
//
// Every file this package writes appears whole or not at all: it is written
// to a temporary file in the same folder (named .magepack-tmp-*), synced,
// and renamed over the destination. A failed or interrupted run leaves the
// previous good contents in place.
package dist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TempPrefix starts the name of every temporary file this package creates.
// CleanTemp removes files whose names start with it.
const TempPrefix = ".magepack-tmp-"

// WriteFile writes data to path atomically with permissions perm: it writes a
// temporary file in the same folder, syncs it, sets perm and renames it over
// path, then syncs the folder. On failure it removes the temporary file,
// leaves any previous file at path untouched, and returns an error naming
// path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// writeAtomic is WriteFile with the content written by write, so tests can
// fail a write halfway.
func writeAtomic(path string, perm os.FileMode, write func(*os.File) error) error {
	p, err := NewPending(path)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		_ = p.Discard()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := write(f); err != nil {
		_ = f.Close()
		_ = p.Discard()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		_ = p.Discard()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return p.Commit(perm)
}

// Pending is a file being produced in a temporary place next to its final
// path (Target). Whoever produces it (this package, or a `go build -o
// Path`) writes to Path; Commit then moves it to Target in one rename, and
// Discard removes it.
type Pending struct {
	// Path is the temporary file, in the same folder as Target, named
	// .magepack-tmp-<base>-<random>. It exists and is empty after NewPending.
	Path string
	// Target is the path the file takes on Commit.
	Target string
}

// NewPending reserves an empty temporary file next to target (the folder
// must exist). It returns an error naming the folder when it cannot create
// the file there.
func NewPending(target string) (*Pending, error) {
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPrefix+base+"-*")
	if err != nil {
		return nil, fmt.Errorf("create a temporary file for %s in %q: %w", target, dir, err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("create a temporary file for %s: %w", target, err)
	}
	return &Pending{Path: f.Name(), Target: target}, nil
}

// Commit syncs the temporary file, sets its permissions to perm and renames
// it to Target, then syncs the folder so the rename survives a crash. On
// failure it removes the temporary file, leaves Target as it was, and returns
// an error naming Target.
func (p *Pending) Commit(perm os.FileMode) error {
	if err := p.commit(perm); err != nil {
		_ = p.Discard()
		return fmt.Errorf("write %s: %w", p.Target, err)
	}
	return nil
}

func (p *Pending) commit(perm os.FileMode) error {
	f, err := os.OpenFile(p.Path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// Chmod, not the create mode: the umask must not change what we ship.
	if err := os.Chmod(p.Path, perm); err != nil {
		return err
	}
	if err := os.Rename(p.Path, p.Target); err != nil {
		return err
	}
	syncDir(filepath.Dir(p.Target))
	return nil
}

// Discard removes the temporary file. It is safe to call more than once and
// after Commit; it returns an error only when the file exists and cannot be
// removed.
func (p *Pending) Discard() error {
	if err := os.Remove(p.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove temporary file %s: %w", p.Path, err)
	}
	return nil
}

// syncDir makes a rename in dir durable. Not every platform or file system
// can sync a folder, and the rename has already happened, so failures are
// ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// CleanTemp removes the temporary files (.magepack-tmp-*) that an
// interrupted run left in dir and returns their paths. Call it while holding
// the folder's Lock, so it cannot remove the files of a run in progress. A
// missing dir is not an error; a file that cannot be removed is.
func CleanTemp(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clean temporary files in %q: %w", dir, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), TempPrefix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("clean temporary files in %q: %w", dir, err)
	}
	return removed, nil
}
