package engine

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

func TestSmokeCommandLine(t *testing.T) {
	tests := []struct {
		name string
		opts SmokeOptions
		want []string
	}{
		{name: "nothing: the image's CMD", opts: SmokeOptions{}, want: nil},
		{name: "args alone", opts: SmokeOptions{Args: []string{"-peer", "db:5432"}}, want: []string{"-peer", "db:5432"}},
		{name: "run's command alone", opts: SmokeOptions{Cmd: []string{"--version"}}, want: []string{"--version"}},
		{name: "args before run's command", opts: SmokeOptions{Args: []string{"-peer", "db:5432"}, Cmd: []string{"check"}}, want: []string{"-peer", "db:5432", "check"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := smokeCreateOptions("app:scratch", tt.opts, false)
			assert.Equal(t, tt.want, []string(got.Config.Cmd))
		})
	}
	args := []string{"-a"}
	got := SmokeOptions{Args: args, Cmd: []string{"b"}}.commandLine()
	got[0] = "changed"
	assert.Equal(t, []string{"-a"}, args, "the options' slices are not shared")
}

func TestSmokeEnvMustBeKeyValue(t *testing.T) {
	for _, kv := range []string{"DATA_DIR", "=x", ""} {
		_, err := SmokeOptions{Mode: SmokeStart, Env: []string{"A=1", kv}}.withDefaults()
		var oe *SmokeOptionsError
		require.ErrorAs(t, err, &oe, "%q", kv)
		assert.Equal(t, "Env", oe.Field)
		assert.Contains(t, err.Error(), "is not KEY=value")
	}
	_, err := SmokeOptions{Mode: SmokeStart, Env: []string{"A=", "B=x=y"}}.withDefaults()
	assert.NoError(t, err, "empty values and = in values are fine")
}

func TestReadOnlyWrite(t *testing.T) {
	assert.True(t, readOnlyWrite("configured: open state.json: read-only file system\n"))
	assert.True(t, readOnlyWrite("mkdir: can't create directory 'data': Read-only file system"))
	assert.False(t, readOnlyWrite("open state.json: permission denied"))
}

// TestSmokeArgsEnvEngine smoke-runs a service that needs a flag and a
// writable data directory (fixture.ConfiguredMain), in the hardened
// container, in every mode: it fails without them, saying why, and passes
// with them.
func TestSmokeArgsEnvEngine(t *testing.T) {
	e := smokeTestEngine(t)
	bin := fixture.Program(t, fixture.ConfiguredMain, "linux", runtime.GOARCH)
	ref := "magepack-test/engine-smoke:configured-" + randomHex(4)
	importTestImage(t, e, ref, map[string]testFile{"app": {src: bin}},
		`ENTRYPOINT ["/app"]`, "USER 65532:65532", "EXPOSE 8080")

	peer := []string{"-peer", "127.0.0.1:9"}
	dataDir := []string{"DATA_DIR=/tmp"}
	tests := []struct {
		name     string
		opts     SmokeOptions
		wantErr  []string // none means success
		wantExit int
		readOnly bool
		wantLogs string
	}{
		{name: "start without the flag", opts: SmokeOptions{Mode: SmokeStart},
			wantErr: []string{"exited with code 1 within 1s of starting", "-peer is required"}, wantExit: 1},
		{name: "start without a data directory", opts: SmokeOptions{Mode: SmokeStart, Args: peer},
			wantErr:  []string{"exited with code 1", "read-only file system", "/tmp is writable"},
			wantExit: 1, readOnly: true},
		{name: "start with both", opts: SmokeOptions{Mode: SmokeStart, Args: peer, Env: dataDir}},
		{name: "HTTP without the flag", opts: SmokeOptions{Mode: SmokeHTTP, Path: "/healthz", Args: nil, Env: dataDir},
			wantErr: []string{"before answering /healthz", "-peer is required"}, wantExit: 1},
		{name: "HTTP with both", opts: SmokeOptions{Mode: SmokeHTTP, Path: "/healthz", Args: peer, Env: dataDir}},
		{name: "run without a data directory", opts: SmokeOptions{Mode: SmokeRun, Args: peer, Cmd: []string{"check"}},
			wantErr:  []string{`the command (arguments ["-peer" "127.0.0.1:9" "check"]) exited with code 1`, "/tmp is writable"},
			wantExit: 1, readOnly: true},
		{name: "run with both", opts: SmokeOptions{Mode: SmokeRun, Args: peer, Env: dataDir, Cmd: []string{"check"}},
			wantLogs: "configured: ready, peer 127.0.0.1:9, state in /tmp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Port = 8080
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := e.Smoke(ctx, ref, tt.opts)
			assert.Empty(t, smokeContainers(t, e, ref), "smoke containers left behind")
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				assert.Contains(t, res.Logs, tt.wantLogs)
				return
			}
			require.Error(t, err)
			t.Logf("the error as users see it:\n%v", err)
			for _, s := range tt.wantErr {
				assert.Contains(t, err.Error(), s)
			}
			assert.NotContains(t, err.Error(), "MAGEPACK_")
			var se *SmokeError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.wantExit, se.ExitCode)
			assert.Equal(t, tt.readOnly, se.ReadOnlyRoot)
		})
	}
}
