package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/rebuild"
)

// rebuildClone clones origin into a new folder: a second machine's
// checkout of the same repository.
func rebuildClone(t *testing.T, origin string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	git(t, origin, "clone", "-q", origin, dir)
	return dir
}

// rebuildPublish publishes the scratch image of the module in dir for
// linux/amd64 to repo, signed with key; tamper runs between the build and
// the signing, as a build machine that records other settings than it
// built with would.
func rebuildPublish(t *testing.T, dir, repo string, key fixture.KeyPair, cfg Config, tamper func(*run)) {
	t.Helper()
	cfg.Platforms, cfg.Image, cfg.Variants = "linux/amd64", repo, "scratch"
	r := pubLinuxRun(t, dir, cfg, map[string]string{"MAGEPACK_SIGN_KEY": string(key.Private)})
	if tamper != nil {
		tamper(r)
	}
	require.NoError(t, r.publishIndexes(context.Background()))
}

// rebuildIn runs the rebuild target's work in dir with env and returns
// the run and its error.
func rebuildIn(t *testing.T, dir string, env map[string]string) (*run, error) {
	t.Helper()
	r := mustRun(t, dir, Config{}, env)
	return r, r.rebuild(context.Background())
}

// assertUntouched checks that the checkout at dir has no change (dist/ is
// ignored) and no worktree left behind.
func assertUntouched(t *testing.T, dir string) {
	t.Helper()
	assert.Empty(t, git(t, dir, "status", "--porcelain"), "the working tree is untouched")
	assert.Equal(t, 1, strings.Count(git(t, dir, "worktree", "list"), "\n")+1, "no temporary worktree is left")
}

// readJSON decodes the JSON file at path into v.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v))
}

func TestRebuildImageIntegration(t *testing.T) {
	slow(t, "a registry and builds")
	reg := fixture.StartRegistry(t)
	key := fixture.Ed25519Key(t)
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	require.NoError(t, os.WriteFile(pub, key.Public, 0o644))
	origin := pubModule(t)

	t.Run("a published image rebuilds identical from another clone", func(t *testing.T) {
		repo := reg.Host + "/rebuild-same"
		rebuildPublish(t, rebuildClone(t, origin), repo, key, Config{}, nil)
		second := rebuildClone(t, origin)
		r, err := rebuildIn(t, second, map[string]string{"MAGEPACK_REBUILD_REF": repo + ":1.2.3-scratch", "MAGEPACK_VERIFY_KEY": pub})
		require.NoError(t, err, output(r).String())
		assert.Contains(t, output(r).String(), "["+repo+":1.2.3-scratch] identical (sha256:")
		assertUntouched(t, second)
		var rep rebuild.Report
		readJSON(t, filepath.Join(second, "dist", "rebuild.json"), &rep)
		require.Len(t, rep.Results, 1)
		assert.True(t, rep.Results[0].Identical)
		assert.True(t, rep.Verified)
		assert.FileExists(t, filepath.Join(second, "dist", "rebuild.md"))
	})

	t.Run("both variants of a two-platform publish in dist/oci rebuild once, identical", func(t *testing.T) {
		alpine := fixture.PushAlpineIndex(t, reg)
		dir := rebuildClone(t, origin)
		r := pubLinuxRun(t, dir, Config{Platforms: "linux/amd64,linux/arm64", Variants: "scratch,alpine", AlpineBase: alpine, Push: "never"},
			map[string]string{"MAGEPACK_SIGN_KEY": string(key.Private)})
		require.NoError(t, r.publishIndexes(context.Background()))
		rb, err := rebuildIn(t, dir, map[string]string{"MAGEPACK_VERIFY_KEY": pub})
		require.NoError(t, err, output(rb).String())
		out := output(rb).String()
		assert.Contains(t, out, "[dist/oci:1.2.3-scratch] identical")
		assert.Contains(t, out, "[dist/oci:1.2.3-alpine] identical")
		assert.Equal(t, 1, strings.Count(out, "rebuilding commit"), "one rebuild for both variants:\n%s", out)
		assertUntouched(t, dir)
	})

	t.Run("an -X the provenance does not record is the first difference, exit 9", func(t *testing.T) {
		repo := reg.Host + "/rebuild-tampered"
		rebuildPublish(t, rebuildClone(t, origin), repo, key, Config{Ldflags: "-X main.date=tampered"}, func(r *run) { r.p.opts.Ldflags = "" })
		second := rebuildClone(t, origin)
		r, err := rebuildIn(t, second, map[string]string{"MAGEPACK_REBUILD_REF": repo + ":1.2.3-scratch"})
		var m *rebuild.MismatchError
		require.ErrorAs(t, err, &m, output(r).String())
		assert.Equal(t, ExitVerify, exitCode(err))
		assert.Equal(t, rebuild.LevelLayer, m.Result.Level)
		require.NotEmpty(t, m.Result.Differences)
		first := m.Result.Differences[0]
		assert.Equal(t, "/usr/local/bin/"+pubAppName+": -ldflags -X main.date", first.What, err.Error())
		assert.Contains(t, first.Published, "tampered")
		assert.Contains(t, output(r).String(), "unverified")
		assert.Contains(t, output(r).String(), "differs at layer of linux/amd64")
		assertUntouched(t, second)
	})

	t.Run("an image built with uncommitted changes is vcs.modified", func(t *testing.T) {
		repo := reg.Host + "/rebuild-dirty"
		dirty := rebuildClone(t, origin)
		main := filepath.Join(dirty, "main.go")
		src, err := os.ReadFile(main)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(main, append(src, []byte("\nvar edited = \"uncommitted\"\n")...), 0o644))
		rebuildPublish(t, dirty, repo, key, Config{}, nil)
		r, err := rebuildIn(t, rebuildClone(t, origin), map[string]string{"MAGEPACK_REBUILD_REF": repo + ":1.2.3-dirty-scratch"})
		var m *rebuild.MismatchError
		require.ErrorAs(t, err, &m, output(r).String())
		require.NotEmpty(t, m.Result.Differences)
		assert.Equal(t, "/usr/local/bin/"+pubAppName+": vcs.modified", m.Result.Differences[0].What, err.Error())
		assert.Equal(t, "true", m.Result.Differences[0].Published)
	})
}

