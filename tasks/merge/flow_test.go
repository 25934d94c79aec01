package merge

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/shard"
)

// twoServices is a module with two main packages, api and worker.
var twoServices = map[string]string{
	"go.mod":             "module example.com/svc\n\ngo 1.25\n",
	"cmd/api/main.go":    "package main\n\nvar version string\n\nfunc main() { println(\"api\", version) }\n",
	"cmd/worker/main.go": "package main\n\nvar version string\n\nfunc main() { println(\"worker\", version) }\n",
}

var flowTargets = []gobuild.Target{{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}, {OS: "windows", Arch: "amd64"}}

// buildRun is what crossCompile does on one machine: plan every job of the
// run, take the shard's share, build it, and record the binaries and the
// build in distDir.
func buildRun(t *testing.T, checkout, distDir string, spec shard.Spec) shard.Selection {
	t.Helper()
	for name, data := range twoServices {
		p := filepath.Join(checkout, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	var cfgs []gobuild.Config
	var jobs []gobuild.Job
	for _, svc := range []string{"api", "worker"} {
		cfg := gobuild.Config{ModuleDir: checkout, Main: "./cmd/" + svc, Name: svc, Dist: distDir, Version: "1.2.3", Commit: "abc", Date: time.Unix(1700000000, 0)}
		js, err := gobuild.Plan(cfg, flowTargets, os.Environ())
		require.NoError(t, err)
		cfgs = append(cfgs, cfg)
		jobs = append(jobs, js...)
	}
	sel, mine := shard.Split(spec, jobs, dist.JobOf)
	results, err := gobuild.Run(context.Background(), mine, cfgs[0], nil)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(distDir, 0o755))
	require.NoError(t, dist.Update(distDir, func(m *dist.Manifest) error {
		var files []string
		for _, r := range results {
			m.PutBinary(dist.Binary{Service: r.Job.Name, Path: "dist/" + filepath.Base(r.Path), OS: r.Job.Target.OS, Arch: r.Job.Target.Arch, Size: r.Size, SHA256: r.SHA256})
			files = append(files, r.Path)
		}
		rec := dist.BuildRecord(jobs, sel, results, "abc", "1.2.3", runtime.Version())
		m.Build = &rec
		return dist.WriteChecksums(distDir, files)
	}))
	return sel
}

// TestShardMergeIntegration builds two services for three platforms with
// real go builds (warm cache; skipped with -short): once whole, and split
// three ways in three separate checkouts; the merged folder must hold the
// shards' own bytes and the same SHA256SUMS and artifacts.json as the
// single-machine run.
func TestShardMergeIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("real go builds of two services for three platforms: skipped with -short")
	}
	root := t.TempDir()
	single := filepath.Join(root, "single", "dist")
	buildRun(t, filepath.Join(root, "single"), single, shard.Spec{})
	var parts []string
	for k := 1; k <= 3; k++ {
		checkout := filepath.Join(root, "machine", string(rune('0'+k)), "src")
		d := filepath.Join(checkout, "dist")
		sel := buildRun(t, checkout, d, shard.Spec{K: k, N: 3})
		assert.Len(t, sel.Taken, 2, "six jobs, three shards: two each")
		parts = append(parts, d)
	}
	dest := filepath.Join(root, "merged", "dist")
	other, err := dist.ReadManifest(parts[0])
	require.NoError(t, err)
	otherBuild := *other.Build
	otherBuild.Commit = strings.Repeat("f", 40)
	_, err = Merge(context.Background(), parts, dest, "dist", Fitting(otherBuild))
	var co *CheckoutError
	require.ErrorAs(t, err, &co, "parts of another commit than the checkout's")
	assert.NoDirExists(t, dest, "nothing written")

	var planned []Plan
	_, err = Merge(context.Background(), parts, dest, "dist", OnPlan(func(p Plan) { planned = append(planned, p) }))
	require.NoError(t, err)
	require.Len(t, planned, 1, "the plan is said once, before writing")
	assert.Len(t, planned[0].Binaries, 6)
	want, err := os.ReadFile(filepath.Join(single, dist.ChecksumsFile))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(dest, dist.ChecksumsFile))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got), "SHA256SUMS as one machine writes it")
	singleManifest, err := dist.ReadManifest(single)
	require.NoError(t, err)
	mergedManifest, err := dist.ReadManifest(dest)
	require.NoError(t, err)
	assert.Equal(t, []string{"1/3", "2/3", "3/3"}, mergedManifest.Build.Merged)
	mergedManifest.Build.Merged = nil
	assert.Equal(t, singleManifest, mergedManifest, "artifacts.json as one machine writes it, but for the parts merged")
	for _, p := range parts {
		v, err := dist.Verify(p)
		require.NoError(t, err)
		for _, b := range v.Binaries {
			shardBytes, err := os.ReadFile(b.File)
			require.NoError(t, err)
			merged, err := os.ReadFile(filepath.Join(dest, filepath.Base(b.File)))
			require.NoError(t, err)
			assert.Equal(t, shardBytes, merged, "%s is the shard's own binary", b.Job)
		}
	}
}

// TestShardMergeModifiedCheckoutIntegration builds two shards from clones
// of one git commit, one clone with an untracked file in it (as a CI
// workspace holding downloaded parts has): Go stamps vcs.modified=true
// into that shard's binaries, and merge must refuse to mix them. Real go
// builds, skipped with -short.
func TestShardMergeModifiedCheckoutIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("real go builds in git checkouts: skipped with -short")
	}
	root := t.TempDir()
	clean := filepath.Join(root, "clean")
	for name, data := range twoServices {
		p := filepath.Join(clean, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(clean, ".gitignore"), []byte("/dist/\n"), 0o644))
	fixture.GitInit(t, clean).Commit("services")
	dirty := filepath.Join(root, "dirty")
	fixture.NewGit(t, root).Run("clone", "-q", clean, dirty)
	require.NoError(t, os.MkdirAll(filepath.Join(dirty, "dist-1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dirty, "dist-1", "downloaded"), []byte("x"), 0o644))

	one := filepath.Join(clean, "dist")
	two := filepath.Join(dirty, "dist")
	buildRun(t, clean, one, shard.Spec{K: 1, N: 2})
	buildRun(t, dirty, two, shard.Spec{K: 2, N: 2})
	_, err := Merge(context.Background(), []string{one, two}, filepath.Join(root, "merged"), "dist")
	require.ErrorIs(t, err, ErrRefused)
	var m *MismatchError
	require.ErrorAs(t, err, &m)
	assert.Equal(t, "vcs.modified", m.Field)
	assert.Equal(t, []Group{{Value: "false", Parts: []string{one}}, {Value: "true", Parts: []string{two}}}, m.Groups)
	assert.Contains(t, err.Error(), "untracked files")
	t.Log(err)
}
