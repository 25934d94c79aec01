package engine

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildKitCases are Dockerfiles using syntax the legacy builder of Engine
// 20.10 rejects, each with the line and feature ParseDockerfile must
// report. TestDockerfileBuildKitEngine builds each on the real engine's
// legacy builder to show that it does fail there. BASE stands for an image
// with /bin/sh.
var buildKitCases = []struct {
	name       string
	dockerfile string
	line       int
	feature    string
}{
	{"RUN --mount", "FROM BASE\nRUN --mount=type=cache,target=/root/.cache/go-build true\n", 2, "RUN --mount"},
	{"RUN --mount lowercase, continued", "FROM BASE\nrun \\\n  --mount=type=secret,id=x \\\n  true\n", 3, "RUN --mount"},
	{"RUN --network", "FROM BASE\nRUN --network=none true\n", 2, "RUN --network"},
	{"RUN --security", "FROM BASE\nRUN --security=insecure true\n", 2, "RUN --security"},
	{"COPY --link", "FROM BASE\nCOPY --link a /a\n", 2, "COPY --link"},
	{"COPY --chmod", "FROM BASE\nCOPY --chown=1:1 --chmod=755 a /a\n", 2, "COPY --chmod"},
	{"ADD --chmod", "FROM BASE\nADD --chmod=755 a /a\n", 2, "ADD --chmod"},
	{"ADD --checksum", "FROM BASE\nADD --checksum=sha256:0 a /a\n", 2, "ADD --checksum"},
	{"RUN heredoc", "FROM BASE\nRUN <<EOF\necho hi\nEOF\n", 2, "a heredoc (<<EOF)"},
	{"COPY heredoc, quoted and chomped", "FROM BASE\nCOPY <<-'END' /x\n\thello\n\tEND\n", 2, "a heredoc (<<END)"},
	{"FROM --platform=$BUILDPLATFORM", "FROM --platform=$BUILDPLATFORM BASE\nRUN true\n", 1, "FROM --platform with $BUILDPLATFORM, which only BuildKit sets"},
}

// legacyCases are Dockerfiles the legacy builder builds, with syntax that
// looks like BuildKit's; ParseDockerfile must not flag them.
var legacyCases = []struct {
	name       string
	dockerfile string
}{
	{"syntax directive", "# syntax=docker/dockerfile:1\nFROM BASE\nRUN true\n"},
	{"escape directive and backtick continuation", "# escape=`\nFROM BASE\nRUN echo a `\n  b\n"},
	{"COPY --chown and --from", "FROM BASE AS a\nFROM BASE\nCOPY --chown=1:1 --from=a /bin/sh /x\n"},
	{"FROM --platform literal", "FROM --platform=linux/amd64 BASE\nRUN true\n"},
	{"FROM --platform with a defaulted global ARG", "ARG BUILDPLATFORM=linux/amd64\nFROM --platform=$BUILDPLATFORM BASE\nRUN true\n"},
	{"quoted <<", "FROM BASE\nRUN echo \"a <<b\" > /x\n"},
	{"escaped <<", "FROM BASE\nRUN echo \\<\\<EOF\n"},
	{"RUN exec form", "FROM BASE\nRUN [\"/bin/sh\", \"-c\", \"echo <<EOF\"]\n"},
	{"--mount in a comment", "FROM BASE\n# RUN --mount=type=cache,target=/x true\nRUN true\n"},
	{"--mount as an argument", "FROM BASE\nRUN echo --mount=x\n"},
	{"ONBUILD", "FROM BASE\nONBUILD RUN --mount=type=cache,target=/x true\n"},
	{"HEALTHCHECK legacy flags", "FROM BASE\nHEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 CMD true\n"},
}

