package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// sample is a report as the compare target fills it, with the sizes of a
// real example-app build.
func sample() Compare {
	return Compare{
		GeneratedAt:     time.Date(2025, 11, 25, 12, 30, 0, 0, time.UTC),
		App:             "example-app",
		Version:         "1.2.3",
		Platform:        "linux/amd64",
		SBOM:            "dist/example-app_linux_amd64.cdx.json",
		VEX:             "dist/example-app_linux_amd64.vex.json",
		Vulnerabilities: "10 reached, 0 waived, 3 not affected",
		Images: []ImageFacts{
			{
				Variant: "alpine", Reference: "example-app:1.2.3-alpine",
				ID:   "sha256:b5a7be1bc891fedabc91c9822ff498ec39bd4ccd57bba6959c9932a7940ad1df",
				Size: 14_792_118, Layers: 2, Base: "alpine:3.22", Shell: true, PackageManager: true,
				Libc: "musl", CABundle: true, User: "65532:65532", Files: 93,
				StartMedian: 412*time.Millisecond + 345*time.Microsecond, StartRuns: 5,
			},
			{
				Variant: "scratch", Reference: "example-app:1.2.3-scratch",
				ID:   "sha256:0851747829ca565a23c6291665627bf706cf856636d8f6b1900adea04000f769",
				Size: 6_768_342, Layers: 1, Base: "scratch", Shell: false, PackageManager: false,
				Libc: "none", CABundle: true, User: "65532:65532", Files: 4,
				StartMedian: 388 * time.Millisecond, StartRuns: 5,
			},
		},
		Binaries: []BinaryFacts{
			{Variant: "cgo-default", Description: "go build (CGO_ENABLED=1)", Size: 9_467_120, Linkage: "dynamic", Libc: "glibc"},
			{Variant: "static", Description: "CGO_ENABLED=0", Size: 9_451_460, Linkage: "static", Libc: "none"},
			{Variant: "static-stripped", Description: `CGO_ENABLED=0 -ldflags="-s -w"`, Size: 6_524_120, Linkage: "static", Libc: "none"},
		},
	}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./tasks/report -update to create the golden files")
	assert.Equal(t, string(want), string(got), "output differs from %s; if the change is intended, run go test ./tasks/report -update", path)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name   string
		render func(Compare) ([]byte, error)
	}{
		{name: "compare.txt", render: func(c Compare) ([]byte, error) {
			var b bytes.Buffer
			err := Text(&b, c)
			return b.Bytes(), err
		}},
		{name: "compare.md", render: func(c Compare) ([]byte, error) { return []byte(Markdown(c)), nil }},
		{name: "compare.json", render: JSON},
		{name: "compare.svg", render: SVG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.render(sample())
			require.NoError(t, err)
			golden(t, tt.name, got)
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   Compare
	}{
		{name: "full report", in: sample()},
		{name: "sub-millisecond start", in: Compare{App: "a", Images: []ImageFacts{{Variant: "scratch", StartMedian: 1234567, StartRuns: 3}}}},
		{name: "empty", in: Compare{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := JSON(tt.in)
			require.NoError(t, err)
			var got Compare
			require.NoError(t, json.Unmarshal(data, &got))

			want := tt.in
			if want.Images == nil {
				want.Images = []ImageFacts{}
			}
			if want.Binaries == nil {
				want.Binaries = []BinaryFacts{}
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestJSONFieldNamesAndUnits(t *testing.T) {
	data, err := JSON(sample())
	require.NoError(t, err)
	var raw struct {
		Images   []map[string]any `json:"images"`
		Binaries []map[string]any `json:"binaries"`
	}
	require.NoError(t, json.Unmarshal(data, &raw))
	require.Len(t, raw.Images, 2)
	require.Len(t, raw.Binaries, 3)

	im := raw.Images[0]
	assert.InDelta(t, 412.345, im["start_median_ms"], 1e-9)
	assert.Equal(t, 14792118.0, im["size_bytes"])
	assert.Equal(t, true, im["package_manager"])
	assert.Equal(t, true, im["ca_bundle"])
	assert.NotContains(t, im, "StartMedian")
	assert.NotContains(t, im, "size")
	assert.Equal(t, 9467120.0, raw.Binaries[0]["size_bytes"])

	noTime, err := JSON(Compare{App: "a"})
	require.NoError(t, err)
	assert.NotContains(t, string(noTime), "generated_at", "a zero time is left out")
	assert.Contains(t, string(noTime), `"images": []`, "consumers get an empty list, not null")
}

func TestImageFactsUnmarshalErrors(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{name: "negative start", in: `{"start_median_ms": -1}`, wantErr: "start_median_ms -1 is out of range"},
		{name: "huge start", in: `{"start_median_ms": 1e300}`, wantErr: "out of range"},
		{name: "wrong type", in: `{"size_bytes": "big"}`, wantErr: "cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f ImageFacts
			assert.ErrorContains(t, json.Unmarshal([]byte(tt.in), &f), tt.wantErr)
		})
	}
}

func TestShortID(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "digest", in: "sha256:0851747829ca565a23c6291665627bf706cf856636d8f6b1900adea04000f769", want: "sha256:0851747829ca"},
		{name: "bare hex", in: "0851747829ca565a23c6", want: "0851747829ca"},
		{name: "short", in: "sha256:abc", want: "sha256:abc"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, shortID(tt.in)) })
	}
}

