package linkage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// The sample program imports net and os/user, the two standard packages
// that switch to libc when cgo is on, so CGO_ENABLED decides its linkage.
const sampleMain = `package main

import (
	"fmt"
	"net"
	"os/user"
)

func main() {
	u, err := user.Current()
	fmt.Println(u, err, net.ParseIP("127.0.0.1"))
}
`

// sampleBuild is one way of building the sample program.
type sampleBuild struct {
	env   []string
	flags []string
	// cc names the C compiler a cgo build needs ("gcc" or "musl-gcc"); the
	// fixture installs it on first use (or skips outside CI when it cannot).
	cc string
}

var sampleBuilds = map[string]sampleBuild{
	"static_linux_amd64": {env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}},
	"cgo_glibc":          {env: []string{"CGO_ENABLED=1"}, cc: "gcc"},
	"pie_linux_amd64":    {env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}, flags: []string{"-buildmode=pie"}},
	"cgo_musl":           {env: []string{"CGO_ENABLED=1"}, cc: "musl-gcc"},
	"cgo_musl_static":    {env: []string{"CGO_ENABLED=1"}, cc: "musl-gcc", flags: []string{"-ldflags=-linkmode external -extldflags -static"}},
	// Static glibc: with cgo's net and os/user, glibc's NSS comes along;
	// with the netgo and osusergo tags it stays out.
	"cgo_glibc_static":       {env: []string{"CGO_ENABLED=1"}, cc: "gcc", flags: []string{"-ldflags=-linkmode external -extldflags -static"}},
	"cgo_glibc_static_netgo": {env: []string{"CGO_ENABLED=1"}, cc: "gcc", flags: []string{"-tags=netgo,osusergo", "-ldflags=-linkmode external -extldflags -static"}},
	"static_linux_arm64":     {env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}},
	"static_linux_riscv":     {env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=riscv64"}},
	"windows_amd64.exe":      {env: []string{"CGO_ENABLED=0", "GOOS=windows", "GOARCH=amd64"}},
	"darwin_arm64":           {env: []string{"CGO_ENABLED=0", "GOOS=darwin", "GOARCH=arm64"}},
}

// samples are the sample binaries built so far in this test process, in
// one folder TestMain removes.
var samples struct {
	mu    sync.Mutex
	dir   string
	built map[string]*sample
}

type sample struct {
	once sync.Once
	path string
	err  error
}

// sampleBinary builds the named sample once per test process (tests that
// share one wait for it) and returns its path. A cgo sample first gets its
// C compiler from the fixture. Under -short the test is skipped: the
// samples are cold cross-compiles on a fresh machine.
func sampleBinary(t *testing.T, name string) string {
	t.Helper()
	fixture.SkipShort(t, "builds real sample binaries (cold cross-compiles on a fresh machine)")
	b, ok := sampleBuilds[name]
	require.True(t, ok, "no sample build named %q", name)
	env := b.env
	switch b.cc {
	case "gcc":
		env = append(env, "CC="+fixture.GCC(t))
	case "musl-gcc":
		env = append(env, "CC="+fixture.MuslGCC(t))
	}
	samples.mu.Lock()
	if samples.built == nil {
		samples.built = map[string]*sample{}
	}
	s := samples.built[name]
	if s == nil {
		s = &sample{}
		samples.built[name] = s
	}
	if samples.dir == "" {
		dir, err := os.MkdirTemp("", "linkage-samples-")
		require.NoError(t, err)
		samples.dir = dir
		fixture.WriteModule(t, filepath.Join(dir, "src"), fixture.Module{Path: "example.com/sample", Files: map[string]string{"main.go": sampleMain}})
	}
	dir := samples.dir
	samples.mu.Unlock()
	s.once.Do(func() { s.path, s.err = buildSample(dir, name, env, b.flags) })
	require.NoError(t, s.err, "building the sample binary %s", name)
	return s.path
}

// buildSample builds the sample program into dir/name with env and flags.
func buildSample(dir, name string, env, flags []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out := filepath.Join(dir, name)
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	cmd.Dir = filepath.Join(dir, "src")
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	cmd.Env = append(cmd.Env, env...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (%s): %v\n%s", name, strings.Join(env, " "), err, msg)
	}
	return out, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if samples.dir != "" {
		_ = os.RemoveAll(samples.dir)
	}
	os.Exit(code)
}

