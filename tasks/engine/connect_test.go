package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/internal/dockerhost"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// dockerConfig writes a docker config folder whose contexts map names to
// hosts and whose currentContext is current (none if "").
func dockerConfig(t *testing.T, current string, contexts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, host := range contexts {
		sum := sha256.Sum256([]byte(name))
		meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
		require.NoError(t, os.MkdirAll(meta, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(meta, "meta.json"),
			[]byte(`{"Name":"`+name+`","Metadata":{},"Endpoints":{"docker":{"Host":"`+host+`","SkipTLSVerify":false}}}`), 0o644))
	}
	if current != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"`+current+`"}`), 0o644))
	}
	return dir
}

// clearDockerEnv unsets every variable that steers Connect.
func clearDockerEnv(t *testing.T) {
	for _, k := range []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_API_VERSION"} {
		t.Setenv(k, "")
	}
}

func TestConnectEngine(t *testing.T) {
	fixture.Engine(t) // skips outside CI when there is no engine at all
	real, err := dockerhost.Resolve(os.Getenv)
	require.NoError(t, err)

	tests := []struct {
		name      string
		context   string // DOCKER_CONTEXT
		current   string // currentContext in config.json
		contexts  map[string]string
		wantWhere string
	}{
		{name: "default socket", wantWhere: client.DefaultDockerHost + " (default socket)"},
		{name: "current context", current: "magepack-real", contexts: map[string]string{"magepack-real": real.Host},
			wantWhere: real.Host + ` (context "magepack-real")`},
		{name: "DOCKER_CONTEXT over current context", context: "magepack-real", current: "magepack-dead",
			contexts:  map[string]string{"magepack-real": real.Host, "magepack-dead": "unix:///nonexistent.sock"},
			wantWhere: real.Host + ` (context "magepack-real")`},
		{name: "default context", current: "default", wantWhere: client.DefaultDockerHost + " (default socket)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if real.Host != client.DefaultDockerHost && tt.wantWhere == client.DefaultDockerHost+" (default socket)" {
				t.Skipf("the engine here is at %s (%s), not the default socket", real.Host, real.Source)
			}
			clearDockerEnv(t)
			t.Setenv("DOCKER_CONTEXT", tt.context)
			t.Setenv("DOCKER_CONFIG", dockerConfig(t, tt.current, tt.contexts))
			e, err := engine.Connect(context.Background())
			require.NoError(t, err)
			defer e.Close()
			assert.Equal(t, tt.wantWhere, e.Where())
			assert.NotEmpty(t, e.Client().ClientVersion(), "API version negotiated")
		})
	}
}

func TestConnectNoEngine(t *testing.T) {
	// A socket file nobody listens on: connection refused.
	dead := filepath.Join(t.TempDir(), "dead.sock")
	l, err := net.Listen("unix", dead)
	require.NoError(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	require.NoError(t, l.Close())
	// A loopback port nobody listens on.
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := strconv.Itoa(tl.Addr().(*net.TCPAddr).Port)
	require.NoError(t, tl.Close())

	const fix = "; start Docker, or set DOCKER_HOST / docker context use"
	tests := []struct {
		name       string
		host       string // DOCKER_HOST
		context    string // DOCKER_CONTEXT
		contexts   map[string]string
		wantSource string
		wantAddr   string
		wantMsg    string
	}{
		{
			name: "bad DOCKER_HOST", host: "unix:///nonexistent.sock",
			wantSource: "DOCKER_HOST", wantAddr: "unix:///nonexistent.sock",
			wantMsg: "no Docker engine at unix:///nonexistent.sock (DOCKER_HOST): no such file or directory" + fix,
		},
		{
			name: "refused tcp DOCKER_HOST", host: "tcp://127.0.0.1:" + port,
			wantSource: "DOCKER_HOST", wantAddr: "tcp://127.0.0.1:" + port,
			wantMsg: "no Docker engine at tcp://127.0.0.1:" + port + " (DOCKER_HOST): connection refused" + fix,
		},
		{
			name: "context at a dead socket", context: "colima", contexts: map[string]string{"colima": "unix://" + dead},
			wantSource: `context "colima"`, wantAddr: "unix://" + dead,
			wantMsg: "no Docker engine at unix://" + dead + ` (context "colima"): connection refused` + fix,
		},
		{
			name: "ssh DOCKER_HOST", host: "ssh://me@build-host",
			wantSource: "DOCKER_HOST", wantAddr: "ssh://me@build-host",
			wantMsg: "no Docker engine at ssh://me@build-host (DOCKER_HOST): unsupported scheme ssh:// (the Engine API client speaks unix:// and tcp://); forward the engine to a local socket",
		},
		{
			name: "unparsable DOCKER_HOST", host: "bogus",
			wantSource: "DOCKER_HOST", wantAddr: "bogus",
			wantMsg: "no Docker engine at bogus (DOCKER_HOST): unusable engine address: unable to parse docker host `bogus`; set DOCKER_HOST (or the context's host) to unix:///path/to/docker.sock or tcp://HOST:PORT",
		},
		{
			name: "unknown context", context: "gone",
			wantSource: `context "gone"`,
			wantMsg:    `no Docker engine for (context "gone"): docker context "gone" is not in the context store`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearDockerEnv(t)
			t.Setenv("DOCKER_HOST", tt.host)
			t.Setenv("DOCKER_CONTEXT", tt.context)
			t.Setenv("DOCKER_CONFIG", dockerConfig(t, "", tt.contexts))
			e, err := engine.Connect(context.Background())
			require.Error(t, err)
			assert.Nil(t, e)
			assert.ErrorIs(t, err, engine.ErrNoEngine)
			var ne *engine.NoEngineError
			require.True(t, errors.As(err, &ne), "%T", err)
			assert.Equal(t, tt.wantSource, ne.Source)
			assert.Equal(t, tt.wantAddr, ne.Address)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestConnectDefaultSocketMessage(t *testing.T) {
	err := &engine.NoEngineError{Source: "default socket", Address: "unix:///var/run/docker.sock",
		Err: &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	assert.Equal(t, "no Docker engine at unix:///var/run/docker.sock (default socket): connection refused; start Docker, or set DOCKER_HOST / docker context use", err.Error())
}

func TestPlatformEngine(t *testing.T) {
	e := connect(t)
	goos, arch, variant, err := e.Platform(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "linux", goos)
	assert.Equal(t, runtime.GOARCH, arch, "the engine here runs on this machine")
	if arch == "arm64" || arch == "amd64" {
		assert.Empty(t, variant)
	}
}

func TestNormalizeArch(t *testing.T) {
	tests := []struct{ machine, arch, variant string }{
		{"x86_64", "amd64", ""},
		{"aarch64", "arm64", ""},
		{"armv7l", "arm", "v7"},
		{"armv6l", "arm", "v6"},
		{"i686", "386", ""},
		{"s390x", "s390x", ""},
		{"ppc64le", "ppc64le", ""},
		{"riscv64", "riscv64", ""},
	}
	for _, tt := range tests {
		t.Run(tt.machine, func(t *testing.T) {
			arch, variant := engine.NormalizeArch(tt.machine)
			assert.Equal(t, tt.arch, arch)
			assert.Equal(t, tt.variant, variant)
		})
	}
}

// TestHasBridgeEngine checks HasBridge against what the engine does, not
// against another of its answers: a container asked to join the bridge
// network can be created exactly when there is one.
func TestHasBridgeEngine(t *testing.T) {
	e := connect(t)
	ctx := context.Background()
	img := fixture.AlpineBase(t)
	created, err := e.Client().ContainerCreate(ctx, client.ContainerCreateOptions{
		Image:      img,
		Config:     &container.Config{Cmd: []string{"true"}},
		HostConfig: &container.HostConfig{NetworkMode: "bridge"},
	})
	if err == nil {
		_, rerr := e.Client().ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
		require.NoError(t, rerr)
	}
	bridge, herr := e.HasBridge(ctx)
	require.NoError(t, herr)
	assert.Equal(t, err == nil, bridge, "a container on the bridge network could be created: %v", err)
}

// TestHasBridgeCannotAsk checks that an engine that cannot be asked is an
// error, not "no bridge" (which would switch smoke runs to host
// networking without a word): an address nothing listens on, and a
// cancelled context.
func TestHasBridgeCannotAsk(t *testing.T) {
	cli, err := client.New(client.WithHost("unix://" + filepath.Join(t.TempDir(), "none.sock")))
	require.NoError(t, err)
	e := engine.New(cli, "the test's socket")
	bridge, err := e.HasBridge(context.Background())
	require.Error(t, err)
	assert.False(t, bridge)
	assert.Contains(t, err.Error(), "the test's socket")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.HasBridge(ctx)
	assert.ErrorIs(t, err, context.Canceled)
}

// connect connects to the engine the fixture found, skipping outside CI
// when there is none.
func connect(t testing.TB) *engine.Engine {
	t.Helper()
	fixture.Engine(t)
	e, err := engine.Connect(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}
