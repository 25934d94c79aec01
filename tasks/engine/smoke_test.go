package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// smokeServerBinary is the service the smoke tests run (fixture.ServiceMain:
// /healthz answers 200, /bad 500; "fail" exits 3 with a message on stderr;
// "idle" never listens; $PORT, default 8080), static for the host's
// architecture.
func smokeServerBinary(t *testing.T) string {
	t.Helper()
	return fixture.ServiceBinary(t, runtime.GOARCH)
}

// smokeTestEngine connects to the test engine (skipping outside CI when
// there is none).
func smokeTestEngine(t *testing.T) *Engine {
	t.Helper()
	return New(fixture.Engine(t), "test")
}

// testFile is one entry of an image imported by importTestImage.
type testFile struct {
	body string // content of a regular file
	src  string // or: copy this host file
	link string // or: a symlink to this target
	mode int64  // default 0644 (0755 with src)
}

// importTestImage imports a single-layer image holding files under ref,
// with Dockerfile-style changes (ENTRYPOINT, USER, ENV…), and removes it
// when the test ends.
func importTestImage(t *testing.T, e *Engine, ref string, files map[string]testFile, changes ...string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	dirs := map[string]bool{}
	for _, name := range names {
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				require.NoError(t, tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}))
			}
		}
		f := files[name]
		switch {
		case f.link != "":
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: f.link, Mode: 0o777}))
		default:
			body := []byte(f.body)
			mode := f.mode
			if f.src != "" {
				var err error
				body, err = os.ReadFile(f.src)
				require.NoError(t, err)
				if mode == 0 {
					mode = 0o755
				}
			}
			if mode == 0 {
				mode = 0o644
			}
			require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body))}))
			_, err := tw.Write(body)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := e.cli.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, ref,
		client.ImageImportOptions{Changes: changes})
	require.NoError(t, err, "import %s", ref)
	out, err := io.ReadAll(resp)
	resp.Close()
	require.NoError(t, err)
	require.NotContains(t, string(out), `"error"`, "import %s", ref)
	t.Cleanup(func() { removeTestImage(t, e, ref) })
}

// removeTestImage removes ref and its untagged parents, reporting failure.
func removeTestImage(t *testing.T, e *Engine, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
		t.Errorf("remove test image %s: %v", ref, err)
	}
}

// smokeContainers lists the smoke containers (running or not) made from image.
func smokeContainers(t *testing.T, e *Engine, image string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", SmokeLabel+"=1").Add("ancestor", image),
	})
	require.NoError(t, err)
	var names []string
	for _, c := range list.Items {
		names = append(names, strings.Join(c.Names, ","))
	}
	return names
}

// freePort returns a loopback TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestParseSmoke(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
		want              SmokeOptions
		wantErr           bool
	}{
		{name: "off", in: "off", want: SmokeOptions{Mode: SmokeOff}},
		{name: "start", in: "start", want: SmokeOptions{Mode: SmokeStart}},
		{name: "path", in: "/healthz", want: SmokeOptions{Mode: SmokeHTTP, Path: "/healthz"}},
		{name: "path with query", in: "/ready?full=1", want: SmokeOptions{Mode: SmokeHTTP, Path: "/ready?full=1"}},
		{name: "root path", in: "/", want: SmokeOptions{Mode: SmokeHTTP, Path: "/"}},
		{name: "surrounding space", in: " start ", want: SmokeOptions{Mode: SmokeStart}},
		{name: "empty", in: "", wantErr: true},
		{name: "path without slash", in: "healthz", wantErr: true},
		{name: "url", in: "http://localhost/healthz", wantErr: true},
		{name: "capitalised", in: "Start", wantErr: true},
		{name: "path with space", in: "/health z", wantErr: true, wantMsg: "an HTTP path cannot hold spaces; escape them (/health%20z)"},
		{name: "run with an argument", in: "run:--version", want: SmokeOptions{Mode: SmokeRun, Cmd: []string{"--version"}}},
		{name: "run with arguments split on whitespace", in: " run: version\t--short  -v ", want: SmokeOptions{Mode: SmokeRun, Cmd: []string{"version", "--short", "-v"}}},
		{name: "run alone", in: "run:", want: SmokeOptions{Mode: SmokeRun}},
		{name: "run with a path-like argument", in: "run:/healthz", want: SmokeOptions{Mode: SmokeRun, Cmd: []string{"/healthz"}}},
		{name: "run without colon", in: "run", wantErr: true},
		{name: "run capitalised", in: "RUN:--version", wantErr: true},
		{name: "path after run", in: "/run: x", wantErr: true, wantMsg: "an HTTP path cannot hold spaces; escape them (/run:%20x)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSmoke(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `"`+tt.in+`"`)
				msg := tt.wantMsg
				if msg == "" {
					msg = "use off, start, run:<args> for a command-line tool (e.g. run:--version), or an HTTP path starting with /"
				}
				assert.Contains(t, err.Error(), msg)
				assert.NotContains(t, err.Error(), "MAGEPACK_")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := ParseSmoke(got.String())
			require.NoError(t, err, "String() %q reads back", got.String())
			assert.Equal(t, got, again)
		})
	}
}

