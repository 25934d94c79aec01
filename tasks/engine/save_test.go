package engine

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/image"
)

// layerOf is a go-containerregistry layer of one file: it cannot tell its
// uncompressed size without being read, so writeSave spools it.
func layerOf(t *testing.T, name, content string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte(content))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	require.NoError(t, err)
	return l
}

// TestWriteSave reads back what writeSave wrote: manifest.json names the
// config and one plain tar per layer in order, each file's bytes are what
// the config's DiffIDs promise, and a layer listed twice is written once.
func TestWriteSave(t *testing.T) {
	shared := layerOf(t, "etc/shared", "shared")
	base, err := mutate.AppendLayers(empty.Image, layerOf(t, "etc/passwd", "root:x:0:0::/:/bin/sh\n"), shared, shared)
	require.NoError(t, err)
	bcf, err := base.ConfigFile()
	require.NoError(t, err)
	bcf = bcf.DeepCopy()
	bcf.OS, bcf.Architecture = "linux", "amd64"
	base, err = mutate.ConfigFile(base, bcf)
	require.NoError(t, err)
	dir := t.TempDir()
	bin, ca := filepath.Join(dir, "app"), filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(bin, bytes.Repeat([]byte("binary"), 1000), 0o755))
	require.NoError(t, os.WriteFile(ca, []byte("ca"), 0o644))
	assembled, err := image.Build(image.Spec{Name: "app", Binary: bin, OS: "linux", Arch: "amd64", CABundle: ca, Base: base})
	require.NoError(t, err)

	for what, img := range map[string]v1.Image{"go-containerregistry image": base, "assembled image on it": assembled} {
		t.Run(what, func(t *testing.T) {
			tag, err := name.NewTag("magepack-test/save:x")
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, writeSave(&buf, tag, img))

			files := map[string][]byte{}
			tr := tar.NewReader(&buf)
			for {
				h, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				_, dup := files[h.Name]
				assert.False(t, dup, "%s written twice", h.Name)
				files[h.Name], err = io.ReadAll(tr)
				require.NoError(t, err)
			}
			var m []saveManifest
			require.NoError(t, json.Unmarshal(files["manifest.json"], &m))
			require.Len(t, m, 1)
			assert.Equal(t, []string{"magepack-test/save:x"}, m[0].RepoTags)

			raw, err := img.RawConfigFile()
			require.NoError(t, err)
			assert.Equal(t, raw, files[m[0].Config])
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			require.Len(t, m[0].Layers, len(cf.RootFS.DiffIDs))
			for i, f := range m[0].Layers {
				sum := sha256.Sum256(files[f])
				assert.Equal(t, cf.RootFS.DiffIDs[i].Hex, hex.EncodeToString(sum[:]), "layer %d is the plain tar its DiffID names", i)
			}
			assert.Len(t, files, 2+len(cf.RootFS.DiffIDs)-1, "config, manifest.json, each distinct layer once")
		})
	}
}
