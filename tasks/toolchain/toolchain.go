// Package toolchain asks the Go toolchain, once per run, everything magepack
// needs from it: where the module is, which Go it is, the host platform, the
// C compiler, GOFLAGS, the build cache. One `go env -json` answers all of
// it (Probe); the module path is read from go.mod directly (ModulePath), and
// the list of ports (`go tool dist list -json`) is cached per toolchain in
// the user's cache folder (Info.Ports), so a run starts one go command
// instead of five or six.
package toolchain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Vars are the variables Probe asks `go env -json` for; each is a field of
// Env. Naming them keeps go env from computing the ones magepack does not
// use (GOGCCFLAGS runs the C compiler), which makes the call ~25% faster.
var Vars = []string{
	"GOMOD", "GOWORK", "GOVERSION", "GOROOT", "GOTOOLDIR", "GOTOOLCHAIN",
	"GOOS", "GOARCH", "GOHOSTOS", "GOHOSTARCH", "GOEXE",
	"CGO_ENABLED", "CC", "CXX", "GOFLAGS",
	"GOCACHE", "GOCACHEPROG", "GOMODCACHE", "GOPATH", "GOPROXY",
}

// Env is what `go env` reports, by variable name: the environment's value
// when it sets one, else go's env file's (go env -w), else go's default.
type Env struct {
	// GOMOD is the go.mod of the module the folder belongs to; "" or
	// os.DevNull outside a module.
	GOMOD string
	// GOWORK is the go.work in use, or "".
	GOWORK string
	// GOVERSION is the toolchain's version, e.g. "go1.26.8" (after any
	// GOTOOLCHAIN switch go.mod asks for).
	GOVERSION string
	// GOROOT and GOTOOLDIR locate that toolchain.
	GOROOT    string
	GOTOOLDIR string
	// GOTOOLCHAIN is the toolchain selection rule, e.g. "auto" or "local".
	GOTOOLCHAIN string
	// GOOS and GOARCH are the target platform go builds for by default
	// (the environment's GOOS/GOARCH if set); GOHOSTOS and GOHOSTARCH are
	// the machine's own.
	GOOS, GOARCH         string
	GOHOSTOS, GOHOSTARCH string
	// GOEXE is the executable suffix of GOOS (".exe" on windows).
	GOEXE string
	// CGO_ENABLED is "1" or "0", as a build would use it.
	CGO_ENABLED string
	// CC and CXX are the C and C++ compilers cgo would run.
	CC, CXX string
	// GOFLAGS are the flags every go command applies before its own
	// command line (the environment's, else the env file's).
	GOFLAGS string
	// GOCACHE is the build cache folder ("off" when disabled); GOCACHEPROG
	// the remote cache program, if any.
	GOCACHE, GOCACHEPROG string
	// GOMODCACHE, GOPATH and GOPROXY locate modules.
	GOMODCACHE, GOPATH, GOPROXY string
}

// Info is one probe of the toolchain from one folder.
type Info struct {
	Env
	// Go is the go command that was asked ("go" from PATH by default).
	Go string
	// Dir is the folder go env ran in, absolute.
	Dir string
	// env is the environment the go commands run with; nil inherits the
	// process environment.
	env []string
}

// options are Probe's and Ports' settings.
type options struct {
	goBin    string
	env      []string
	cacheDir string
	noCache  bool
}

// Option changes how Probe or Ports work.
type Option func(*options)

// WithGo runs bin instead of "go" from PATH.
func WithGo(bin string) Option { return func(o *options) { o.goBin = bin } }

// WithEnv runs the go commands with env instead of the process environment
// (e.g. the environment a build will get, so GOFLAGS and GOTOOLCHAIN agree).
func WithEnv(env []string) Option { return func(o *options) { o.env = env } }

// WithCacheDir keeps Ports' cache in dir instead of <user cache>/magepack.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithoutCache makes Ports run `go tool dist list -json` and neither read
// nor write the cache.
func WithoutCache() Option { return func(o *options) { o.noCache = true } }

func apply(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.goBin == "" {
		o.goBin = "go"
	}
	return o
}