func TestSmokeOptionsDefaults(t *testing.T) {
	tests := []struct {
		name      string
		in        SmokeOptions
		want      SmokeOptions
		wantErr   string
		wantField string
	}{
		{name: "zero is start with defaults", want: SmokeOptions{Mode: SmokeStart, Grace: time.Second, Timeout: 20 * time.Second}},
		{name: "kept durations", in: SmokeOptions{Mode: SmokeHTTP, Path: "/x", Port: 80, Grace: time.Millisecond, Timeout: time.Minute},
			want: SmokeOptions{Mode: SmokeHTTP, Path: "/x", Port: 80, Grace: time.Millisecond, Timeout: time.Minute}},
		{name: "run needs no port", in: SmokeOptions{Mode: SmokeRun, Cmd: []string{"--version"}},
			want: SmokeOptions{Mode: SmokeRun, Cmd: []string{"--version"}, Grace: time.Second, Timeout: 20 * time.Second}},
		{name: "http without port", in: SmokeOptions{Mode: SmokeHTTP, Path: "/healthz"}, wantErr: "needs the port", wantField: "Port"},
		{name: "http without path", in: SmokeOptions{Mode: SmokeHTTP, Port: 8080}, wantErr: `smoke path "" must start with /`, wantField: "Path"},
		{name: "port out of range", in: SmokeOptions{Mode: SmokeStart, Port: 70000}, wantErr: "out of range", wantField: "Port"},
		{name: "unknown mode", in: SmokeOptions{Mode: "bogus"}, wantErr: `smoke mode "bogus"`, wantField: "Mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if tt.wantErr != "" {
				var oe *SmokeOptionsError
				require.ErrorAs(t, err, &oe)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, tt.wantField, oe.Field)
				assert.NotContains(t, err.Error(), "MAGEPACK_")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSmokeCreateOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      SmokeOptions
		hostNet   bool
		wantEnv   []string
		published bool
	}{
		{name: "bridge publishes on loopback", opts: SmokeOptions{Port: 8080, Env: []string{"A=1"}}, wantEnv: []string{"A=1"}, published: true},
		{name: "host network sets PORT", opts: SmokeOptions{Port: 9090}, hostNet: true, wantEnv: []string{"PORT=9090"}},
		{name: "host network keeps the user's PORT", opts: SmokeOptions{Port: 9090, Env: []string{"PORT=1234"}}, hostNet: true, wantEnv: []string{"PORT=1234"}},
		{name: "no port publishes nothing", opts: SmokeOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := smokeCreateOptions("app:scratch", tt.opts, tt.hostNet)
			assert.Regexp(t, `^magepack-smoke-[0-9a-f]{12}$`, got.Name)
			assert.Equal(t, "app:scratch", got.Config.Image)
			assert.Equal(t, map[string]string{"magepack.smoke": "1"}, got.Config.Labels)
			assert.Equal(t, tt.wantEnv, got.Config.Env)
			hc := got.HostConfig
			assert.True(t, hc.ReadonlyRootfs, "read-only root")
			assert.Equal(t, []string{"ALL"}, hc.CapDrop)
			assert.Equal(t, []string{"no-new-privileges"}, hc.SecurityOpt)
			assert.Contains(t, hc.Tmpfs, "/tmp")
			assert.False(t, hc.AutoRemove)
			if tt.hostNet {
				assert.Equal(t, container.NetworkMode("host"), hc.NetworkMode)
			} else {
				assert.Empty(t, hc.NetworkMode)
			}
			if !tt.published {
				assert.Empty(t, hc.PortBindings)
				return
			}
			require.Len(t, hc.PortBindings, 1)
			for port, bindings := range hc.PortBindings {
				assert.Equal(t, "8080/tcp", port.String())
				require.Len(t, bindings, 1)
				assert.Equal(t, "127.0.0.1", bindings[0].HostIP.String())
				assert.Empty(t, bindings[0].HostPort, "the engine picks the host port")
			}
		})
	}
	a := smokeCreateOptions("x", SmokeOptions{}, false)
	b := smokeCreateOptions("x", SmokeOptions{}, false)
	assert.NotEqual(t, a.Name, b.Name, "container names are random")
}

