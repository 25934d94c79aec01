package tasks

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/sbom"
)

// TestJudge decides verdicts from reports alone: which checks apply to a
// binary, what the table says, what fails.
func TestJudge(t *testing.T) {
	static := linkage.Report{Format: "elf", OS: "linux", Arch: "amd64", Linkage: linkage.Static, Libc: linkage.None}
	glibc := linkage.Report{Format: "elf", OS: "linux", Arch: "amd64", Linkage: linkage.Dynamic, Libc: linkage.Glibc,
		Interpreter: "/lib64/ld-linux-x86-64.so.2", Needed: []string{"libc.so.6"}}
	musl := linkage.Report{Format: "elf", OS: "linux", Arch: "amd64", Linkage: linkage.Dynamic, Libc: linkage.Musl,
		Interpreter: "/lib/ld-musl-x86_64.so.1", Needed: []string{"libc.musl-x86_64.so.1"}}
	darwin := linkage.Report{Format: "macho", OS: "darwin", Arch: "arm64", Linkage: linkage.Dynamic, Libc: linkage.System}
	both := []string{variantScratch, variantAlpine}

	tests := []struct {
		name     string
		rep      linkage.Report
		readErr  error
		variants []string
		label    string
		checks   map[string]bool // variant -> ok
		failures int
	}{
		{name: "static passes both", rep: static, variants: both, label: "ok", checks: map[string]bool{"scratch": true, "alpine": true}},
		{name: "glibc fails both", rep: glibc, variants: both, label: "FAIL alpine", checks: map[string]bool{"scratch": false, "alpine": false}, failures: 2},
		{name: "musl runs on alpine only", rep: musl, variants: both, label: "FAIL scratch", checks: map[string]bool{"scratch": false, "alpine": true}, failures: 1},
		{name: "musl bound for alpine alone", rep: musl, variants: []string{variantAlpine}, label: "ok", checks: map[string]bool{"alpine": true}},
		{name: "darwin is never judged", rep: darwin, variants: both, label: "ok (system libraries)", checks: map[string]bool{}},
		{name: "unreadable", readErr: errors.New("dist/x does not exist"), variants: both, label: "unreadable", checks: map[string]bool{}, failures: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := judge("dist/x", tt.rep, tt.readErr, tt.variants)
			assert.Equal(t, tt.label, v.label)
			assert.Len(t, v.failures, tt.failures)
			got := map[string]bool{}
			for _, c := range v.checks {
				got[c.Name] = c.OK
				assert.Equal(t, "dist/x", c.Subject)
				assert.Equal(t, c.OK, c.Message == "", "a failed check says why, a passed one nothing")
			}
			assert.Equal(t, tt.checks, got)
		})
	}
}

// TestPlanBuild checks the go build of every job of two services without
// running anything: each job builds its own main into its own file.
func TestPlanBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("resolves a repository with go list and git")
	}
	dir := svcRepo(t, map[string]string{"cmd/api/main.go": fixture.ServiceMain, "cmd/worker/main.go": fixture.ServiceMain}, "v1.0.0")
	r := mustRun(t, dir, Config{Main: "./cmd/api,./cmd/worker", Platforms: "linux/amd64,windows/amd64"}, nil)
	jobs := r.p.jobs()
	require.Len(t, jobs, 4)
	plan, cfg, err := r.planBuild(jobs)
	require.NoError(t, err)
	require.Len(t, plan, 4)
	want := []struct{ name, target, out, main string }{
		{"api", "linux/amd64", "api_linux_amd64", "./cmd/api"},
		{"api", "windows/amd64", "api_windows_amd64.exe", "./cmd/api"},
		{"worker", "linux/amd64", "worker_linux_amd64", "./cmd/worker"},
		{"worker", "windows/amd64", "worker_windows_amd64.exe", "./cmd/worker"},
	}
	for i, w := range want {
		assert.Equal(t, w.name, plan[i].Name)
		assert.Equal(t, w.target, plan[i].Target.String())
		assert.Equal(t, filepath.Join(r.p.Dist, w.out), plan[i].Output)
		assert.Equal(t, w.main, plan[i].Args[len(plan[i].Args)-1], "the main package is built")
		assert.Contains(t, strings.Join(plan[i].Args, " "), "-X main.version=1.0.0")
	}
	assert.Equal(t, r.p.Root, cfg.ModuleDir)
	assert.Equal(t, "[api linux/amd64]", "["+r.p.subject(jobs[0])+"]", "several services: lines name the service")
}

