package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// sharedCA is a stand-in CA bundle that lives as long as the test process,
// for images shared between tests.
var sharedCA string

// helloSource is the tiny program in the test images.
const helloSource = "package main\n\nfunc main() { println(\"hello\") }\n"

// helloBin returns helloSource built static for linux/amd64 (once, cached:
// see fixture.Program).
func helloBin(t testing.TB) string {
	t.Helper()
	return fixture.Program(t, helloSource, "linux", "amd64")
}

var (
	platformImagesOnce sync.Once
	platformImagesVal  []v1.Image
	platformImagesErr  error
)

// platformImages are scratch images of helloBin for linux/amd64,
// linux/arm64 and linux/arm/v7 (the binary's own architecture does not
// matter to the image), built once and shared by the index, layout and
// push tests.
func platformImages(t *testing.T) []v1.Image {
	t.Helper()
	bin := helloBin(t)
	platformImagesOnce.Do(func() {
		for _, p := range [][2]string{{"amd64", ""}, {"arm64", ""}, {"arm", "v7"}} {
			img, err := Build(Spec{Name: "hello", Binary: bin, OS: "linux", Arch: p[0], Variant: p[1], CABundle: sharedCA, Port: 8080, Created: testCreated})
			if err != nil {
				platformImagesErr = err
				return
			}
			platformImagesVal = append(platformImagesVal, img)
		}
	})
	require.NoError(t, platformImagesErr)
	return platformImagesVal
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "magepack-image-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	sharedCA = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(sharedCA, []byte("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// testCA writes a stand-in CA bundle (its content only has to be copied).
func testCA(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644))
	return p
}

var testCreated = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func scratchSpec(t *testing.T) Spec {
	t.Helper()
	return Spec{
		Name:     "hello",
		Binary:   helloBin(t),
		OS:       "linux",
		Arch:     "amd64",
		CABundle: testCA(t),
		Port:     8080,
		Labels:   map[string]string{"org.opencontainers.image.title": "hello"},
		Created:  testCreated,
	}
}

func mustBuild(t *testing.T, s Spec) v1.Image {
	t.Helper()
	img, err := Build(s)
	require.NoError(t, err)
	return img
}

// tarEntry is one entry of a layer as tests look at it.
type tarEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	ModTime  time.Time
	Linkname string
	Data     []byte
}

func layerEntries(t *testing.T, l v1.Layer) (map[string]tarEntry, []string) {
	t.Helper()
	entries := map[string]tarEntry{}
	var order []string
	fixture.EachLayerEntry(t, l, func(h *tar.Header, r io.Reader) {
		data, err := io.ReadAll(r)
		require.NoError(t, err)
		entries[h.Name] = tarEntry{Type: h.Typeflag, Mode: h.Mode, UID: h.Uid, GID: h.Gid, ModTime: h.ModTime, Linkname: h.Linkname, Data: data}
		order = append(order, h.Name)
	})
	return entries, order
}

func topLayer(t *testing.T, img v1.Image) v1.Layer {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	require.NotEmpty(t, ls)
	return ls[len(ls)-1]
}

// tarLayer makes a layer from name -> content; a name ending in "/" is a
// directory.
func tarLayer(t *testing.T, files ...[2]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f[0], Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(f[1]))}
		if f[0][len(f[0])-1] == '/' {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(f[1]))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	require.NoError(t, err)
	return l
}

func sha256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
