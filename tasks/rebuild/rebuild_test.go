package rebuild

import (
	"archive/tar"
	"bytes"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// file is one entry of a synthetic layer.
type file struct {
	name     string
	data     []byte
	mode     int64
	uid, gid int
	mtime    time.Time
}

var epoch = time.Unix(1700000000, 0).UTC()

// layerOf makes a layer of files, in order.
func layerOf(t *testing.T, files ...file) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: f.mtime, Size: int64(len(f.data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}))
		_, err := tw.Write(f.data)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	require.NoError(t, err)
	return l
}

func baseFiles() []file {
	return []file{
		{name: "etc/passwd", data: []byte("root:x:0:0::/root:/bin/sh\n"), mode: 0o644, mtime: epoch},
		{name: "usr/local/bin/app", data: []byte("app v1"), mode: 0o755, mtime: epoch},
	}
}

func TestLayer(t *testing.T) {
	cases := []struct {
		name   string
		change func([]file) []file
		want   Difference
	}{
		{"content", func(fs []file) []file { fs[1].data = []byte("app v2"); return fs },
			Difference{What: "/usr/local/bin/app", How: "content"}},
		{"mode", func(fs []file) []file { fs[1].mode = 0o700; return fs },
			Difference{What: "/usr/local/bin/app", How: "mode", Published: "0755", Rebuilt: "0700"}},
		{"owner", func(fs []file) []file { fs[0].uid = 65532; return fs },
			Difference{What: "/etc/passwd", How: "owner", Published: "0:0", Rebuilt: "65532:0"}},
		{"mtime", func(fs []file) []file { fs[0].mtime = epoch.Add(time.Hour); return fs },
			Difference{What: "/etc/passwd", How: "mtime", Published: "2023-11-14T22:13:20Z", Rebuilt: "2023-11-14T23:13:20Z"}},
		{"missing in the rebuild", func(fs []file) []file { return fs[:1] },
			Difference{What: "/usr/local/bin/app", How: "missing"}},
		{"first by path wins", func(fs []file) []file { fs[0].mode, fs[1].mode = 0o600, 0o700; return fs },
			Difference{What: "/etc/passwd", How: "mode", Published: "0644", Rebuilt: "0600"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Layer(layerOf(t, baseFiles()...), layerOf(t, c.change(baseFiles())...))
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, c.want.What, got[0].What)
			assert.Equal(t, c.want.How, got[0].How)
			if c.want.Published != "" {
				assert.Equal(t, c.want.Published, got[0].Published)
				assert.Equal(t, c.want.Rebuilt, got[0].Rebuilt)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	cases := []struct {
		name     string
		pub, reb string
		want     []Difference
	}{
		{"equal, other order", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, nil},
		{"a label, by its dotted key", `{"config":{"Labels":{"org.opencontainers.image.version":"1.2.3"}}}`, `{"config":{"Labels":{"org.opencontainers.image.version":"1.2.4"}}}`,
			[]Difference{{What: `config.Labels["org.opencontainers.image.version"]`, Published: "1.2.3", Rebuilt: "1.2.4"}}},
		{"first key in order", `{"a":{"x":1},"b":2}`, `{"a":{"x":2},"b":3}`, []Difference{{What: "a.x", Published: "1", Rebuilt: "2"}}},
		{"array element", `{"env":["A=1","B=2"]}`, `{"env":["A=1","B=3"]}`, []Difference{{What: "env[1]", Published: "B=2", Rebuilt: "B=3"}}},
		{"array length", `{"env":["A=1"]}`, `{"env":["A=1","B=3"]}`, []Difference{{What: "env", Published: `["A=1"]`, Rebuilt: `["A=1","B=3"]`}}},
		{"a key only one side has", `{"a":1}`, `{"a":1,"user":"65532"}`, []Difference{{What: "user", Rebuilt: "65532"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, JSON("", []byte(c.pub), []byte(c.reb)))
		})
	}
}

// imageOf is a scratch image of one layer of files, with cfg.
func imageOf(t *testing.T, cfg v1.Config, files ...file) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, files...))
	require.NoError(t, err)
	img, err = mutate.Config(img, cfg)
	require.NoError(t, err)
	return img
}