func TestParseDockerfileBuildKit(t *testing.T) {
	for _, tc := range buildKitCases {
		t.Run(tc.name, func(t *testing.T) {
			df, err := ParseDockerfile(strings.NewReader(tc.dockerfile))
			require.NoError(t, err)
			require.Len(t, df.BuildKit, 1, "%+v", df.BuildKit)
			got := df.BuildKit[0]
			assert.Equal(t, tc.line, got.Line)
			assert.Equal(t, tc.feature, got.Feature)
			assert.Equal(t, strings.TrimSpace(strings.Split(tc.dockerfile, "\n")[tc.line-1]), got.Text)
		})
	}
	for _, tc := range legacyCases {
		t.Run("legacy "+tc.name, func(t *testing.T) {
			df, err := ParseDockerfile(strings.NewReader(tc.dockerfile))
			require.NoError(t, err)
			assert.Empty(t, df.BuildKit)
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		syntax     string
		syntaxLine int
		buildKit   []int // lines
		args       []Arg
		stages     []Stage
	}{
		{
			name: "directives, heredoc bodies are not instructions",
			dockerfile: "\ufeff# syntax = docker/dockerfile:1.7\n# escape=\\\n\nARG GO_IMAGE=golang:1.26 X\n" +
				"FROM ${GO_IMAGE} AS Build\nRUN <<EOF\nFROM alpine\nRUN --mount=type=cache,target=/x true\ngo build -o /app .\nEOF\n" +
				"FROM scratch\nCOPY --from=build /app /app\n",
			syntax: "docker/dockerfile:1.7", syntaxLine: 1,
			buildKit: []int{6},
			args:     []Arg{{Name: "GO_IMAGE", Default: "golang:1.26", HasDefault: true, Line: 4}, {Name: "X", Line: 4}},
			stages:   []Stage{{Line: 5, From: "${GO_IMAGE}", Name: "build", GoBuild: true}, {Line: 11, From: "scratch"}},
		},
		{
			name:       "a directive after a comment is a comment",
			dockerfile: "# hello\n# syntax=docker/dockerfile:1\nFROM a\n",
			stages:     []Stage{{Line: 3, From: "a"}},
		},
		{
			name:       "ARG after FROM is not global; comments inside continuations",
			dockerfile: "ARG A=\"x y\"\nFROM --platform=linux/arm64 a:1\nARG B=2\nRUN CGO_ENABLED=0 \\\n# a comment\n\n    /usr/local/go/bin/go install ./...\nFROM b\nRUN [\"go\", \"build\", \".\"]\n",
			args:       []Arg{{Name: "A", Default: "x y", HasDefault: true, Line: 1}},
			stages:     []Stage{{Line: 2, From: "a:1", Platform: "linux/arm64", GoBuild: true}, {Line: 8, From: "b", GoBuild: true}},
		},
		{
			name:       "several BuildKit lines in order; cargo build is not go build",
			dockerfile: "FROM a\nCOPY --link x /x\nRUN --network=host cargo build\nRUN <<A cat\nx\nA\n",
			buildKit:   []int{2, 3, 4},
			stages:     []Stage{{Line: 1, From: "a"}},
		},
		{
			name:       "empty",
			dockerfile: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			df, err := ParseDockerfile(strings.NewReader(tc.dockerfile))
			require.NoError(t, err)
			assert.Equal(t, tc.syntax, df.Syntax)
			assert.Equal(t, tc.syntaxLine, df.SyntaxLine)
			var lines []int
			for _, b := range df.BuildKit {
				lines = append(lines, b.Line)
			}
			assert.Equal(t, tc.buildKit, lines)
			assert.Equal(t, tc.args, df.Args)
			assert.Equal(t, tc.stages, df.Stages)
		})
	}
}

func TestDockerfileGoBuilder(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		args       map[string]string
		usesArg    bool
		stage      int
		image      string
		err        string
	}{
		{name: "GO_IMAGE with a default", dockerfile: "ARG GO_IMAGE=golang:1.25-alpine\nFROM ${GO_IMAGE} AS build\nRUN go build .\nFROM scratch\n",
			usesArg: true, stage: 0, image: "golang:1.25-alpine"},
		{name: "GO_IMAGE given as a build argument", dockerfile: "ARG GO_IMAGE\nFROM $GO_IMAGE\nRUN go build .\n",
			args: map[string]string{"GO_IMAGE": "magepack-test/go:1"}, usesArg: true, stage: 0, image: "magepack-test/go:1"},
		{name: "GO_IMAGE declared but not used", dockerfile: "ARG GO_IMAGE\nFROM golang:1.26\nRUN go build .\n",
			stage: 0, image: "golang:1.26"},
		{name: "GO_IMAGE used without a global ARG", dockerfile: "FROM ${GO_IMAGE:-golang:1.24}\nRUN go build .\n",
			args: map[string]string{"GO_IMAGE": "ignored"}, stage: 0, image: "golang:1.24"},
		{name: "build stage is not the first", dockerfile: "FROM alpine AS certs\nRUN true\nFROM golang:1.26-alpine AS build\nRUN CGO_ENABLED=0 go build -o /app .\nFROM scratch\n",
			stage: 1, image: "golang:1.26-alpine"},
		{name: "global ARG in the tag", dockerfile: "ARG GO_VERSION=1.26\nFROM golang:${GO_VERSION}-bookworm\nRUN go install ./cmd/x\n",
			stage: 0, image: "golang:1.26-bookworm"},
		{name: "build argument overrides the default", dockerfile: "ARG GO_VERSION=1.26\nFROM golang:${GO_VERSION}\nRUN go build\n",
			args: map[string]string{"GO_VERSION": "1.25"}, stage: 0, image: "golang:1.25"},
		{name: "stage name followed", dockerfile: "FROM golang:1.26 AS base\nRUN apk add git\nFROM base AS build\nRUN go build .\n",
			stage: 1, image: "golang:1.26"},
		{name: "no go build: the first stage", dockerfile: "FROM golang:1.26\nRUN make\nFROM scratch\n",
			stage: 0, image: "golang:1.26"},
		{name: "ARG without a value", dockerfile: "ARG GO_VERSION\nFROM golang:${GO_VERSION}\nRUN go build\n",
			stage: 0, err: "line 2: FROM golang:${GO_VERSION}: $GO_VERSION has no value"},
		{name: "scratch build stage", dockerfile: "FROM scratch\nCOPY app /app\n",
			stage: 0, err: "line 1: the stage is FROM scratch, which has no Go"},
		{name: "no stage", dockerfile: "# nothing\n", stage: -1, err: "has no stage -1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			df, err := ParseDockerfile(strings.NewReader(tc.dockerfile))
			require.NoError(t, err)
			assert.Equal(t, tc.usesArg, df.UsesArg("GO_IMAGE"))
			i := df.BuildStage()
			assert.Equal(t, tc.stage, i)
			image, err := df.StageImage(i, tc.args)
			g := df.GoBuilder("GO_IMAGE", tc.args)
			assert.Equal(t, tc.usesArg, g.UsesArg)
			if i >= 0 {
				assert.Equal(t, df.Stages[i].Line, g.Line)
			}
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				assert.Empty(t, g.Image)
				assert.Equal(t, err.Error(), g.Unknown)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.image, image)
			if !tc.usesArg {
				assert.Equal(t, tc.image, g.Image)
				assert.Empty(t, g.Unknown)
			}
		})
	}
}