func TestRebuildBinariesIntegration(t *testing.T) {
	slow(t, "builds")
	key := fixture.ECDSAKey(t)
	pub := filepath.Join(t.TempDir(), "cosign.pub")
	require.NoError(t, os.WriteFile(pub, key.Public, 0o644))
	dir := pubModule(t)
	r := mustRun(t, dir, Config{Platforms: "linux/amd64,linux/arm64"}, map[string]string{"MAGEPACK_SIGN_KEY": string(key.Private)})
	require.NoError(t, r.crossCompile(context.Background()))
	before, err := dist.ReadManifest(r.p.Dist)
	require.NoError(t, err)

	rb, err := rebuildIn(t, dir, map[string]string{"MAGEPACK_VERIFY_KEY": pub})
	require.NoError(t, err, output(rb).String())
	out := output(rb).String()
	assert.Contains(t, out, "[dist/"+pubAppName+"_linux_amd64] identical")
	assert.Contains(t, out, "[dist/"+pubAppName+"_linux_arm64] identical")
	assert.Equal(t, 1, strings.Count(out, "rebuilding commit"), "one rebuild for both platforms:\n%s", out)
	after, err := dist.ReadManifest(r.p.Dist)
	require.NoError(t, err)
	assert.Equal(t, before, after, "dist/ is as crossCompile left it")
	assertUntouched(t, dir)

	t.Run("Ctrl-C during the rebuild removes the temporary checkout", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		rr := mustRun(t, dir, Config{}, map[string]string{"MAGEPACK_VERIFY_KEY": pub})
		rr.log.w = &cancelOn{w: rr.log.w, line: "rebuilding commit", cancel: cancel}
		err := rr.rebuild(ctx)
		assert.Equal(t, ExitInterrupted, exitCode(err), "%v", err)
		left, err := filepath.Glob(filepath.Join(tmp, "magepack-rebuild-*"))
		require.NoError(t, err)
		assert.Empty(t, left, "the temporary checkout is removed")
		assertUntouched(t, dir)
	})

	t.Run("a key that did not sign is a verification failure", func(t *testing.T) {
		other := fixture.Ed25519Key(t)
		otherPub := filepath.Join(t.TempDir(), "other.pub")
		require.NoError(t, os.WriteFile(otherPub, other.Public, 0o644))
		_, err := rebuildIn(t, dir, map[string]string{"MAGEPACK_VERIFY_KEY": otherPub})
		assert.Equal(t, ExitVerify, exitCode(err), "%v", err)
	})
}