func TestImage(t *testing.T) {
	cfg := v1.Config{User: "65532", Labels: map[string]string{"org.opencontainers.image.version": "1.2.3"}}
	pub := imageOf(t, cfg, baseFiles()...)

	t.Run("identical", func(t *testing.T) {
		res, err := Image("app", pub, imageOf(t, cfg, baseFiles()...))
		require.NoError(t, err)
		assert.True(t, res.Identical, res.Why())
		assert.Empty(t, res.Why())
	})
	t.Run("a layer, by its file", func(t *testing.T) {
		fs := baseFiles()
		fs[1].data = []byte("tampered")
		res, err := Image("app", pub, imageOf(t, cfg, fs...))
		require.NoError(t, err)
		assert.False(t, res.Identical)
		assert.Equal(t, LevelLayer, res.Level)
		assert.Contains(t, res.Why(), "/usr/local/bin/app content")
	})
	t.Run("the config, by its field", func(t *testing.T) {
		other := cfg
		other.Labels = map[string]string{"org.opencontainers.image.version": "1.2.4"}
		res, err := Image("app", pub, imageOf(t, other, baseFiles()...))
		require.NoError(t, err)
		assert.Equal(t, LevelConfig, res.Level)
		assert.Equal(t, `config.Labels["org.opencontainers.image.version"]`, res.Differences[0].What)
	})
	t.Run("the manifest, by its annotation", func(t *testing.T) {
		annotated := mutate.Annotations(imageOf(t, cfg, baseFiles()...), map[string]string{"org.opencontainers.image.revision": "abc"}).(v1.Image)
		res, err := Image("app", pub, annotated)
		require.NoError(t, err)
		assert.Equal(t, LevelManifest, res.Level)
		assert.Equal(t, `annotations`, res.Differences[0].What)
	})
	t.Run("random layers", func(t *testing.T) {
		a, err := random.Image(256, 2)
		require.NoError(t, err)
		b, err := random.Image(256, 2)
		require.NoError(t, err)
		res, err := Image("rand", a, b)
		require.NoError(t, err)
		assert.Equal(t, LevelLayer, res.Level)
		assert.Contains(t, res.Part, "1 (sha256:")
	})
}

func TestIndex(t *testing.T) {
	cfg := v1.Config{User: "65532"}
	amd := v1.Platform{OS: "linux", Architecture: "amd64"}
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	index := func(amdImg, armImg v1.Image) v1.ImageIndex {
		return mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: amdImg, Descriptor: v1.Descriptor{Platform: &amd}},
			mutate.IndexAddendum{Add: armImg, Descriptor: v1.Descriptor{Platform: &arm}})
	}
	same := imageOf(t, cfg, baseFiles()...)
	pub := index(same, imageOf(t, cfg, baseFiles()...))

	res, err := Index("app:1.2.3-scratch", pub, index(same, same))
	require.NoError(t, err)
	assert.True(t, res.Identical, res.Why())

	fs := baseFiles()
	fs[0].mode = 0o600
	res, err = Index("app:1.2.3-scratch", pub, index(same, imageOf(t, cfg, fs...)))
	require.NoError(t, err)
	assert.False(t, res.Identical)
	assert.Equal(t, "linux/arm64", res.Platform)
	assert.Equal(t, LevelLayer, res.Level)
	assert.Equal(t, "/etc/passwd", res.Differences[0].What)

	annotated := mutate.Annotations(index(same, same), map[string]string{"org.opencontainers.image.version": "9"}).(v1.ImageIndex)
	res, err = Index("app:1.2.3-scratch", pub, annotated)
	require.NoError(t, err)
	assert.Equal(t, LevelIndex, res.Level)
	assert.Equal(t, "annotations", res.Differences[0].What)

	one := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: same, Descriptor: v1.Descriptor{Platform: &amd}})
	res, err = Index("app:1.2.3-scratch", pub, one)
	require.NoError(t, err)
	assert.Equal(t, LevelMissing, res.Level)
	assert.Equal(t, "linux/arm64", res.Platform)
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binaries builds one small program three times, as magepack does (with
// -trimpath, so no -ldflags in the build information): with -X
// main.v=release-a, with -X main.v=release-a -X main.extra=evil-value,
// and with -X main.v=release-b; it returns their paths.
func binaries(t *testing.T) (a, extra, b string) {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "rebuild-bins")
		if binErr != nil {
			return
		}
		src := filepath.Join(binDir, "src")
		if binErr = os.MkdirAll(src, 0o755); binErr != nil {
			return
		}
		os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/tiny\n\ngo 1.22\n"), 0o644)
		os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nvar v, extra string\n\nfunc main() { println(v, extra) }\n"), 0o644)
		for name, flags := range map[string]string{"a": "-s -w -X main.v=release-a", "extra": "-s -w -X main.v=release-a -X main.extra=evil-value", "b": "-s -w -X main.v=release-b"} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags", flags, "-o", filepath.Join(binDir, name), ".")
			cmd.Dir = src
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
			if out, err := cmd.CombinedOutput(); err != nil {
				binErr = &buildErr{out: string(out), err: err}
				return
			}
		}
	})
	require.NoError(t, binErr)
	return filepath.Join(binDir, "a"), filepath.Join(binDir, "extra"), filepath.Join(binDir, "b")
}

type buildErr struct {
	out string
	err error
}