func TestSmokeOff(t *testing.T) {
	// No engine call at all: a nil client would panic if one were made.
	res, err := (&Engine{}).Smoke(context.Background(), "app:scratch", SmokeOptions{Mode: SmokeOff})
	require.NoError(t, err)
	assert.True(t, res.Skipped)
}

func TestSmokeEngine(t *testing.T) {
	e := smokeTestEngine(t)
	bin := smokeServerBinary(t)
	run := randomHex(4)
	server := "magepack-test/engine-smoke:server-" + run
	glibc := "magepack-test/engine-smoke:glibc-" + run
	importTestImage(t, e, server, map[string]testFile{"app": {src: bin}},
		`ENTRYPOINT ["/app"]`, "USER 65532:65532", "EXPOSE 8080")
	// A glibc binary in a busybox+musl image: the loader it names is absent.
	importTestImage(t, e, glibc, map[string]testFile{
		"bin/busybox": {src: fixture.Busybox(t)},
		"bin/sh":      {link: "busybox"},
		"app":         {src: "/usr/bin/true"},
	}, `ENTRYPOINT ["/app"]`)

	tests := []struct {
		name     string
		image    string
		opts     SmokeOptions
		wantErr  []string // substrings of the error; none means success
		wantExit int      // the SmokeError's exit code
	}{
		{name: "start stays up", image: server, opts: SmokeOptions{Mode: SmokeStart, Port: 8080, Grace: 500 * time.Millisecond}},
		{name: "healthz answers 200", image: server, opts: SmokeOptions{Mode: SmokeHTTP, Path: "/healthz", Port: 8080}},
		{name: "healthz on host network", image: server, opts: SmokeOptions{Mode: SmokeHTTP, Path: "/healthz", Port: freePort(t), hostNetwork: true}},
		{name: "bad answers 500", image: server, opts: SmokeOptions{Mode: SmokeHTTP, Path: "/bad", Port: 8080, Timeout: 1500 * time.Millisecond},
			wantErr: []string{"smoke run of " + server + " failed", "GET /bad answered 500 Internal Server Error", "container still running", "svc dev listening on 8080"}, wantExit: -1},
		{name: "exits before answering", image: server, opts: SmokeOptions{Mode: SmokeHTTP, Path: "/healthz", Port: 8080, Cmd: []string{"fail"}},
			wantErr: []string{"container exited with code 3 before answering /healthz", "svc: config file /etc/svc.toml is missing"}, wantExit: 3},
		{name: "exits within the grace period", image: server, opts: SmokeOptions{Mode: SmokeStart, Port: 8080, Cmd: []string{"fail"}},
			wantErr: []string{"container exited with code 3 within 1s of starting", "svc: config file /etc/svc.toml is missing"}, wantExit: 3},
		{name: "glibc binary in a musl image", image: glibc, opts: SmokeOptions{Mode: SmokeStart},
			wantErr: []string{"smoke run of " + glibc + " failed", "no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := e.Smoke(ctx, tt.image, tt.opts)
			assert.Regexp(t, `^magepack-smoke-`, res.Container)
			assert.Empty(t, smokeContainers(t, e, tt.image), "smoke containers left behind")
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				if tt.opts.Port > 0 {
					assert.Positive(t, res.HostPort)
				}
				if tt.opts.Mode == SmokeHTTP {
					assert.Equal(t, 200, res.Status)
				}
				return
			}
			require.Error(t, err)
			t.Logf("the error as users see it:\n%v", err)
			for _, s := range tt.wantErr {
				assert.Contains(t, err.Error(), s)
			}
			var se *SmokeError
			require.ErrorAs(t, err, &se)
			if tt.wantExit != 0 {
				assert.Equal(t, tt.wantExit, se.ExitCode)
			}
			assert.Equal(t, se.Logs, res.Logs)
		})
	}

	t.Run("missing image", func(t *testing.T) {
		ref := "magepack-test/engine-smoke:absent-" + run
		_, err := e.Smoke(context.Background(), ref, SmokeOptions{Mode: SmokeStart})
		require.Error(t, err)
		assert.Contains(t, err.Error(), ref)
		var se *SmokeError
		assert.False(t, errors.As(err, &se), "an engine error is not a failed check")
	})

	t.Run("host port already taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		port := l.Addr().(*net.TCPAddr).Port
		_, err = e.Smoke(context.Background(), server, SmokeOptions{Mode: SmokeHTTP, Path: "/healthz", Port: port, hostNetwork: true})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "already in use")
		assert.Empty(t, smokeContainers(t, e, server))
	})

	t.Run("cancel mid-probe", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			time.Sleep(1500 * time.Millisecond)
			cancel()
		}()
		start := time.Now()
		_, err := e.Smoke(ctx, server, SmokeOptions{Mode: SmokeHTTP, Path: "/healthz", Port: 8080, Cmd: []string{"idle"}, Timeout: time.Minute})
		require.Error(t, err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), 8*time.Second, "returns promptly after cancel (container removal included)")
		assert.Empty(t, smokeContainers(t, e, server), "the container is removed on cancel")
	})
}

