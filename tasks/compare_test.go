package tasks

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/report"
)

// cmpJSON is compare.json as a CI step reads it: by its documented field
// names, not through the report package's types.
type cmpJSON struct {
	App      string `json:"app"`
	Version  string `json:"version"`
	Platform string `json:"platform"`
	SBOM     string `json:"sbom"`
	VEX      string `json:"vex"`
	Vulns    string `json:"vulnerabilities"`
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

func TestCompareEngineIntegration(t *testing.T) {
	slow(t, "the engine")
	fixture.Engine(t)
	ctx := context.Background()
	base := fixture.AlpineBase(t)
	eng, err := engine.Connect(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Close() })
	goos, arch, _, err := eng.Platform(ctx)
	require.NoError(t, err)
	pl := platform.Platform{OS: goos, Arch: arch}

	dir := pubModule(t)
	summary := filepath.Join(t.TempDir(), "step-summary.md")
	require.NoError(t, os.WriteFile(summary, []byte("# earlier step\n"), 0o644))
	r := mustRun(t, dir, Config{
		Platforms: pl.OS + "/" + pl.Arch, Image: "magepack-test/cmpapp-" + randomSuffix(t),
		AlpineBase: base, Pull: "never", Smoke: "/healthz",
	}, map[string]string{"GITHUB_STEP_SUMMARY": summary, "MAGEPACK_VULNDB": fixture.VulnDB(t)})
	r.connect = func(context.Context) (dockerEngine, error) { return eng, nil }
	p := r.p
	for _, v := range []string{"scratch", "alpine"} {
		for _, ref := range p.refs(p.services[0], v) {
			t.Cleanup(func() {
				if err := eng.Remove(context.Background(), ref); err != nil {
					t.Errorf("clean up %s: %v", ref, err)
				}
			})
		}
	}
	buf := output(r)
	if err := r.vulncheck(ctx); err != nil {
		require.Equal(t, ExitVulnerable, exitCode(err), "vulncheck before compare: %v", err)
	}
	// vulncheck appended its own table; this test checks compare's.
	require.NoError(t, os.WriteFile(summary, []byte("# earlier step\n"), 0o644))
	start := time.Now()
	require.NoError(t, r.compare(ctx), "compare builds both images, then measures")
	t.Logf("compare took %s; output:\n%s", time.Since(start).Round(time.Millisecond), buf.String())

	raw, err := os.ReadFile(filepath.Join(p.Dist, "compare.json"))
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
	assert.Equal(t, "dist/"+pubAppName+"_"+goos+"_"+arch+".cdx.json", c.SBOM, "compare names the SBOM of the binary in both images")
	assert.FileExists(t, filepath.Join(p.Root, c.SBOM))
	assert.Equal(t, "dist/"+pubAppName+"_"+goos+"_"+arch+".vex.json", c.VEX, "compare names the VEX vulncheck wrote")
	assert.Regexp(t, `^\d+ reached, 0 waived, \d+ not affected$`, c.Vulns)

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
			{"scratch reference", scratch.Reference, p.refs(p.services[0], "scratch")[0]},
			{"alpine reference", alpine.Reference, p.refs(p.services[0], "alpine")[0]},
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
		md, err := os.ReadFile(filepath.Join(p.Dist, "compare.md"))
		require.NoError(t, err)
		assert.Contains(t, string(md), "scratch")
		assert.Contains(t, string(md), "|", "a Markdown table")
		got, err := os.ReadFile(summary)
		require.NoError(t, err)
		assert.Equal(t, "# earlier step\n"+string(md)+"\n", string(got), "compare.md appended to GITHUB_STEP_SUMMARY")

		svg, err := os.ReadFile(filepath.Join(p.Dist, "compare.svg"))
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
		assert.Contains(t, buf.String(), p.refs(p.services[0], "scratch")[0])
	})
}

func TestCompareBinariesWithoutCCompilerIntegration(t *testing.T) {
	slow(t, "builds")
	ctx := context.Background()
	dir := pubModule(t)
	// A machine without a C compiler: the cgo build cannot run, the others can.
	t.Setenv("CC", filepath.Join(t.TempDir(), "no-such-cc"))
	r := mustRun(t, dir, Config{Platforms: runtime.GOOS + "/" + runtime.GOARCH}, nil)
	buf := output(r)
	facts, err := r.measureBinaries(ctx, r.p.services[0], platform.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH})
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

func TestCompareBinariesStaticCgoIntegration(t *testing.T) {
	slow(t, "builds")
	fixture.MuslGCC(t)
	ctx := context.Background()
	dir := pubModule(t)
	host := runtime.GOOS + "/" + runtime.GOARCH
	r := mustRun(t, dir, Config{Platforms: host}, map[string]string{"MAGEPACK_CGO": "static"})
	facts, err := r.measureBinaries(ctx, r.p.services[0], platform.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH})
	require.NoError(t, err)
	byName := map[string]report.BinaryFacts{}
	var variants []string
	for _, f := range facts {
		variants = append(variants, f.Variant)
		byName[f.Variant] = f
	}
	assert.Equal(t, []string{"cgo-default", "static", "static-stripped", "cgo-static"}, variants, "the static cgo binary beside the others")
	assert.Equal(t, "dynamic", byName["cgo-default"].Linkage)
	assert.Equal(t, "static", byName["cgo-static"].Linkage)
	assert.Equal(t, "musl linked in", byName["cgo-static"].Libc, "musl-gcc, found on PATH")
	assert.Contains(t, byName["cgo-static"].Description, "MAGEPACK_CGO=static")
	assert.Contains(t, output(r).String(), "[compare] binary cgo-static: ")

	// Without cgo, compare measures what it always did.
	r = mustRun(t, dir, Config{Platforms: host}, nil)
	assert.NotContains(t, r.compareVariants(), staticCgoVariant)
}
