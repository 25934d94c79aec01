package e2e_test

// Scale-out over CI machines, end to end: three shards build
// their share of the jobs in clones of their own, each with an empty Go
// build cache, as three CI machines would; a fourth checkout merges their
// dist folders and publishes from them without compiling anything; the
// result is compared byte for byte with one machine doing it all.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// shardMain is a small program: little to compile cold, so three cold
// machines stay cheap.
const shardMain = `package main

import "os"

var version = "dev"

func main() { os.Stdout.WriteString(version + "\n") }
`

// goLogger is a go command that logs each invocation's arguments to
// $GO_LOG and runs the real one: what a run asked go to do.
const goLogger = `#!/bin/sh
printf '%s\n' "$*" >> "$GO_LOG"
exec "$REAL_GO" "$@"
`

func TestIntegrationShardsMergePublish(t *testing.T) {
	fixture.SkipShort(t, "three cold builds, a mage binary and a registry")
	reg := fixture.StartRegistry(t)
	origin := fixture.NewModule(t, fixture.Module{
		Path:      "example.com/acme/fleet",
		Files:     map[string]string{"cmd/api/main.go": shardMain, "cmd/worker/main.go": shardMain},
		GitIgnore: "/dist/\n/dist-*/\n",
		Tag:       "v1.2.3",
	})
	bin := fixture.TasksMage(t)
	base := []string{
		"MAGEPACK_MAIN=./cmd/...",
		"MAGEPACK_PLATFORMS=linux/amd64,linux/arm64",
		"MAGEPACK_VARIANTS=scratch",
		"DOCKER_HOST=unix:///nonexistent.sock", // publish needs no engine
	}
	clone := func(name string) string {
		dir := filepath.Join(t.TempDir(), name)
		fixture.NewGit(t, origin).Run("clone", "-q", origin, dir)
		return dir
	}
	mage := func(dir string, env []string, args ...string) fixture.MageResult {
		t.Helper()
		res := fixture.RunMage(t, fixture.MageCmd{Bin: bin, Dir: dir, Env: fixture.MageEnv("shards", append(append([]string{}, base...), env...)...), Args: args, Timeout: 10 * time.Minute})
		return res
	}

	// Three CI machines: a clone and an empty build cache each.
	merger := clone("merger")
	var took []string
	for k := 1; k <= 3; k++ {
		dir := clone("shard")
		res := mage(dir, []string{"MAGEPACK_SHARD=" + string(rune('0'+k)) + "/3", "GOCACHE=" + t.TempDir()}, "crossCompile")
		res.RequireOK(t)
		line := regexp.MustCompile(`(?m)^\[shard\] shard \d/3: took (\d) of 4 jobs`).FindStringSubmatch(res.Stdout)
		require.NotNil(t, line, "shard %d says which jobs it took:\n%s", k, res.Stdout)
		took = append(took, line[1])
		// The CI artifact: this shard's dist, downloaded beside the others.
		copyDir(t, filepath.Join(dir, "dist"), filepath.Join(merger, "dist-"+string(rune('0'+k))))
	}
	assert.Equal(t, []string{"2", "1", "1"}, took, "four jobs over three shards, balanced")

	// Parts that must be refused: nothing is written, exit 8, and the
	// message names what is wrong.
	refusals := []struct {
		name  string
		spoil func(dir string)
		want  []string
	}{
		{"a binary changed after it was built", func(dir string) {
			f := filepath.Join(dir, "dist-2", "api_linux_arm64")
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(f, append(b, 0), 0o755))
		}, []string{"api_linux_arm64", "SHA256SUMS"}},
		{"a shard is missing", func(dir string) {
			require.NoError(t, os.RemoveAll(filepath.Join(dir, "dist-3")))
		}, []string{"worker linux/arm64", "shard 3/3"}},
	}
	for _, tt := range refusals {
		t.Run("refused: "+tt.name, func(t *testing.T) {
			dir := clone("refused")
			for k := 1; k <= 3; k++ {
				part := "dist-" + string(rune('0'+k))
				copyDir(t, filepath.Join(merger, part), filepath.Join(dir, part))
			}
			tt.spoil(dir)
			res := mage(dir, nil, "merge", "publish")
			assert.Equal(t, tasks.ExitMerge, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			for _, w := range tt.want {
				assert.Contains(t, res.Stderr, w)
			}
			assert.NoDirExists(t, filepath.Join(dir, "dist"), "nothing written")
		})
	}

	// The merge job: merge, check and publish, and nothing compiled.
	goLog := filepath.Join(t.TempDir(), "go.log")
	wrapper := filepath.Join(t.TempDir(), "bin")
	require.NoError(t, os.MkdirAll(wrapper, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(wrapper, "go"), []byte(goLogger), 0o755))
	realGo, err := exec.LookPath("go")
	require.NoError(t, err)
	res := mage(merger, []string{
		"MAGEPACK_IMAGE=" + reg.Host + "/fleet",
		"PATH=" + wrapper + string(os.PathListSeparator) + os.Getenv("PATH"),
		"GO_LOG=" + goLog, "REAL_GO=" + realGo,
	}, "merge", "staticCheck", "publish")
	res.RequireOK(t)
	t.Logf("merge staticCheck publish:\n%s", res.Stdout)
	assert.Contains(t, res.Stdout, "[merge] 4 jobs from 3 parts: dist-1 (shard 1/3, 2 jobs), dist-2 (shard 2/3, 1 job), dist-3 (shard 3/3, 1 job)")
	assert.Contains(t, res.Stdout, "[build] using the 4 binaries in dist merged from shards 1/3, 2/3, 3/3, verified by checksum; not compiling")
	calls, err := os.ReadFile(goLog)
	require.NoError(t, err)
	require.NotEmpty(t, calls, "the go command was asked something (the wrapper works)")
	for _, c := range strings.Split(strings.TrimSpace(string(calls)), "\n") {
		assert.False(t, strings.HasPrefix(c, "build"), "no go build after merge: %q", c)
	}
	merged := pushedDigests(t, res.Stdout)
	require.Len(t, merged, 2*4, "two services, each four tags")

	// One machine doing it all.
	single := clone("single")
	res = mage(single, []string{"MAGEPACK_IMAGE=" + reg.Host + "/fleet-single"}, "crossCompile", "staticCheck", "publish")
	res.RequireOK(t)

	t.Run("merged SHA256SUMS is one machine's, byte for byte", func(t *testing.T) {
		a, err := os.ReadFile(filepath.Join(merger, "dist", dist.ChecksumsFile))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(single, "dist", dist.ChecksumsFile))
		require.NoError(t, err)
		assert.Equal(t, string(b), string(a))
		assert.Equal(t, 8, strings.Count(string(a), "\n"), "four binaries and their SBOMs")
	})
	t.Run("pushed index digests are one machine's", func(t *testing.T) {
		single := pushedDigests(t, res.Stdout)
		require.Len(t, single, len(merged))
		for ref, d := range merged {
			other := strings.Replace(ref, "/fleet/", "/fleet-single/", 1)
			assert.Equal(t, single[other], d, ref)
			tag, err := name.NewTag(ref)
			require.NoError(t, err)
			desc, err := remote.Head(tag)
			require.NoError(t, err, "%s is in the registry", ref)
			assert.Equal(t, d, desc.Digest.String(), ref)
		}
	})
	t.Run("artifacts.json records the merge", func(t *testing.T) {
		m, err := dist.ReadManifest(filepath.Join(merger, "dist"))
		require.NoError(t, err)
		require.NotNil(t, m.Build)
		assert.Equal(t, []string{"1/3", "2/3", "3/3"}, m.Build.Merged)
		assert.Len(t, m.Build.Built, 4)
		assert.Empty(t, m.Build.Shard)
		assert.Len(t, m.Pushed, 8)
	})
}

// pushedDigests reads publish's last lines, "<reference>@<digest>".
func pushedDigests(t *testing.T, stdout string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(stdout, "\n") {
		if ref, d, ok := strings.Cut(line, "@sha256:"); ok && !strings.Contains(ref, " ") {
			out[ref] = "sha256:" + d
		}
	}
	return out
}

// copyDir copies the regular files of src (not its subfolders) into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dst, 0o755))
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		info, err := e.Info()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, info.Mode().Perm()))
	}
}
