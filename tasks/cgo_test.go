package tasks

import (
	"context"
	"testing"

	"github.com/magefile/mage/mg"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/linkage"
)

func TestLibcColumn(t *testing.T) {
	tests := []struct {
		rep  linkage.Report
		want string
	}{
		{linkage.Report{Linkage: linkage.Static, Libc: linkage.None}, "none"},
		{linkage.Report{Linkage: linkage.Static, Libc: linkage.None, LinkedLibc: linkage.Musl}, "musl linked in"},
		{linkage.Report{Linkage: linkage.Static, Libc: linkage.None, LinkedLibc: linkage.Glibc, NSS: true}, "glibc linked in, NSS"},
		{linkage.Report{Linkage: linkage.Static, Libc: linkage.None, LinkedLibc: linkage.UnknownLibc}, "none"},
		{linkage.Report{Linkage: linkage.Dynamic, Libc: linkage.Glibc}, "glibc"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, libcColumn(tt.rep), "%+v", tt.rep)
	}
	assert.Equal(t, "musl", linkedLibc(tests[1].rep))
	assert.Equal(t, "", linkedLibc(tests[3].rep), "unknown is not recorded")
}

func TestNSSWarning(t *testing.T) {
	assert.Nil(t, nssWarning("dist/a", linkage.Report{Linkage: linkage.Static, LinkedLibc: linkage.Glibc}))
	w := nssWarning("dist/a", linkage.Report{Linkage: linkage.Static, LinkedLibc: linkage.Glibc, NSS: true})
	if assert.Len(t, w, 1) {
		assert.Contains(t, w[0], "dist/a is static but carries glibc's NSS")
		assert.Contains(t, w[0], "netgo,osusergo")
	}
}

func TestCgoWords(t *testing.T) {
	assert.Equal(t, "CGO off", cgoWords(gobuild.Config{}))
	assert.Equal(t, "CGO on", cgoWords(gobuild.Config{CGO: true}))
	assert.Equal(t, "CGO on, static", cgoWords(gobuild.Config{CGO: true, StaticCGO: true}))
}

func TestArgValue(t *testing.T) {
	args := []string{"build", "-trimpath", "-tags", "netgo,osusergo", "-ldflags", "-s -w", "-o", "x", "."}
	assert.Equal(t, "netgo,osusergo", argValue(args, "-tags"))
	assert.Equal(t, "", argValue(args, "-gcflags"))
	assert.Equal(t, "", argValue([]string{"build", "-tags"}, "-tags"), "a flag without a value")
}

func TestStaticCheckDynamicCgoAdviceIntegration(t *testing.T) {
	slow(t, "builds with cgo")
	cc := fixture.MuslGCC(t)
	ctx := context.Background()
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "")
	r := mustRun(t, dir, Config{Platforms: "linux/amd64", Variants: "scratch,alpine", CGO: true, CC: cc}, nil)
	err := r.staticCheck(ctx)
	require.Error(t, err)
	failed := fail(err)
	assert.Equal(t, ExitCheck, mg.ExitStatus(failed))
	msg := failed.Error()
	assert.Contains(t, msg, "dist/svc_linux_amd64 is dynamically linked (interpreter /lib/ld-musl-x86_64.so.1")
	assert.Contains(t, msg, "link it statically")
	assert.Contains(t, msg, "set MAGEPACK_CGO=static", "the setting that keeps the C code")
	assert.NotContains(t, msg, "build with CGO_ENABLED=0", "never the stub")
	assert.Contains(t, output(r).String(), "CGO on")
	t.Logf("error: %s", msg)
}

func TestWarnDroppedCNamesTheServices(t *testing.T) {
	slow(t, "resolves a repository")
	ctx := context.Background()
	dir := svcRepo(t, map[string]string{
		"cmd/api/main.go":    "package main\n\nimport \"example.com/acme/svc/store\"\n\nfunc main() { println(store.Open()) }\n",
		"cmd/worker/main.go": "package main\n\nfunc main() {}\n",
		"store/store.go":     "package store\n\n// int open(void) { return 1; }\nimport \"C\"\n\nfunc Open() int { return int(C.open()) }\n",
		"store/stub.go":      "//go:build !cgo\n\npackage store\n\nfunc Open() int { return 0 }\n",
	}, "")
	r := mustRun(t, dir, Config{Main: "./cmd/...", Platforms: "windows/amd64,linux/arm64"}, nil)
	plan, err := r.planned()
	require.NoError(t, err)
	unlock, err := r.lockDist(ctx) // as compile holds it
	require.NoError(t, err)
	defer unlock()
	pkgs := r.warnDroppedC(ctx, plan.gjobs, plan.cfg)
	require.Len(t, pkgs, 1)
	assert.Equal(t, "example.com/acme/svc/store", pkgs[0].ImportPath)
	assert.Equal(t, []string{"example.com/acme/svc/cmd/api"}, pkgs[0].Mains)
	assert.Contains(t, output(r).String(), "[cgo] warning: example.com/acme/svc/store has C code that CGO_ENABLED=0 leaves out (only its files without cgo are built: often a stub that fails at run time): set MAGEPACK_CGO=static for a static cgo binary, or use a pure-Go alternative (in api)\n")

	m, err := dist.ReadManifest(r.p.Dist)
	require.NoError(t, err)
	require.Len(t, m.Warnings, 1)
	assert.Equal(t, "api", m.Warnings[0].Service)
	assert.Equal(t, "example.com/acme/svc/store", m.Warnings[0].Subject)

	// With cgo on, nothing is left out: no probe.
	cfg := plan.cfg
	cfg.CGO = true
	assert.Nil(t, r.warnDroppedC(ctx, plan.gjobs, cfg))
}

func TestStaticCgoConfigLine(t *testing.T) {
	slow(t, "resolves a repository")
	gcc := fixture.GCC(t)
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "")
	r := mustRun(t, dir, Config{Platforms: "linux/amd64", StaticCGO: true, Tags: "sqlite_omit_load_extension,netgo", CC: gcc}, nil)
	assert.Contains(t, output(r).String(), "[config] static cgo binaries (tags netgo,osusergo,sqlite_omit_load_extension): linux/amd64 with "+gcc+"\n")
	assert.Equal(t, map[gobuild.Target]string{{OS: "linux", Arch: "amd64"}: gcc}, r.p.CC)
}

func TestStaticCgoConfigLineNamesGOFLAGSTags(t *testing.T) {
	slow(t, "resolves a repository")
	gcc := fixture.GCC(t)
	t.Setenv("GOFLAGS", "-tags=sqlite_fts5")
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "")
	r := mustRun(t, dir, Config{Platforms: "linux/amd64", StaticCGO: true, CC: gcc}, nil)
	assert.Contains(t, output(r).String(), "[config] static cgo binaries (tags netgo,osusergo,sqlite_fts5): linux/amd64 with "+gcc+"\n",
		"the build carries GOFLAGS' tags over into its -tags, so the line names them")
}