// Probe runs `go env -json` with Vars in dir ("" is the current folder) and
// returns what it printed. Running in dir matters: go.mod there decides the
// module and, with GOTOOLCHAIN=auto, which toolchain answers. It returns a
// *CommandError when go cannot be run or fails (e.g. a broken go.mod),
// naming the command, its output and the fix.
func Probe(ctx context.Context, dir string, opts ...Option) (*Info, error) {
	o := apply(opts)
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("probe the Go toolchain in %q: %w", dir, err)
	}
	info := &Info{Go: o.goBin, Dir: abs, env: o.env}
	out, err := info.run(ctx, append([]string{"env", "-json"}, Vars...)...)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(out, &info.Env); err != nil {
		return nil, &CommandError{Args: info.args("env", "-json"), Dir: abs, Err: fmt.Errorf("decode its output: %w", err)}
	}
	if info.GOVERSION == "" || info.GOROOT == "" {
		return nil, &CommandError{Args: info.args("env", "-json"), Dir: abs, Err: errors.New("it reported no GOVERSION or GOROOT; check the Go installation")}
	}
	return info, nil
}

// InModule reports whether the probed folder belongs to a module.
func (i *Info) InModule() bool { return i.GOMOD != "" && i.GOMOD != os.DevNull }

// ModuleRoot returns the folder of the module's go.mod, or a *NoModuleError
// (errors.Is ErrNoModule) when the folder is in no module.
func (i *Info) ModuleRoot() (string, error) {
	if !i.InModule() {
		return "", &NoModuleError{Dir: i.Dir}
	}
	return filepath.Dir(i.GOMOD), nil
}

// ModulePath reads the module path from the module's go.mod (see
// ModulePath). It returns a *NoModuleError outside a module, and a
// *ModFileError when go.mod cannot be read or has no module line.
func (i *Info) ModulePath() (string, error) {
	if !i.InModule() {
		return "", &NoModuleError{Dir: i.Dir}
	}
	data, err := os.ReadFile(i.GOMOD)
	if err != nil {
		return "", &ModFileError{Path: i.GOMOD, Err: err}
	}
	p, err := ModulePath(data)
	if err != nil {
		return "", &ModFileError{Path: i.GOMOD, Err: err}
	}
	return p, nil
}

// CgoEnabled reports whether builds use cgo by default (CGO_ENABLED=1).
func (i *Info) CgoEnabled() bool { return i.CGO_ENABLED == "1" }

// args is the go command line, for messages.
func (i *Info) args(args ...string) []string { return append([]string{i.Go}, args...) }

// run executes the go command in i.Dir with i's environment and returns
// its stdout, or a *CommandError carrying its stderr.
func (i *Info) run(ctx context.Context, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, i.Go, args...)
	cmd.Dir = i.Dir
	cmd.Env = i.env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &CommandError{Args: i.args(args...), Dir: i.Dir, Stderr: strings.TrimSpace(stderr.String()), Err: err}
	}
	return stdout.Bytes(), nil
}

// ErrNoModule is what a *NoModuleError matches with errors.Is.
var ErrNoModule = errors.New("not in a Go module")

// NoModuleError says that Dir and the folders above it hold no go.mod.
type NoModuleError struct {
	Dir string
}

// Error says where no go.mod was found and how to make one.
func (e *NoModuleError) Error() string {
	return fmt.Sprintf("no go.mod in %q or any folder above it: run magepack inside a Go module (create one with go mod init)", e.Dir)
}

// Is reports whether target is ErrNoModule.
func (e *NoModuleError) Is(target error) bool { return target == ErrNoModule }

// ModFileError says that go.mod at Path cannot be read or names no module.
type ModFileError struct {
	Path string
	Err  error
}

// Error names the file and the problem.
func (e *ModFileError) Error() string {
	if errors.Is(e.Err, errNoModuleLine) {
		return fmt.Sprintf("%s has no module line: add one (module example.com/app)", e.Path)
	}
	return fmt.Sprintf("read the module path from %s: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *ModFileError) Unwrap() error { return e.Err }

// CommandError is a go command that could not run or failed: its argv,
// folder, what it printed on stderr and the cause.
type CommandError struct {
	Args   []string
	Dir    string
	Stderr string
	Err    error
}

// Error names the command and includes its stderr, plus the fix when go is
// missing.
func (e *CommandError) Error() string {
	line := strings.Join(e.Args, " ")
	switch {
	case errors.Is(e.Err, exec.ErrNotFound) || errors.Is(e.Err, fs.ErrNotExist):
		return fmt.Sprintf("%s: %v; install Go or put it on PATH", line, e.Err)
	case e.Stderr != "":
		return fmt.Sprintf("%s (in %s): %v: %s", line, e.Dir, e.Err, e.Stderr)
	default:
		return fmt.Sprintf("%s (in %s): %v", line, e.Dir, e.Err)
	}
}

// Unwrap returns the cause.
func (e *CommandError) Unwrap() error { return e.Err }
