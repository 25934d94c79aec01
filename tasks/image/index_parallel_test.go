package image

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freshPlatformImages builds new images (nothing compressed yet) of bin for
// linux/amd64 and linux/arm64.
func freshPlatformImages(t testing.TB, bin string, created time.Time) []v1.Image {
	t.Helper()
	var imgs []v1.Image
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := Build(Spec{Name: "hello", Binary: bin, OS: "linux", Arch: arch, CABundle: sharedCA, Created: created})
		require.NoError(t, err)
		imgs = append(imgs, img)
	}
	return imgs
}

func TestIndexCompressesEveryImage(t *testing.T) {
	imgs := freshPlatformImages(t, helloBin(t), testCreated)
	for _, img := range imgs {
		require.Nil(t, addedLayer(t, img).gz, "nothing compressed before the index")
	}
	_, err := Index(imgs)
	require.NoError(t, err)
	for _, img := range imgs {
		assert.NotNil(t, addedLayer(t, img).gz, "Index computed every manifest")
	}
}

// brokenDigest is an image whose manifest cannot be computed.
type brokenDigest struct{ v1.Image }

func (brokenDigest) Digest() (v1.Hash, error) { return v1.Hash{}, errors.New("disk on fire") }

func TestIndexDigestError(t *testing.T) {
	imgs := freshPlatformImages(t, helloBin(t), testCreated)
	_, err := Index([]v1.Image{imgs[0], brokenDigest{imgs[1]}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "image index: image 1: manifest digest: disk on fire")
}

// BenchmarkIndex makes a two-platform index of a 6 MB binary and asks its
// digest, with the images' manifests computed one after another (what the
// first use of the index did before) and by Index, in parallel,
// alternating the two in every round. It reports the mean of each and
// their ratio.
//
//	go test -run '^$' -bench Index -benchtime 10x ./tasks/image/
func BenchmarkIndex(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "bin")
	data, err := os.ReadFile(helloBin(b))
	require.NoError(b, err)
	big := make([]byte, 0, 6<<20)
	for len(big) < 6<<20 {
		big = append(big, data...)
	}
	require.NoError(b, os.WriteFile(bin, big, 0o755))
	ways := []struct {
		name string
		run  func(imgs []v1.Image)
		sum  time.Duration
	}{
		{name: "sequential-s/index", run: func(imgs []v1.Image) {
			for _, img := range imgs {
				_, err := img.Digest()
				require.NoError(b, err)
			}
			idx, err := Index(imgs)
			require.NoError(b, err)
			_, err = idx.Digest()
			require.NoError(b, err)
		}},
		{name: "parallel-s/index", run: func(imgs []v1.Image) {
			idx, err := Index(imgs)
			require.NoError(b, err)
			_, err = idx.Digest()
			require.NoError(b, err)
		}},
	}
	round := 0
	for b.Loop() {
		for i := range ways {
			b.StopTimer()
			round++
			imgs := freshPlatformImages(b, bin, testCreated.Add(time.Duration(round)*time.Second))
			b.StartTimer()
			start := time.Now()
			ways[i].run(imgs)
			ways[i].sum += time.Since(start)
		}
	}
	for _, w := range ways {
		b.ReportMetric(w.sum.Seconds()/float64(b.N), w.name)
	}
	b.ReportMetric(float64(ways[1].sum)/float64(ways[0].sum), "parallel/sequential")
}