// TestCrossCompileServicesIntegration builds two services for two
// platforms in one run: one pool, one line per binary, artifacts.json and
// SHA256SUMS naming every binary by service; staticCheck then checks all
// four, and a later compile of a job the run built builds nothing.
func TestCrossCompileServicesIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries")
	}
	ctx := context.Background()
	dir := svcRepo(t, map[string]string{"cmd/api/main.go": fixture.ServiceMain, "cmd/worker/main.go": fixture.ServiceMain, "lib.go": libGo}, "v1.0.0")
	r := mustRun(t, dir, Config{Main: "./cmd/...", Platforms: "linux/amd64,linux/arm64"}, nil)
	require.NoError(t, r.staticCheck(ctx), "staticCheck builds first")
	out := output(r).String()
	t.Logf("output:\n%s", out)
	assert.Contains(t, out, "[build] api, worker 1.0.0 (tag v1.0.0): 4 build(s) of 2 service(s) with go")
	for _, j := range []string{"api linux/amd64", "api linux/arm64", "worker linux/amd64", "worker linux/arm64"} {
		assert.Equal(t, 1, strings.Count(out, "["+j+"] built dist/"), "one line for %s", j)
	}

	m, err := dist.ReadManifest(r.p.Dist)
	require.NoError(t, err)
	require.Len(t, m.Binaries, 4)
	for _, b := range m.Binaries {
		assert.True(t, strings.HasPrefix(filepath.Base(b.Path), b.Service+"_linux_"), "%s belongs to %s", b.Path, b.Service)
		assert.Equal(t, "static", b.Linkage)
		assert.Equal(t, b.Path+".cdx.json", b.SBOM, "the SBOM sits next to its binary")
		data, err := os.ReadFile(filepath.Join(dir, b.SBOM))
		require.NoError(t, err)
		bom, err := sbom.Decode(data)
		require.NoError(t, err)
		require.NotNil(t, bom.Metadata.Component)
		assert.Equal(t, b.Service, bom.Metadata.Component.Name)
		assert.Equal(t, "1.0.0", bom.Metadata.Component.Version)
	}
	require.Len(t, m.Checks, 8, "two variants for each of four binaries")
	for _, c := range m.Checks {
		assert.True(t, c.OK, "%s %s", c.Name, c.Subject)
		assert.NotEmpty(t, c.Service)
	}
	sums, err := os.ReadFile(filepath.Join(r.p.Dist, "SHA256SUMS"))
	require.NoError(t, err)
	for _, n := range []string{"api_linux_amd64", "api_linux_arm64", "worker_linux_amd64", "worker_linux_arm64"} {
		assert.Contains(t, string(sums), "  "+n+"\n")
		assert.Contains(t, string(sums), "  "+n+".cdx.json\n", "SHA256SUMS covers the SBOMs")
	}

	output(r).Reset()
	_, err = r.compile(ctx, r.p.jobs()[:1])
	require.NoError(t, err)
	assert.NotContains(t, output(r).String(), "built", "a job this run built is not built again")
}