// FuzzParseSmoke checks that ParseSmoke never panics, that what it accepts
// is well formed (a path without whitespace; run arguments without any),
// and that String gives a setting that reads back the same. Seeds live in
// testdata/fuzz/FuzzParseSmoke.
func FuzzParseSmoke(f *testing.F) {
	for _, s := range []string{"off", "start", "/healthz", "", "healthz", "/a b", " /x ", "run:--version", "run:", "run: a  b "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		opts, err := ParseSmoke(s)
		if err != nil {
			assert.Contains(t, err.Error(), "is not valid")
			return
		}
		switch opts.Mode {
		case SmokeOff, SmokeStart:
			assert.Empty(t, opts.Path)
			assert.Empty(t, opts.Cmd)
		case SmokeHTTP:
			assert.True(t, strings.HasPrefix(opts.Path, "/"), "path %q", opts.Path)
			assert.NotContains(t, opts.Path, " ")
			assert.Empty(t, opts.Cmd)
		case SmokeRun:
			assert.Empty(t, opts.Path)
			for _, a := range opts.Cmd {
				assert.NotEmpty(t, a)
				assert.Equal(t, []string{a}, strings.Fields(a), "argument %q holds no whitespace", a)
			}
		default:
			t.Fatalf("ParseSmoke(%q) gave mode %q", s, opts.Mode)
		}
		again, err := ParseSmoke(opts.String())
		require.NoError(t, err, "ParseSmoke(%q).String() = %q does not read back", s, opts.String())
		assert.Equal(t, opts, again)
	})
}