func (e *buildErr) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func TestBinary(t *testing.T) {
	a, extra, b := binaries(t)

	res, err := Binary("dist/tiny", a, a)
	require.NoError(t, err)
	assert.True(t, res.Identical)

	t.Run("an -X the rebuild set, by its name", func(t *testing.T) {
		res, err := Binary("dist/tiny", b, a, WithLdflags("-s -w -X main.v=release-a"))
		require.NoError(t, err)
		assert.False(t, res.Identical)
		assert.Equal(t, LevelBinary, res.Level)
		require.NotEmpty(t, res.Differences)
		assert.Equal(t, Difference{What: "-ldflags -X main.v", Published: "release-b", Rebuilt: "release-a"}, res.Differences[0])
	})
	t.Run("an -X the rebuild did not set, by its value", func(t *testing.T) {
		res, err := Binary("dist/tiny", extra, a, WithLdflags("-s -w -X main.v=release-a"))
		require.NoError(t, err)
		require.NotEmpty(t, res.Differences)
		assert.Equal(t, "string", res.Differences[0].What)
		assert.Contains(t, res.Differences[0].Published, "evil-value")
	})

	_, err = Binary("dist/tiny", filepath.Join(t.TempDir(), "none"), a)
	assert.ErrorContains(t, err, "read the published dist/tiny")
}

func TestLayerExplainsABinary(t *testing.T) {
	a, _, b := binaries(t)
	ad, err := os.ReadFile(a)
	require.NoError(t, err)
	bd, err := os.ReadFile(b)
	require.NoError(t, err)
	pub := layerOf(t, file{name: "usr/local/bin/tiny", data: bd, mode: 0o755, mtime: epoch})
	reb := layerOf(t, file{name: "usr/local/bin/tiny", data: ad, mode: 0o755, mtime: epoch})
	got, err := Layer(pub, reb, WithLdflags("-X main.v=release-a"))
	require.NoError(t, err)
	require.NotEmpty(t, got)
	assert.Equal(t, "/usr/local/bin/tiny: -ldflags -X main.v", got[0].What)
	assert.Equal(t, "release-b", got[0].Published)
}

func TestBuildInfoOrder(t *testing.T) {
	pub := mustInfo(t, "go1.26.8", map[string]string{"-ldflags": "-X main.v=1", "vcs.modified": "true", "CGO_ENABLED": "0"})
	reb := mustInfo(t, "go1.26.7", map[string]string{"-ldflags": "-X main.v=1", "vcs.modified": "false", "CGO_ENABLED": "0"})
	got := BuildInfo(pub, reb)
	require.Len(t, got, 2)
	assert.Equal(t, "go", got[0].What, "the Go version first")
	assert.Equal(t, Difference{What: "vcs.modified", Published: "true", Rebuilt: "false"}, got[1])
}

func mustInfo(t *testing.T, goVersion string, settings map[string]string) *debug.BuildInfo {
	t.Helper()
	info := &debug.BuildInfo{GoVersion: goVersion, Main: debug.Module{Path: "example.com/tiny", Version: "(devel)"}}
	for k, v := range settings {
		info.Settings = append(info.Settings, debug.BuildSetting{Key: k, Value: v})
	}
	return info
}

func sampleReport() Report {
	return Report{
		Commit: "0123456789abcdef0123456789abcdef01234567", Toolchain: "go1.26.8",
		Results: []Result{
			{Artifact: "dist/app_linux_amd64", Published: "sha256:aa", Rebuilt: "sha256:bb", Level: LevelBinary,
				Differences: []Difference{{What: "-ldflags", Published: "-X main.extra=evil"}, {What: "vcs.modified", Published: "true", Rebuilt: "false"}}},
			{Artifact: "127.0.0.1:5000/app:1.2.3-alpine", Identical: true, Published: "sha256:cc", Rebuilt: "sha256:cc"},
			{Artifact: "127.0.0.1:5000/app:1.2.3-scratch", Published: "sha256:dd", Rebuilt: "sha256:ee", Level: LevelLayer, Platform: "linux/arm64", Part: "2 (sha256:0123456789ab)",
				Differences: []Difference{{What: "/etc/passwd", How: "mode", Published: "0644", Rebuilt: "0600"}}},
		},
	}
}

func TestRender(t *testing.T) {
	r := sampleReport()
	js, err := r.JSON()
	require.NoError(t, err)
	golden(t, "report.json", js)
	golden(t, "report.md", r.Markdown())

	// The same report in another order renders the same bytes.
	r.Results[0], r.Results[2] = r.Results[2], r.Results[0]
	js2, err := r.JSON()
	require.NoError(t, err)
	assert.Equal(t, string(js), string(js2))
}

func TestErr(t *testing.T) {
	r := sampleReport()
	r.Sort()
	err := r.Err()
	var m *MismatchError
	require.ErrorAs(t, err, &m)
	assert.Equal(t, "127.0.0.1:5000/app:1.2.3-scratch", m.Result.Artifact)
	assert.Equal(t, 1, m.Others)
	assert.Contains(t, err.Error(), "layer of linux/arm64 2 (sha256:0123456789ab): /etc/passwd mode")
	assert.NoError(t, Report{Results: []Result{{Identical: true}}}.Err())
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./tasks/rebuild -update to create the golden files")
	assert.Equal(t, string(want), string(got), "output differs from %s; if the change is intended, run go test ./tasks/rebuild -update", path)
}