// TestDistOutOfGitIntegration: in a repository whose .gitignore does not
// name dist/, the outputs (lock, binaries, manifests) must not make Go
// stamp vcs.modified=true into the next build.
func TestDistOutOfGitIntegration(t *testing.T) {
	slow(t, "builds")
	ctx := context.Background()
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain, ".gitignore": "*.swp\n"}, "v1.0.0")
	var boms []string
	for i := range 2 { // the second build sees the first one's outputs
		r := mustRun(t, dir, Config{Platforms: "linux/amd64"}, nil)
		_, err := r.compile(ctx, r.p.jobs())
		require.NoError(t, err, "build %d", i+1)
		bin := r.p.binaryPath(r.p.services[0], r.p.Platforms[0])
		bom, err := os.ReadFile(sbom.FileName(bin))
		require.NoError(t, err)
		boms = append(boms, string(bom))
		out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "vcs.modified=false", "build %d: %s", i+1, out)
		assert.Equal(t, "1.0.0", r.p.versionString(), "build %d: no dirty version either", i+1)
	}
	assert.Equal(t, boms[0], boms[1], "the SBOM is the same, byte for byte")
	status := git(t, dir, "status", "--porcelain")
	assert.Empty(t, status, "git sees nothing new")
	assert.FileExists(t, filepath.Join(dir, "dist", ".gitignore"))

	t.Run("dist at the module root is left alone", func(t *testing.T) {
		assert.True(t, dedicated(filepath.Join(dir, "dist"), dir))
		assert.True(t, dedicated(filepath.Join(dir, "out", "bin"), dir))
		assert.False(t, dedicated(dir, dir), "the root itself")
		assert.False(t, dedicated(filepath.Dir(dir), dir), "a folder above the root")
		assert.False(t, dedicated(t.TempDir(), dir), "a folder elsewhere")
	})
}

// TestOneServiceAsBefore: a repository with one main package builds the
// same binary and the same image, under the same names, however the main
// is given (left to magepack, ".", the pattern "./..."): the several
// services code leaves single-service repositories as they were.
func TestOneServiceAsBefore(t *testing.T) {
	slow(t, "builds")
	ctx := context.Background()
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")
	type built struct{ name, binary, sum, ref, imageID string }
	var got []built
	for _, main := range []string{"", ".", "./..."} {
		r := mustRun(t, dir, Config{Main: main, Platforms: "linux/amd64", Dist: t.TempDir()}, nil)
		require.Len(t, r.p.services, 1, "MAGEPACK_MAIN=%q", main)
		j := r.p.jobs()[0]
		res, err := r.compile(ctx, []job{j})
		require.NoError(t, err, "MAGEPACK_MAIN=%q", main)
		b := res[j.String()]
		require.NotEmpty(t, b.SHA256, "MAGEPACK_MAIN=%q: %v", main, res)
		img, err := assemble(r.p.planImage(j.svc, variantScratch, j.pl, b.Path), nil, "")
		require.NoError(t, err)
		id, err := img.ConfigName()
		require.NoError(t, err)
		got = append(got, built{j.svc.name, filepath.Base(b.Path), b.SHA256, r.p.refs(j.svc, variantScratch)[0], id.String()})
	}
	assert.Equal(t, built{"svc", "svc_linux_amd64", got[0].sum, "svc:1.2.3-scratch", got[0].imageID}, got[0], "names as before several services")
	for i, main := range []string{".", "./..."} {
		assert.Equal(t, got[0], got[i+1], "MAGEPACK_MAIN=%q gives what leaving it unset gives", main)
	}
}

// TestTimingsNamePhases: the timings line names the phases of the work
// done, in their order, each with a duration.
func TestTimingsNamePhases(t *testing.T) {
	slow(t, "builds")
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")
	r := mustRun(t, dir, Config{Platforms: "linux/amd64", Timings: true}, nil)
	require.NoError(t, r.staticCheck(context.Background()))
	output(r).Reset()
	r.printTimings()
	assert.Regexp(t, `^\[timings\] setup \d+\.\d\ds build \d+\.\d\ds record \d+\.\d\ds check \d+\.\d\ds\n$`, output(r).String())
	output(r).Reset()
	r.printTimings()
	assert.Empty(t, output(r).String(), "each line covers the time since the last one")
}

// TestUnreadableBuildRecordIsSaid checks that an artifacts.json that
// cannot be read stops the run before any build, naming the file and the
// fix, instead of counting as "dist holds no merge".
func TestUnreadableBuildRecordIsSaid(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": "package main\n\nfunc main() {}\n"}, "v1.0.0")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "dist"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dist", "artifacts.json"), []byte("{not json"), 0o644))
	r := mustRun(t, dir, Config{Platforms: "linux/amd64"}, nil)
	pre, err := r.merged(context.Background())
	require.Error(t, err)
	assert.Nil(t, pre)
	assert.Contains(t, err.Error(), "artifacts.json")
	assert.Contains(t, err.Error(), "remove the file")
}
