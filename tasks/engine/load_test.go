package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// goBinary builds the Go program in pkg (a folder of this module, or a
// file) for linux and the host's architecture, stripped, into dir.
func goBinary(t testing.TB, pkg, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "app")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build %s: %s", pkg, b)
	return out
}

// helloProgram writes a tiny main package and returns its file.
func helloProgram(t testing.TB) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "main.go")
	require.NoError(t, os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644))
	return src
}

// assembledImage builds an image the way magepack's targets do.
func assembledImage(t testing.TB, bin string, base v1.Image, created time.Time) v1.Image {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"), 0o644))
	img, err := image.Build(image.Spec{Name: "app", Binary: bin, OS: "linux", Arch: runtime.GOARCH, CABundle: ca, Port: 8080, Created: created, Base: base})
	require.NoError(t, err)
	return img
}

// loadGzipped loads img the way Load did before it sent plain layers:
// go-containerregistry's docker-save tarball, layers gzipped.
func loadGzipped(t testing.TB, cli *client.Client, tag string, img v1.Image) {
	t.Helper()
	ref, err := name.NewTag(tag)
	require.NoError(t, err)
	pr, pw := io.Pipe()
	go func() { _ = pw.CloseWithError(tarball.Write(ref, img, pw)) }()
	resp, err := cli.ImageLoad(context.Background(), pr, client.ImageLoadWithQuiet(true))
	require.NoError(t, err)
	body, err := io.ReadAll(resp)
	resp.Close()
	require.NoError(t, err)
	require.NotContains(t, string(body), `"error"`, "engine's answer: %s", body)
}

// TestLoadPlainLayersEngine checks what Load promises about sending plain
// layers: the engine gives the image the ID it gives the same image loaded
// with gzipped layers (the config digest), and the manifest digest Load
// reports is the digest a registry shows after a push. It needs the engine
// and a registry.
func TestLoadPlainLayersEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("engine and registry test")
	}
	e := connect(t)
	cli := fixture.Engine(t)
	reg := fixture.StartRegistry(t)
	ctx := context.Background()
	bin := goBinary(t, helloProgram(t), t.TempDir())
	created := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(time.Now().UnixNano() % int64(time.Hour)))
	base, err := e.Image(ctx, fixture.AlpineBase(t))
	require.NoError(t, err)

	tests := []struct {
		name string
		img  v1.Image
	}{
		{"assembled on scratch", assembledImage(t, bin, nil, created)},
		{"assembled on a base read from the engine", assembledImage(t, bin, base, created)},
		{"go-containerregistry image", tinyImage(t, "plain "+t.Name(), v1.Config{})},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := configDigest(t, tt.img)
			tag := fmt.Sprintf("magepack-test/engine-plain:%d", i)
			require.NoError(t, e.Remove(ctx, id))
			cleanupImage(t, e, id)

			res, err := e.Load(ctx, tt.img, []string{tag}, nil)
			require.NoError(t, err)
			require.False(t, res.Skipped, "the engine did not have the image")
			assert.Equal(t, id, res.ID, "plain layers: the ID is the config digest")

			require.NoError(t, e.Remove(ctx, id))
			loadGzipped(t, cli, tag, tt.img)
			info, err := e.Inspect(ctx, tag)
			require.NoError(t, err)
			assert.Equal(t, res.ID, info.ID, "gzipped layers give the same ID")

			ref, err := name.NewTag(reg.Host + "/magepack-test/plain:" + strings.ReplaceAll(tt.name, " ", "-"))
			require.NoError(t, err)
			require.NoError(t, remote.Write(ref, tt.img))
			desc, err := remote.Head(ref)
			require.NoError(t, err)
			assert.Equal(t, desc.Digest.String(), res.ManifestDigest, "the registry's digest")
		})
	}
}

// BenchmarkEngineLoad loads example-app's scratch image (assembled as
// dockerScratch does) into the engine the way Load did before (the
// manifest digest first, then go-containerregistry's tarball with gzipped
// layers) and the way it does now (plain layers, the digest computed beside
// the load), alternating the two in every round so a change in the
// machine's load hits both alike. Each load gets a new image (a new
// creation time), built untimed and removed afterwards, so every load is a
// real one. It reports the mean of each way and their ratio.
//
//	go test -run '^$' -bench EngineLoad -benchtime 10x ./tasks/engine/
func BenchmarkEngineLoad(b *testing.B) {
	if testing.Short() {
		b.Skip("engine benchmark")
	}
	e := connectB(b)
	cli := fixture.Engine(b)
	ctx := context.Background()
	bin := goBinary(b, "../../example-app", b.TempDir())
	const tag = "magepack-test/engine-bench:scratch"
	round := 0
	fresh := func() v1.Image {
		round++
		return assembledImage(b, bin, nil, time.Unix(int64(1700000000+round), 0))
	}
	remove := func(img v1.Image) {
		id, err := img.ConfigName()
		require.NoError(b, err)
		require.NoError(b, e.Remove(ctx, id.String()))
	}
	ways := []struct {
		name string
		load func(img v1.Image)
		sum  time.Duration
	}{
		{name: "before-s/load", load: func(img v1.Image) {
			_, err := img.Digest()
			require.NoError(b, err)
			loadGzipped(b, cli, tag, img)
		}},
		{name: "now-s/load", load: func(img v1.Image) {
			res, err := e.Load(ctx, img, []string{tag}, nil)
			require.NoError(b, err)
			require.False(b, res.Skipped)
			require.NotEmpty(b, res.ManifestDigest)
		}},
	}
	b.ResetTimer()
	for b.Loop() {
		for i := range ways {
			b.StopTimer()
			img := fresh()
			b.StartTimer()
			start := time.Now()
			ways[i].load(img)
			ways[i].sum += time.Since(start)
			b.StopTimer()
			remove(img)
			b.StartTimer()
		}
	}
	for _, w := range ways {
		b.ReportMetric(w.sum.Seconds()/float64(b.N), w.name)
	}
	b.ReportMetric(float64(ways[1].sum)/float64(ways[0].sum), "now/before")
}

func connectB(b *testing.B) *engine.Engine {
	b.Helper()
	fixture.Engine(b)
	e, err := engine.Connect(context.Background())
	require.NoError(b, err)
	b.Cleanup(func() { _ = e.Close() })
	return e
}
