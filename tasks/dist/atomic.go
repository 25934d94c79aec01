// Package dist owns magepack's output folder (dist/ by default): atomic
// file writes, the SHA256SUMS file, the artifacts.json manifest and the
// lock that keeps two magepack runs from writing the same folder at once.
//
// Every file this package writes appears whole or not at all (through
// tasks/internal/atomicfile): it is written to a temporary file in the same
// folder (named .magepack-tmp-*), synced, and renamed over the
// destination. A failed or interrupted run leaves the previous good
// contents in place.
package dist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/magepack/magepack/tasks/internal/atomicfile"
)

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
	p, err := atomicfile.New(path)
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
		if !strings.HasPrefix(e.Name(), atomicfile.TempPrefix) {
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