// TestParseDockerfileExampleApp checks the repository's own Dockerfiles:
// legacy-buildable, and taking their builder from GO_IMAGE.
func TestParseDockerfileExampleApp(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "example-app", "Dockerfile*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			df, err := ReadDockerfile(f)
			require.NoError(t, err)
			assert.Empty(t, df.BuildKit)
			assert.True(t, df.UsesArg("GO_IMAGE"))
			i := df.BuildStage()
			require.GreaterOrEqual(t, i, 0)
			assert.True(t, df.Stages[i].GoBuild)
			img, err := df.StageImage(i, map[string]string{"GO_IMAGE": "magepack-test/go:1"})
			require.NoError(t, err)
			assert.Equal(t, "magepack-test/go:1", img)
			assert.Equal(t, GoBuilder{UsesArg: true, Line: df.Stages[i].Line}, df.GoBuilder("GO_IMAGE", nil))
		})
	}
}

// FuzzParseDockerfile checks that ParseDockerfile never fails or panics on
// content, that every line it reports exists and holds the text it names,
// and that the image lookups never panic. Seeds live in
// testdata/fuzz/FuzzParseDockerfile.
func FuzzParseDockerfile(f *testing.F) {
	for _, tc := range buildKitCases {
		f.Add(tc.dockerfile)
	}
	for _, tc := range legacyCases {
		f.Add(tc.dockerfile)
	}
	f.Fuzz(func(t *testing.T, s string) {
		df, err := ParseDockerfile(strings.NewReader(s))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimPrefix(s, "\ufeff"), "\n")
		for _, b := range df.BuildKit {
			require.True(t, b.Line >= 1 && b.Line <= len(lines), "line %d of %d", b.Line, len(lines))
			assert.Equal(t, strings.TrimSpace(strings.TrimRight(lines[b.Line-1], "\r")), b.Text)
			assert.NotEmpty(t, b.Feature)
		}
		for i, st := range df.Stages {
			require.True(t, st.Line >= 1 && st.Line <= len(lines))
			if i > 0 {
				assert.Greater(t, st.Line, df.Stages[i-1].Line)
			}
			_, _ = df.StageImage(i, map[string]string{"GO_IMAGE": "golang:1"})
		}
		_ = df.UsesArg("GO_IMAGE")
		_ = df.BuildStage()
	})
}

