package tasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// svcRepo writes module example.com/acme/svc with files into a new git
// repository, committed at fixture.CommitTime (dist/ ignored) and, when tag
// is not empty, tagged. It returns the folder.
func svcRepo(t *testing.T, files map[string]string, tag string) string {
	t.Helper()
	return fixture.NewModule(t, fixture.Module{Path: "example.com/acme/svc", Go: "1.25.0", Files: files, GitIgnore: "/dist/\n", Git: true, Tag: tag})
}

// git runs git in dir, isolated from the user's configuration, and returns
// its trimmed output.
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return fixture.NewGit(t, dir).Run(args...)
}

// testRun merges cfg with env (no other environment) and resolves a run
// in dir, as a mage run does, with its progress going to a buffer that
// the test log shows when the test fails. It returns the error of a
// configuration that does not resolve.
func testRun(t *testing.T, dir string, cfg Config, env map[string]string) (*run, error) {
	t.Helper()
	buf := &fixture.SyncBuffer{}
	t.Cleanup(func() {
		if t.Failed() && buf.Len() > 0 {
			t.Logf("target output:\n%s", buf.String())
		}
	})
	return newRun(context.Background(), cfg, dir, environWith(env), buf)
}

// environWith is this process's environment with no setting but env
// (withSettings): the run sees only what the test gives.
func environWith(env map[string]string) []string { return withSettings(os.Environ(), env) }

// mustRun is testRun for a configuration that must resolve.
func mustRun(t *testing.T, dir string, cfg Config, env map[string]string) *run {
	t.Helper()
	r, err := testRun(t, dir, cfg, env)
	require.NoError(t, err)
	return r
}

// output is what r has printed so far; reset empties it.
func output(r *run) *fixture.SyncBuffer { return r.log.w.(*fixture.SyncBuffer) }

// envOf is a lookup over a fixed environment, as newRun takes it.
func envOf(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// randomSuffix is a short random suffix for image names no other test run
// uses.
func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// slow skips the test under -short: it needs what the fast inner loop
// leaves out (named by needs: the engine, a registry, builds, mage).
func slow(t *testing.T, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: needs %s", needs)
	}
}

// layerOf reads the manifest and the one layer of the artifact d in
// repo (an SBOM, a VEX document or a Sigstore bundle attached as a
// referrer).
func layerOf(t *testing.T, repo name.Repository, d v1.Hash) (*v1.Manifest, []byte) {
	t.Helper()
	img, err := remote.Image(repo.Digest(d.String()))
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	require.Len(t, m.Layers, 1)
	l, err := img.LayerByDigest(m.Layers[0].Digest)
	require.NoError(t, err)
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	return m, data
}
