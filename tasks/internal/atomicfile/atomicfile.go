// Package atomicfile writes files that appear whole or not at all: a file
// is produced under a temporary name next to its final path (named
// .magepack-tmp-*), synced, and renamed over the destination, so a failed
// or interrupted writer leaves the previous contents in place. It is the
// one implementation behind dist's files and the binaries gobuild commits.
package atomicfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// TempPrefix starts the name of every temporary file this package creates,
// so a folder's owner can find and remove what a killed run left.
const TempPrefix = ".magepack-tmp-"

// Pending is a file being produced in a temporary place next to its final
// path (Target). Whoever produces it (a writer in this process, or a `go
// build -o Path`) writes to Path; Commit then moves it to Target in one
// rename, and Discard removes it.
type Pending struct {
	// Path is the temporary file, in the same folder as Target, named
	// .magepack-tmp-<base>-<random>. It exists and is empty after New.
	Path string
	// Target is the path the file takes on Commit.
	Target string
}

// New reserves an empty temporary file next to target (the folder must
// exist). It returns an error naming the folder when it cannot create the
// file there.
func New(target string) (*Pending, error) {
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

// Sum returns the lower-case hex SHA-256 of the file at path (the digest
// SHA256SUMS and artifacts.json record a committed file under), or an
// error naming path when it cannot be read.
func Sum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