func TestVerdicts(t *testing.T) {
	tests := []struct {
		name                            string
		im                              ImageFacts
		security, debugging, dependency string
	}{
		{
			name:      "alpine",
			im:        ImageFacts{Shell: true, PackageManager: true, Libc: "musl", User: "65532:65532"},
			security:  "shell + package manager: larger attack surface",
			debugging: "possible (has /bin/sh)", dependency: "includes musl libc",
		},
		{
			name:      "scratch",
			im:        ImageFacts{Libc: "none", User: "65532"},
			security:  "no shell, no package manager",
			debugging: "difficult (no shell)", dependency: "none (needs a static binary)",
		},
		{
			name:      "distroless-like as root",
			im:        ImageFacts{Libc: "glibc"},
			security:  "no shell, no package manager; runs as root",
			debugging: "difficult (no shell)", dependency: "includes glibc libc",
		},
		{
			name:      "busybox as user root",
			im:        ImageFacts{Shell: true, User: "root:root"},
			security:  "shell, no package manager; runs as root",
			debugging: "possible (has /bin/sh)", dependency: "none (needs a static binary)",
		},
		{
			name:     "uid 0",
			im:       ImageFacts{PackageManager: true, User: "0:0", Libc: "musl"},
			security: "package manager, no shell; runs as root", debugging: "difficult (no shell)", dependency: "includes musl libc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.security, securityVerdict(tt.im))
			assert.Equal(t, tt.debugging, debuggingVerdict(tt.im))
			assert.Equal(t, tt.dependency, dependencyVerdict(tt.im))
		})
	}
}

func TestTextAndMarkdownPartialReports(t *testing.T) {
	tests := []struct {
		name        string
		in          Compare
		contains    []string
		notContains []string
	}{
		{
			name:        "binaries only",
			in:          Compare{App: "svc", Version: "0.1.0", Binaries: sample().Binaries},
			contains:    []string{"svc 0.1.0", "Binaries", "static-stripped", "6.5 MB (6,524,120 bytes)"},
			notContains: []string{"Images at a glance", "smaller than"},
		},
		{
			name:        "one image, start not measured, no user",
			in:          Compare{App: "svc", Images: []ImageFacts{{Variant: "scratch", Size: 1_000_000}}},
			contains:    []string{"svc: scratch", "not measured", "root (not set)", "; runs as root"},
			notContains: []string{"smaller than", "Binaries", "Measured 0001", "SBOM", "vulnerabilities"},
		},
		{
			name:     "empty",
			in:       Compare{},
			contains: []string{"Image comparison"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var text bytes.Buffer
			require.NoError(t, Text(&text, tt.in))
			md := Markdown(tt.in)
			for _, s := range tt.contains {
				assert.Contains(t, text.String(), s)
				assert.Contains(t, md, s)
			}
			for _, s := range tt.notContains {
				assert.NotContains(t, text.String(), s)
				assert.NotContains(t, md, s)
			}
		})
	}
}

func TestMarkdownMethod(t *testing.T) {
	c := sample()
	assert.Contains(t, Markdown(c), "\nImage sizes are uncompressed, as the Docker engine reports them;")
	c.Method = "Measured by the compare target on a CI runner."
	md := Markdown(c)
	assert.Contains(t, md, "\nMeasured by the compare target on a CI runner. Measured 2025-11-25 12:30:00 UTC.\n")
	assert.NotContains(t, md, "Image sizes are uncompressed")
}

func TestSummary(t *testing.T) {
	assert.Equal(t, "The scratch image is 8.0 MB (54%) smaller than the alpine image.", summary(sample()))
	same := Compare{Images: []ImageFacts{{Variant: "a", Size: 5}, {Variant: "b", Size: 5}}}
	assert.Empty(t, summary(same), "equal sizes have no smaller image")
}