// TestDockerfileBuildKitEngine shows on the real engine that the legacy
// builder rejects every Dockerfile ParseDockerfile flags and builds every
// look-alike it leaves alone, and that Build refuses a flagged one with a
// *BuildKitError before sending anything.
func TestDockerfileBuildKitEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Docker engine")
	}
	e := smokeTestEngine(t)
	run := randomHex(4)
	base := "magepack-test/engine-buildkit-base:" + run
	importTestImage(t, e, base, map[string]testFile{
		"bin/busybox": {src: "/bin/busybox"},
		"bin/sh":      {link: "busybox"},
		"bin/true":    {link: "busybox"},
		"bin/echo":    {link: "busybox"},
	}, `CMD ["/bin/sh"]`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	baseImg, err := e.cli.ImageInspect(ctx, base)
	require.NoError(t, err)
	t.Cleanup(func() { removeImageDescendants(t, e, baseImg.ID) })

	build := func(t *testing.T, dockerfile string, check bool) ([]string, error) {
		root := writeContextTree(t, contextTree{"Dockerfile": strings.ReplaceAll(dockerfile, "BASE", base), "a": "a"})
		var lines []string
		opts := BuildOptions{ContextDir: root, Progress: func(l string) { lines = append(lines, l) }}
		if check {
			_, err := e.Build(ctx, opts)
			return lines, err
		}
		_, err := e.buildLegacy(ctx, opts, root, "Dockerfile", func(err error) error { return err })
		return lines, err
	}
	for _, tc := range buildKitCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := build(t, tc.dockerfile, false)
			require.Error(t, err, "the legacy builder rejects it")
			t.Logf("the legacy builder says: %v", err)

			lines, err := build(t, tc.dockerfile, true)
			var bk *BuildKitError
			require.ErrorAs(t, err, &bk)
			assert.Equal(t, tc.line, bk.Line)
			assert.Equal(t, "Dockerfile", bk.Dockerfile)
			assert.Empty(t, lines, "refused before the context was sent")
			assert.Contains(t, err.Error(), "needs BuildKit ("+tc.feature+")")
			assert.Contains(t, err.Error(), "legacy builder")
			assert.NotContains(t, err.Error(), "MAGEPACK_")
		})
	}
	for _, tc := range legacyCases {
		t.Run("legacy "+tc.name, func(t *testing.T) {
			_, err := build(t, tc.dockerfile, true)
			require.NoError(t, err)
		})
	}
}
