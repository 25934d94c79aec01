package tasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/magefile/mage/mg"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/platform"
)

// cmpJSON is compare.json as a CI step reads it: by its documented field
// names, not through the report package's types.
type cmpJSON struct {
	App      string `json:"app"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	Images   []struct {
		Variant        string  `json:"variant"`
		Reference      string  `json:"reference"`
		ID             string  `json:"id"`
		Size           int64   `json:"size_bytes"`
		Layers         int     `json:"layers"`
		Base           string  `json:"base"`
		Shell          bool    `json:"shell"`
		PackageManager bool    `json:"package_manager"`
		Libc           string  `json:"libc"`
		CABundle       bool    `json:"ca_bundle"`
		User           string  `json:"user"`
		Files          int     `json:"files"`
		StartMedianMS  float64 `json:"start_median_ms"`
		StartRuns      int     `json:"start_runs"`
	} `json:"images"`
	Binaries []struct {
		Variant string `json:"variant"`
		Size    int64  `json:"size_bytes"`
		Linkage string `json:"linkage"`
		Libc    string `json:"libc"`
	} `json:"binaries"`
}

// cmpRandom is a short random suffix for image names no other test run uses.
func cmpRandom(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// cmpUseEngineBinary makes pl's binary in p's dist the one the image
// targets assemble from, as the engineBinary dependency does in a mage run,
// until the test ends.
func cmpUseEngineBinary(t *testing.T, p *project, pl platform.Platform) {
	t.Helper()
	rep, err := linkage.Inspect(p.binaryPath(pl))
	require.NoError(t, err)
	old := engineBin
	engineBin.platform, engineBin.report = pl, rep
	t.Cleanup(func() { engineBin = old })
}

func TestCompareEngineIntegration(t *testing.T) {
	fixture.Engine(t)
	ctx := context.Background()
	base := fixture.AlpineBase(t)
	eng, err := engine.Connect(ctx)
	require.NoError(t, err)
	goos, arch, variant, err := eng.Platform(ctx)
	require.NoError(t, err)
	pl := platform.Platform{OS: goos, Arch: arch, Variant: variant}

	dir := pubModule(t)
	p := pubProject(t, dir, Config{
		Platforms: pl.OS + "/" + pl.Arch, Image: "magepack-test/cmpapp-" + cmpRandom(t),
		AlpineBase: base, Pull: "never", Smoke: "/healthz",
	})
	buf := pubCapture(t)
	require.NoError(t, compile(ctx, p, []platform.Platform{pl}))
	cmpUseEngineBinary(t, p, pl)
	for _, v := range []string{"scratch", "alpine"} {
		for _, ref := range p.refs(v) {
			t.Cleanup(func() {
				if err := eng.Remove(context.Background(), ref); err != nil {
					t.Errorf("clean up %s: %v", ref, err)
				}
			})
		}
		_, err := assembledImage(ctx, p, eng, v)
		require.NoError(t, err, v)
	}

	summary := filepath.Join(t.TempDir(), "step-summary.md")
	require.NoError(t, os.WriteFile(summary, []byte("# earlier step\n"), 0o644))
	t.Setenv("GITHUB_STEP_SUMMARY", summary)
	buf.Reset()
	start := time.Now()
	require.NoError(t, compare(ctx, p, eng))
	t.Logf("compare took %s; output:\n%s", time.Since(start).Round(time.Millisecond), buf.String())

	raw, err := os.ReadFile(filepath.Join(p.dist, "compare.json"))
	require.NoError(t, err)
	var c cmpJSON
	require.NoError(t, json.Unmarshal(raw, &c))
	assert.Equal(t, pubAppName, c.App)
	assert.Equal(t, "1.2.3", c.Version)
	assert.Equal(t, goos+"/"+arch, c.Platform)
	require.Len(t, c.Images, 2)
	images := map[string]int{}
	for i, im := range c.Images {
		images[im.Variant] = i
	}
	require.Contains(t, images, "scratch")
	require.Contains(t, images, "alpine")
	scratch, alpine := c.Images[images["scratch"]], c.Images[images["alpine"]]

	t.Run("image facts", func(t *testing.T) {
		tests := []struct {
			name string
			got  any
			want any
		}{
			{"scratch has no shell", scratch.Shell, false},
			{"alpine has a shell", alpine.Shell, true},
			{"scratch has no package manager", scratch.PackageManager, false},
			{"scratch runs as non-root 65532", scratch.User, "65532:65532"},
			{"alpine runs as non-root 65532", alpine.User, "65532:65532"},
			{"scratch has a CA bundle", scratch.CABundle, true},
			{"alpine has a CA bundle", alpine.CABundle, true},
			{"scratch has no libc", scratch.Libc, engine.LibcNone},
			{"alpine has musl", alpine.Libc, engine.LibcMusl},
			{"scratch is one layer", scratch.Layers, 1},
			{"alpine is the base plus one layer", alpine.Layers, 2},
			{"scratch base", scratch.Base, "scratch"},
			{"alpine base", alpine.Base, base},
			{"scratch reference", scratch.Reference, p.refs("scratch")[0]},
			{"alpine reference", alpine.Reference, p.refs("alpine")[0]},
			{"scratch start runs", scratch.StartRuns, smokeRuns},
			{"alpine start runs", alpine.StartRuns, smokeRuns},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, tt.got) })
		}
		assert.Less(t, scratch.Size, alpine.Size, "scratch is smaller")
		assert.Positive(t, scratch.Size)
		assert.Positive(t, scratch.Files)
		assert.Greater(t, alpine.Files, scratch.Files, "alpine holds the base's files too")
		assert.Positive(t, scratch.StartMedianMS)
		assert.Positive(t, alpine.StartMedianMS)
		assert.True(t, strings.HasPrefix(scratch.ID, "sha256:"), scratch.ID)
		assert.NotEqual(t, scratch.ID, alpine.ID)
	})

	t.Run("binary facts", func(t *testing.T) {
		bins := map[string]int{}
		for i, b := range c.Binaries {
			bins[b.Variant] = i
		}
		require.Contains(t, bins, "static")
		require.Contains(t, bins, "static-stripped")
		static, stripped := c.Binaries[bins["static"]], c.Binaries[bins["static-stripped"]]
		assert.Equal(t, "static", static.Linkage)
		assert.Equal(t, "static", stripped.Linkage)
		assert.Equal(t, "none", static.Libc)
		assert.Less(t, stripped.Size, static.Size, "stripping makes it smaller")
		assert.Positive(t, stripped.Size)
		if goos == "linux" && pl.Arch == runtime.GOARCH {
			require.Contains(t, bins, "cgo-default", "the engine runs this machine's platform, so the cgo build is measured")
			cgo := c.Binaries[bins["cgo-default"]]
			assert.Equal(t, "dynamic", cgo.Linkage)
			assert.Equal(t, "glibc", cgo.Libc)
		}
	})

	t.Run("compare.md, compare.svg and the step summary", func(t *testing.T) {
		md, err := os.ReadFile(filepath.Join(p.dist, "compare.md"))
		require.NoError(t, err)
		assert.Contains(t, string(md), "scratch")
		assert.Contains(t, string(md), "|", "a Markdown table")
		got, err := os.ReadFile(summary)
		require.NoError(t, err)
		assert.Equal(t, "# earlier step\n"+string(md)+"\n", string(got), "compare.md appended to GITHUB_STEP_SUMMARY")

		svg, err := os.ReadFile(filepath.Join(p.dist, "compare.svg"))
		require.NoError(t, err)
		dec := xml.NewDecoder(strings.NewReader(string(svg)))
		var root string
		for {
			tok, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "compare.svg is well-formed XML")
			if se, ok := tok.(xml.StartElement); ok && root == "" {
				root = se.Name.Local
			}
		}
		assert.Equal(t, "svg", root)
		assert.Contains(t, string(svg), "<svg")
	})

	t.Run("terminal table", func(t *testing.T) {
		assert.Contains(t, buf.String(), "[compare] wrote dist/compare.md, compare.json and compare.svg")
		assert.Contains(t, buf.String(), p.refs("scratch")[0])
	})
}

func TestExitCodesIntegration(t *testing.T) {
	ctx := context.Background()
	dir := pubModule(t)
	pubCapture(t)
	good := pubProject(t, dir, Config{Platforms: "linux/amd64", Variants: "scratch"})
	amd64 := platform.Platform{OS: "linux", Arch: "amd64"}

	// A module that does not compile.
	broken := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(broken, "go.mod"), []byte("module example.com/broken\n\ngo 1.25\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(broken, "main.go"), []byte("package main\n\nfunc main() { undefinedCall() }\n"), 0o644))

	// A loopback port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadHost := l.Addr().String()
	require.NoError(t, l.Close())

	tests := []struct {
		name     string
		run      func(t *testing.T) error
		code     int
		contains string
	}{
		{
			name: "config: unknown platform",
			run: func(t *testing.T) error {
				cfg, err := merge(Config{Platforms: "linux/amd65"}, func(string) (string, bool) { return "", false })
				require.NoError(t, err)
				_, err = resolve(ctx, cfg, dir, func(string) string { return "" })
				return err
			},
			code: ExitConfig, contains: "linux/amd64",
		},
		{
			name: "config: bad environment value",
			run: func(t *testing.T) error {
				_, err := merge(Config{}, func(k string) (string, bool) { return "70000", k == "MAGEPACK_PORT" })
				return err
			},
			code: ExitConfig, contains: "MAGEPACK_PORT",
		},
		{
			name: "config: builder older than go.mod",
			run: func(t *testing.T) error {
				return engine.CheckBuilder(semver.MustParse("1.18.0"), semver.MustParse("1.25.0"), "golang:1.18")
			},
			code: ExitConfig, contains: "golang:1.18",
		},
		{
			name: "build: compile error",
			run: func(t *testing.T) error {
				p := pubProject(t, broken, Config{Platforms: "linux/amd64", Main: ".", Version: "1.0.0"})
				err := compile(ctx, p, []platform.Platform{amd64})
				var be *gobuild.BuildError
				require.ErrorAs(t, err, &be)
				return err
			},
			code: ExitBuild, contains: "undefinedCall",
		},
		{
			name: "check: dynamic binary bound for scratch",
			run: func(t *testing.T) error {
				// A glibc system binary stands in for a cgo build; crossCompile
				// would have made dist/ already.
				require.NoError(t, os.MkdirAll(good.dist, 0o755))
				return checkBinaries(good, []string{"/bin/ls"}, []string{"scratch"})
			},
			code: ExitCheck, contains: "/bin/ls",
		},
		{
			name: "no engine",
			run: func(t *testing.T) error {
				t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
				_, err := engine.Connect(ctx)
				return err
			},
			code: ExitNoEngine, contains: "DOCKER_HOST",
		},
		{
			name: "image: binary missing",
			run: func(t *testing.T) error {
				_, err := assemble(good, "scratch", amd64, filepath.Join(t.TempDir(), "missing"), nil)
				return err
			},
			code: ExitImage, contains: "missing",
		},
		{
			name: "push: registry unreachable",
			run: func(t *testing.T) error {
				require.NoError(t, compile(ctx, good, []platform.Platform{amd64}))
				p := *good
				p.image = deadHost + "/app"
				return publish(ctx, &p)
			},
			code: ExitPush, contains: deadHost,
		},
		{
			name: "interrupted",
			run: func(t *testing.T) error {
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				p := pubProject(t, dir, Config{Platforms: "linux/arm64", Dist: t.TempDir()})
				return compile(cctx, p, p.platforms)
			},
			code: ExitInterrupted,
		},
		{
			name: "anything else",
			run:  func(t *testing.T) error { return fmt.Errorf("write %s: %w", "x", os.ErrPermission) },
			code: ExitFailure, contains: "permission denied",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(t)
			require.Error(t, err)
			t.Logf("error: %v", err)
			assert.Equal(t, tt.code, exitCode(err), "exitCode")
			failed := fail(err)
			assert.Equal(t, tt.code, mg.ExitStatus(failed), "mage's exit status of fail(err)")
			assert.Equal(t, err.Error(), failed.Error(), "fail keeps the message")
			assert.ErrorIs(t, failed, err)
			// A later wrap keeps the class.
			assert.Equal(t, tt.code, mg.ExitStatus(fail(fmt.Errorf("publish: %w", failed))), "wrapped after fail")
			assert.Equal(t, tt.code, mg.ExitStatus(fail(fmt.Errorf("publish: %w", err))), "wrapped before fail")
			assert.Contains(t, err.Error(), tt.contains)
		})
	}
	t.Run("nil", func(t *testing.T) {
		assert.NoError(t, fail(nil))
		assert.Equal(t, 0, mg.ExitStatus(fail(nil)))
	})
}

func TestCompareBinariesWithoutCCompilerIntegration(t *testing.T) {
	ctx := context.Background()
	dir := pubModule(t)
	buf := pubCapture(t)
	p := pubProject(t, dir, Config{Platforms: runtime.GOOS + "/" + runtime.GOARCH})
	// A machine without a C compiler: the cgo build cannot run, the others can.
	t.Setenv("CC", filepath.Join(t.TempDir(), "no-such-cc"))
	facts, err := measureBinaries(ctx, p, runtime.GOOS, runtime.GOARCH)
	require.NoError(t, err)
	var variants []string
	for _, f := range facts {
		variants = append(variants, f.Variant)
		assert.Equal(t, "static", f.Linkage, f.Variant)
	}
	assert.Equal(t, []string{"static", "static-stripped"}, variants)
	assert.Contains(t, buf.String(), "[compare] cgo-default left out: no C compiler")
	assert.Contains(t, buf.String(), "no-such-cc")
}