func TestInspectIntegrationRealBinaries(t *testing.T) {
	tests := []struct {
		sample      string
		wantFormat  string
		wantOS      string
		wantArch    string
		wantLinkage Linkage
		wantLibc    Libc
		wantInterp  string
		wantNeeded  string // one library Needed must contain
		wantCGO     string
		wantMode    string
		wantPIE     bool
		// wantLinked and wantNSS are what a static binary says of the C
		// library linked into it.
		wantLinked Libc
		wantNSS    bool
		scratchOK  bool
		alpineOK   bool
	}{
		{
			sample: "static_linux_amd64", wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Static, wantLibc: None, wantCGO: "0", wantMode: "exe",
			scratchOK: true, alpineOK: true,
		},
		{
			sample: "cgo_glibc", wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: Glibc, wantInterp: "/lib64/ld-linux-x86-64.so.2", wantNeeded: "libc.so.6",
			wantCGO: "1", wantMode: "exe",
		},
		{
			// Go's internal linker gives a CGO_ENABLED=0 PIE a PT_INTERP (glibc's
			// loader) and a dynamic section for its relocations, though no NEEDED.
			sample: "pie_linux_amd64", wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: Glibc, wantInterp: "/lib64/ld-linux-x86-64.so.2",
			wantCGO: "0", wantMode: "pie", wantPIE: true,
		},
		{
			sample: "cgo_musl", wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: Musl, wantInterp: "/lib/ld-musl-x86_64.so.1", wantNeeded: "libc.so",
			wantCGO: "1", wantMode: "exe", alpineOK: true,
		},
		{
			sample: "cgo_musl_static", wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Static, wantLibc: None, wantCGO: "1", wantMode: "exe", wantLinked: Musl,
			scratchOK: true, alpineOK: true,
		},
		{
			sample: "cgo_glibc_static", wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Static, wantLibc: None, wantCGO: "1", wantMode: "exe", wantLinked: Glibc, wantNSS: true,
			scratchOK: true, alpineOK: true,
		},
		{
			sample: "cgo_glibc_static_netgo", wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Static, wantLibc: None, wantCGO: "1", wantMode: "exe", wantLinked: Glibc,
			scratchOK: true, alpineOK: true,
		},
		{
			sample: "static_linux_arm64", wantFormat: FormatELF, wantOS: "linux", wantArch: "arm64",
			wantLinkage: Static, wantLibc: None, wantCGO: "0", wantMode: "exe",
			scratchOK: true, alpineOK: true,
		},
		{
			sample: "static_linux_riscv", wantFormat: FormatELF, wantOS: "linux", wantArch: "riscv64",
			wantLinkage: Static, wantLibc: None, wantCGO: "0", wantMode: "exe",
			scratchOK: true, alpineOK: true,
		},
		{
			// Windows binaries always import system DLLs: reported, never failed.
			// buildinfo says -buildmode=exe, yet the port's default exe is a PIE.
			sample: "windows_amd64.exe", wantFormat: FormatPE, wantOS: "windows", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: System, wantNeeded: "kernel32.dll",
			wantCGO: "0", wantMode: "exe", wantPIE: true, scratchOK: true, alpineOK: true,
		},
		{
			sample: "darwin_arm64", wantFormat: FormatMachO, wantOS: "darwin", wantArch: "arm64",
			wantLinkage: Dynamic, wantLibc: System, wantInterp: "/usr/lib/dyld", wantNeeded: "/usr/lib/libSystem.B.dylib",
			wantCGO: "0", wantMode: "exe", wantPIE: true, scratchOK: true, alpineOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			t.Parallel() // two builds at a time on two cores
			path := sampleBinary(t, tt.sample)
			r, err := Inspect(path)
			require.NoError(t, err)
			assert.Equal(t, path, r.Path)
			assert.Equal(t, tt.wantFormat, r.Format)
			assert.Equal(t, tt.wantOS, r.OS)
			assert.Equal(t, tt.wantArch, r.Arch)
			assert.Equal(t, tt.wantLinkage, r.Linkage, r.Summary())
			assert.Equal(t, tt.wantLibc, r.Libc, r.Summary())
			assert.Equal(t, tt.wantInterp, r.Interpreter)
			if tt.wantNeeded != "" {
				assert.Contains(t, r.Needed, tt.wantNeeded)
			} else {
				assert.Empty(t, r.Needed)
			}
			assert.Equal(t, tt.wantCGO, r.CGO)
			assert.Equal(t, tt.wantMode, r.BuildMode)
			assert.Equal(t, tt.wantPIE, r.PIE)
			assert.Equal(t, tt.wantLinked, r.LinkedLibc, "the C library linked in")
			assert.Equal(t, tt.wantNSS, r.NSS, "glibc's NSS")
			assert.True(t, strings.HasPrefix(r.GoVersion, "go1."), "GoVersion %q", r.GoVersion)
			assert.Equal(t, tt.wantOS, r.Settings["GOOS"])
			assertVerdict(t, tt.scratchOK, CheckScratch(r), TargetScratch)
			assertVerdict(t, tt.alpineOK, CheckAlpine(r), TargetAlpine)
		})
	}
}

func TestInspectIntegrationTruncatedBinary(t *testing.T) {
	// A static binary cut short must not pass as static: its section headers
	// (at the end of the file) are gone, and that is reported, not guessed.
	full, err := os.ReadFile(sampleBinary(t, "static_linux_amd64"))
	require.NoError(t, err)
	for _, n := range []int{16, 64, 4096, len(full) / 2, len(full) - 1} {
		t.Run(fmt.Sprintf("first_%d_bytes", n), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app_linux_amd64")
			require.NoError(t, os.WriteFile(path, full[:n], 0o755))
			r, err := Inspect(path)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrMalformed), "%v", err)
			assert.Contains(t, err.Error(), path)
			assert.Equal(t, Unknown, r.Linkage)
			assert.Equal(t, UnknownLibc, r.Libc)
			assertVerdict(t, false, CheckScratch(r), TargetScratch)
			assertVerdict(t, false, CheckAlpine(r), TargetAlpine)
		})
	}
}
