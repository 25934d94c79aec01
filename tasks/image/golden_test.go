package image

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuildGoldenDigests pins the digests of an image built from fixed
// bytes (a stand-in binary and CA bundle, not a compiled program, so no
// toolchain changes them): a change to how layers, configs or manifests are
// made shows here, where a user would see new image IDs and digests for an
// unchanged commit.
func TestBuildGoldenDigests(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	require.NoError(t, os.WriteFile(bin, data, 0o755))
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"), 0o644))

	img, err := Build(Spec{
		Name: "app", Binary: bin, OS: "linux", Arch: "amd64", CABundle: ca, Port: 8080,
		Labels: map[string]string{"org.opencontainers.image.title": "app"}, Created: testCreated,
	})
	require.NoError(t, err)
	got := digestsOf(t, img)
	assert.Equal(t, allDigests{
		layer:    "sha256:93a060bb10b2ab1354b3456c7483a0bc2eb1fb421bdd29e84ff103f4dafd5089",
		config:   "sha256:1909b6b7b82415ba773084aa1a6a36c5395ef414f4565bb927f79a3542162346",
		manifest: "sha256:62cfed9f68ff026cc90432d49129c8916df5ad16db224077be73d8ec35cecef0",
	}, got, "scratch")

	// On a Docker-typed base with its own accounts.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\n")
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "etc/passwd", Mode: 0o644, Size: int64(len(passwd)), ModTime: testCreated, Typeflag: tar.TypeReg}))
	_, err = tw.Write(passwd)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	baseLayer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	require.NoError(t, err)
	base, err := mutate.AppendLayers(empty.Image, baseLayer)
	require.NoError(t, err)
	bcf, err := base.ConfigFile()
	require.NoError(t, err)
	bcf = bcf.DeepCopy()
	bcf.OS, bcf.Architecture = "linux", "amd64"
	bcf.Config.Env = []string{"PATH=/bin"}
	base, err = mutate.ConfigFile(base, bcf)
	require.NoError(t, err)
	img, err = Build(Spec{
		Name: "app", Binary: bin, OS: "linux", Arch: "amd64", CABundle: ca, Port: 8080,
		Created: testCreated, Base: base,
	})
	require.NoError(t, err)
	assert.Equal(t, allDigests{
		layer:    "sha256:0995cab195d92cfab5787f44c1e0de4e2b18b2a93a5077b688d8b30f8ada66d3",
		config:   "sha256:699b95df7d3e21fbb2e1ce7619ef304e65ee96024c21c457dd75e5cb281536fd",
		manifest: "sha256:d7cced7c4c4a485139b6d715cbc80829c9373c436c5802f89c0c2abebf239dc9",
	}, digestsOf(t, img), "on a base")
}
