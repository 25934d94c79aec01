package toolchain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/magepack/magepack/tasks/platform"
)

// cacheFile is what Ports keeps per toolchain: who it is for, so a file
// that does not match (a hash collision, a hand edit) is never trusted, and
// the ports.
type cacheFile struct {
	GOROOT    string          `json:"goroot"`
	GOVERSION string          `json:"goversion"`
	Stamp     string          `json:"stamp"` // size and modification time of GOROOT/bin/go
	Ports     []platform.Port `json:"ports"`
}

// Ports returns every port the toolchain supports, in `go tool dist list
// -json` order. The list only changes with the toolchain, so it is kept in
// <user cache>/magepack/toolchain/ (os.UserCacheDir; WithCacheDir
// changes it), in one file per toolchain keyed by GOROOT, GOVERSION and the
// size and time of GOROOT/bin/go (a toolchain rebuilt in place gets a new
// file). A missing, unreadable or corrupt cache file, or one for
// another toolchain, is ignored: the command runs and the file is written
// again (to a temporary file renamed into place, so a concurrent run never
// reads half of it). Failing to write the cache is not an error.
//
// It returns a *CommandError when the command fails, and an error when its
// output lists no ports.
func (i *Info) Ports(ctx context.Context, opts ...Option) ([]platform.Port, error) {
	o := apply(opts)
	path := ""
	if !o.noCache {
		path = i.portsCachePath(o.cacheDir)
	}
	if path != "" {
		if ports, ok := i.readPorts(path); ok {
			return ports, nil
		}
	}
	out, err := i.run(ctx, "tool", "dist", "list", "-json")
	if err != nil {
		return nil, err
	}
	var ports []platform.Port
	if err := json.Unmarshal(out, &ports); err != nil {
		return nil, &CommandError{Args: i.args("tool", "dist", "list", "-json"), Dir: i.Dir, Err: fmt.Errorf("decode its output: %w", err)}
	}
	if len(ports) == 0 {
		return nil, &CommandError{Args: i.args("tool", "dist", "list", "-json"), Dir: i.Dir, Err: errors.New("it listed no ports; check the Go installation")}
	}
	if path != "" {
		_ = i.writePorts(path, ports)
	}
	return ports, nil
}

// portsCachePath is the cache file for this toolchain under dir (default
// the user cache folder), or "" when there is no cache folder.
func (i *Info) portsCachePath(dir string) string {
	if dir == "" {
		ucd, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(ucd, "magepack")
	}
	sum := sha256.Sum256([]byte(i.GOROOT + "\x00" + i.GOVERSION + "\x00" + i.stamp()))
	return filepath.Join(dir, "toolchain", "ports-"+hex.EncodeToString(sum[:10])+".json")
}

// stamp is "<size>-<mtime ns>" of the toolchain's go command, or "" if it
// cannot be read (the key is then GOROOT and GOVERSION alone).
func (i *Info) stamp() string {
	name := "go"
	if i.GOHOSTOS == "windows" {
		name += ".exe"
	}
	fi, err := os.Stat(filepath.Join(i.GOROOT, "bin", name))
	if err != nil {
		return ""
	}
	return strconv.FormatInt(fi.Size(), 10) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
}

// readPorts returns the cached ports when the file is whole, is for this
// toolchain and lists the host's own port.
func (i *Info) readPorts(path string) ([]platform.Port, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var c cacheFile
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, false
	}
	if c.GOROOT != i.GOROOT || c.GOVERSION != i.GOVERSION || c.Stamp != i.stamp() || len(c.Ports) == 0 {
		return nil, false
	}
	for _, p := range c.Ports {
		if p.GOOS == i.GOHOSTOS && p.GOARCH == i.GOHOSTARCH {
			return c.Ports, true
		}
	}
	return nil, false
}

// writePorts writes the cache file atomically: a temporary file in the
// same folder, renamed over path.
func (i *Info) writePorts(path string, ports []platform.Port) error {
	data, err := json.Marshal(cacheFile{GOROOT: i.GOROOT, GOVERSION: i.GOVERSION, Stamp: i.stamp(), Ports: ports})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}