func TestTextWriteError(t *testing.T) {
	err := Text(failingWriter{}, sample())
	assert.ErrorIs(t, err, io.ErrShortWrite)
	assert.ErrorContains(t, err, "write compare report")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestSVG(t *testing.T) {
	t.Run("well-formed XML with every bar labelled", func(t *testing.T) {
		out, err := SVG(sample())
		require.NoError(t, err)
		dec := xml.NewDecoder(bytes.NewReader(out))
		var texts []string
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			if cd, ok := tok.(xml.CharData); ok && strings.TrimSpace(string(cd)) != "" {
				texts = append(texts, string(cd))
			}
		}
		all := strings.Join(texts, "\n")
		for _, s := range []string{
			"Image and binary sizes — example-app 1.2.3",
			"alpine image", "14.8 MB", "scratch image", "6.8 MB",
			"cgo-default binary", "9.5 MB", "static-stripped binary", "6.5 MB",
			"size in MB (1 MB = 1,000,000 bytes)",
		} {
			assert.Contains(t, all, s)
		}
	})
	t.Run("escapes names", func(t *testing.T) {
		out, err := SVG(Compare{App: `a<b>&"c"`, Images: []ImageFacts{{Variant: "x&y", Size: 10}}})
		require.NoError(t, err)
		assert.NoError(t, xml.Unmarshal(out, new(struct{})))
		assert.Contains(t, string(out), "a&lt;b&gt;&amp;")
	})
	t.Run("nothing to chart", func(t *testing.T) {
		_, err := SVG(Compare{App: "a", Images: []ImageFacts{{Variant: "scratch"}}})
		assert.ErrorIs(t, err, ErrNothingToChart)
		_, err = SVG(Compare{})
		assert.ErrorIs(t, err, ErrNothingToChart)
	})
	t.Run("negative size", func(t *testing.T) {
		_, err := SVG(Compare{Binaries: []BinaryFacts{{Variant: "static", Size: -1}}})
		assert.ErrorContains(t, err, "chart static binary: size -1 bytes is negative")
	})
}

func TestScale(t *testing.T) {
	tests := []struct {
		name            string
		maxMB           float64
		wantStep, wantT float64
	}{
		{name: "typical", maxMB: 14.79, wantStep: 2.5, wantT: 15},
		{name: "exact multiple", maxMB: 10, wantStep: 2, wantT: 10},
		{name: "small", maxMB: 0.9, wantStep: 0.2, wantT: 1},
		{name: "large", maxMB: 230, wantStep: 50, wantT: 250},
		{name: "step 5", maxMB: 21, wantStep: 5, wantT: 25},
		{name: "next power of ten", maxMB: 55, wantStep: 10, wantT: 60},
		{name: "tiny", maxMB: 0.00001, wantStep: 0.000002, wantT: 0.00001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, top := scale(tt.maxMB)
			assert.InDelta(t, tt.wantStep, step, 1e-12)
			assert.InDelta(t, tt.wantT, top, 1e-9)
			assert.GreaterOrEqual(t, top, tt.maxMB*(1-1e-9))
			assert.LessOrEqual(t, top/step, 6.0+1e-9)
		})
	}
}

func TestSVGNotes(t *testing.T) {
	tests := []struct {
		name string
		b    BinaryFacts
		want string
	}{
		{name: "dynamic glibc", b: BinaryFacts{Linkage: "dynamic", Libc: "glibc"}, want: "dynamic · glibc"},
		{name: "static", b: BinaryFacts{Linkage: "static", Libc: "none"}, want: "static · no libc"},
		{name: "unknown", b: BinaryFacts{Linkage: "unknown", Libc: "unknown"}, want: "linkage unknown · libc unknown"},
		{name: "nothing known", b: BinaryFacts{}, want: "no libc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, binaryNote(tt.b)) })
	}
	assert.Equal(t, "glibc libc · shell · 12 layers", imageNote(ImageFacts{Libc: "glibc", Shell: true, Layers: 12}))
	assert.Equal(t, "no libc · no shell · 1 layer", imageNote(ImageFacts{Libc: "none", Layers: 1}))
}

func TestSVGLongNamesStayInside(t *testing.T) {
	c := Compare{
		App: "a-very-long-service-name-that-goes-on", Version: "0.1.0-dev.12+g1a2b3c4.dirty",
		Images: []ImageFacts{{Variant: "debian-bookworm-slim-variant", Size: 123_456_789}},
	}
	out, err := SVG(c)
	require.NoError(t, err)
	s := string(out)
	assert.Contains(t, s, `<title id="chart-title">Image and binary sizes — a-very-long-service-name-that-goes-on 0.1.0-dev.12+g1a2b3c4.dirty</title>`,
		"the accessible title keeps the whole name")
	assert.Contains(t, s, ">Image and binary sizes — a-very-long-service-name-that-goes…</text>")
	assert.Contains(t, s, ">debian-bookworm-slim-…</text>")
}