func TestRebuildSettings(t *testing.T) {
	b := attest.Build{
		BuildType: attest.BuildTypePrefix + "index/v1", BuilderID: builderDefault, Toolchain: "go1.26.8",
		Source: attest.Source{Commit: "0123456789abcdef0123456789abcdef01234567"},
		Base:   &attest.ResourceDescriptor{URI: "oci://magepack-test/alpine:3", Digest: attest.DigestSet("sha256:00")},
		External: map[string]any{
			"service": "api", "main": "./cmd/api", "version": "1.2.3", "cgo": false, "ldflags": "-X main.extra=1",
			"platforms": "linux/amd64,linux/arm64", "variant": "alpine", "tags": "1.2.3-alpine,alpine", "tzdata": false,
			"created": "2023-11-14T22:13:20Z", "port": float64(9090), "buildTags": "netgo", "cgoStatic": true,
		},
	}
	prov, err := b.Predicate()
	require.NoError(t, err)
	got, err := rebuildSettings(prov)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"MAGEPACK_MAIN": "./cmd/api", "MAGEPACK_NAME": "api", "MAGEPACK_VERSION": "1.2.3", "MAGEPACK_CGO": "static",
		"MAGEPACK_LDFLAGS": "-X main.extra=1", "MAGEPACK_PLATFORMS": "linux/amd64,linux/arm64", "MAGEPACK_VARIANTS": "alpine",
		"MAGEPACK_TZDATA": "0", "MAGEPACK_PORT": "9090", "MAGEPACK_TAGS": "netgo", "MAGEPACK_ALPINE_BASE": "magepack-test/alpine:3",
		"MAGEPACK_TOOLCHAIN": "go1.26.8", "SOURCE_DATE_EPOCH": "1700000000", "MAGEPACK_PUSH": "never", "MAGEPACK_SMOKE": "off",
	}, got)
	assert.Empty(t, plan.UnknownSettings([]string{"MAGEPACK_REBUILD_REF=x"}), "MAGEPACK_REBUILD_REF is a setting")
	for k := range got {
		if strings.HasPrefix(k, "MAGEPACK_") {
			assert.Empty(t, plan.UnknownSettings([]string{k + "=x"}), "%s is a setting", k)
		}
	}

	b.External = map[string]any{"service": "api"}
	prov, err = b.Predicate()
	require.NoError(t, err)
	_, err = rebuildSettings(prov)
	assert.ErrorContains(t, err, "not made by magepack")
}

func TestGroupRebuilds(t *testing.T) {
	subject := func(variant string) rebuildSubject {
		b := attest.Build{BuildType: "x", BuilderID: "y", Source: attest.Source{Commit: "c0ffee"}, External: map[string]any{
			"main": ".", "version": "1.2.3", "platforms": "linux/amd64", "variant": variant,
		}}
		prov, err := b.Predicate()
		require.NoError(t, err)
		return rebuildSubject{name: variant, prov: prov, index: nil}
	}
	idx := func(s rebuildSubject) rebuildSubject { s.index = empty.Index; return s }
	alpine := func(base string) rebuildSubject {
		s := idx(subject("alpine"))
		s.prov.BuildDefinition.ResolvedDependencies = append(s.prov.BuildDefinition.ResolvedDependencies, attest.ResourceDescriptor{Name: attest.DependencyBase, URI: "oci://" + base})
		return s
	}
	groups, err := groupRebuilds([]rebuildSubject{idx(subject("scratch")), alpine("alpine:3.22")})
	require.NoError(t, err)
	require.Len(t, groups, 1, "two variants of one commit rebuild once")
	assert.Equal(t, "scratch,alpine", groups[0].settings["MAGEPACK_VARIANTS"])
	assert.Equal(t, "alpine:3.22", groups[0].settings["MAGEPACK_ALPINE_BASE"])
	assert.Len(t, groups[0].subjects, 2)

	groups, err = groupRebuilds([]rebuildSubject{alpine("alpine:3.22"), alpine("alpine:3.23")})
	require.NoError(t, err)
	assert.Len(t, groups, 2, "two bases, two rebuilds")
}

func TestRebuildNothing(t *testing.T) {
	dir := pubModule(t)
	_, err := rebuildIn(t, dir, nil)
	assert.Equal(t, ExitConfig, exitCode(err))
	assert.ErrorContains(t, err, "nothing to rebuild")

	var ce *rebuild.CommitError
	assert.Equal(t, ExitConfig, exitCode(&rebuild.CommitError{Commit: "c0ffee"}))
	assert.False(t, errors.As(err, &ce))
}

// cancelOn passes what is written to w, and calls cancel once a write
// holds line: Ctrl-C at that point of a run.
type cancelOn struct {
	w      io.Writer
	line   string
	cancel func()
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.line) {
		c.cancel()
	}
	return c.w.Write(p)
}
