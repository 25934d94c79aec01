package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/magepack/magepack/tasks/internal/dockerhost"
)

// pingTimeout bounds how long Connect waits for an engine to answer.
const pingTimeout = 5 * time.Second

// ErrNoEngine is matched (errors.Is) by every error Connect returns when no
// engine answers where it looked.
var ErrNoEngine = errors.New("no Docker engine")

// NoEngineError says where Connect looked for an engine and why nothing
// answered there.
type NoEngineError struct {
	// Source is how the address was chosen: "DOCKER_HOST", `context "colima"`
	// or "default socket".
	Source string
	// Address is the engine address tried; empty when none could be determined.
	Address string
	// Err is the cause, e.g. a refused connection.
	Err error
}

// Error returns one line: the address, how it was chosen, the cause and the fix.
func (e *NoEngineError) Error() string {
	where := "at " + e.Address
	if e.Address == "" {
		where = "for"
	}
	return fmt.Sprintf("no Docker engine %s (%s): %s; %s", where, e.Source, reason(e.Err), fix(e.Err))
}

// Unwrap returns the cause.
func (e *NoEngineError) Unwrap() error { return e.Err }

// Is reports ErrNoEngine as matching.
func (e *NoEngineError) Is(target error) bool { return target == ErrNoEngine }

// Connect finds the Docker engine the way the docker CLI does (DOCKER_HOST
// with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, else DOCKER_CONTEXT or the
// config's currentContext, else the default socket), negotiates the API
// version and pings it. When nothing answers it returns a *NoEngineError
// (errors.Is(err, ErrNoEngine)) naming the address and how it was chosen.
func Connect(ctx context.Context) (*Engine, error) {
	ep, err := dockerhost.Resolve(os.Getenv)
	if err != nil {
		return nil, &NoEngineError{Source: ep.Source, Address: ep.Host, Err: err}
	}
	opts, err := ep.ClientOptions()
	if err != nil {
		return nil, &NoEngineError{Source: ep.Source, Address: ep.Host, Err: err}
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, &NoEngineError{Source: ep.Source, Address: ep.Host, Err: fmt.Errorf("%w: %w", errBadAddress, err)}
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, &NoEngineError{Source: ep.Source, Address: ep.Host, Err: diagnose(ctx, ep.Host, err)}
	}
	return New(cli, ep.Host+" ("+ep.Source+")"), nil
}

// diagnose replaces the client's generic "Cannot connect" with what dialing
// the address says (connection refused, no such file, permission denied),
// which tells the user what to fix.
func diagnose(ctx context.Context, host string, pingErr error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	proto, addr, ok := strings.Cut(host, "://")
	if !ok {
		return pingErr
	}
	switch proto {
	case "unix", "tcp":
	default:
		if !client.IsErrConnectionFailed(pingErr) {
			return pingErr
		}
		return fmt.Errorf("%w %s:// (the Engine API client speaks unix:// and tcp://)", errUnsupportedScheme, proto)
	}
	if proto == "tcp" {
		addr, _, _ = strings.Cut(addr, "/")
	}
	d := net.Dialer{Timeout: 2 * time.Second}
	conn, err := d.DialContext(ctx, proto, addr)
	if err != nil {
		return err
	}
	_ = conn.Close()
	if errors.Is(pingErr, context.DeadlineExceeded) || client.IsErrConnectionFailed(pingErr) {
		return fmt.Errorf("it accepts connections but gave no Engine API answer within %s", pingTimeout)
	}
	return pingErr
}

// reason shortens a dial error to its cause ("connection refused").
func reason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Error()
	}
	return err.Error()
}

var (
	errBadAddress        = errors.New("unusable engine address")
	errUnsupportedScheme = errors.New("unsupported scheme")
)

// fix says what to do about err.
func fix(err error) string {
	switch {
	case errors.Is(err, syscall.EACCES):
		return "check the socket's permissions (e.g. add your user to the docker group), or set DOCKER_HOST / docker context use"
	case errors.Is(err, errUnsupportedScheme):
		return "forward the engine to a local socket (ssh -NL /tmp/docker.sock:/var/run/docker.sock HOST) and set DOCKER_HOST=unix:///tmp/docker.sock"
	case errors.Is(err, errBadAddress):
		return "set DOCKER_HOST (or the context's host) to unix:///path/to/docker.sock or tcp://HOST:PORT"
	default:
		return "start Docker, or set DOCKER_HOST / docker context use"
	}
}

// Platform returns the engine's OS, architecture and variant in Go's naming
// (x86_64 -> amd64, aarch64 -> arm64, armv7l -> arm/v7), read from the
// engine's info. It fails when the engine cannot be asked.
func (e *Engine) Platform(ctx context.Context) (goos, arch, variant string, err error) {
	info, err := e.cli.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", "", "", fmt.Errorf("ask engine %s for its platform: %w", e.where, err)
	}
	arch, variant = NormalizeArch(info.Info.Architecture)
	return info.Info.OSType, arch, variant, nil
}

// NormalizeArch maps a kernel machine name (uname -m, as the engine reports
// it) to GOARCH and an OCI variant; names it does not know are returned as is.
func NormalizeArch(machine string) (arch, variant string) {
	switch m := strings.ToLower(machine); m {
	case "x86_64", "x86-64", "amd64":
		return "amd64", ""
	case "aarch64", "arm64", "armv8", "armv8l":
		return "arm64", ""
	case "armv7l", "armv7", "armhf":
		return "arm", "v7"
	case "armv6l", "armv6", "armel":
		return "arm", "v6"
	case "i386", "i486", "i586", "i686", "x86":
		return "386", ""
	default:
		return m, ""
	}
}

// HasBridge reports whether the engine has its default bridge network;
// an engine started with --bridge=none has none, and containers must use
// host networking there. Only the engine's "not found" answers false with
// no error: an engine that cannot be asked (unreachable, or ctx cancelled)
// returns the error, so a caller never mistakes it for "no bridge".
func (e *Engine) HasBridge(ctx context.Context) (bool, error) {
	res, err := e.cli.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("ask %s for its bridge network: %w", e.where, err)
	}
	return res.Network.Name == "bridge", nil
}
