package dockerfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// buildKitCases and legacyCases are testdata/buildkit.json's tables:
// Dockerfiles the legacy builder of Engine 20.10 rejects, each with the
// line and feature Parse must report, and Dockerfiles it builds whose
// syntax looks like BuildKit's, which Parse must not flag. The engine's
// tests build each on the real engine to show that. BASE stands for an
// image with /bin/sh.
var buildKitCases, legacyCases = readBuildKitCases()

type buildKitCase struct {
	Name       string `json:"name"`
	Dockerfile string `json:"dockerfile"`
	Line       int    `json:"line"`
	Feature    string `json:"feature"`
}

func readBuildKitCases() (buildkit, legacy []buildKitCase) {
	data, err := os.ReadFile(filepath.Join("testdata", "buildkit.json"))
	if err != nil {
		panic(err)
	}
	var c struct{ BuildKit, Legacy []buildKitCase }
	if err := json.Unmarshal(data, &c); err != nil {
		panic(err)
	}
	return c.BuildKit, c.Legacy
}

func TestParseBuildKit(t *testing.T) {
	for _, tc := range buildKitCases {
		t.Run(tc.Name, func(t *testing.T) {
			df, err := Parse(strings.NewReader(tc.Dockerfile))
			require.NoError(t, err)
			require.Len(t, df.BuildKit, 1, "%+v", df.BuildKit)
			got := df.BuildKit[0]
			assert.Equal(t, tc.Line, got.Line)
			assert.Equal(t, tc.Feature, got.Feature)
			assert.Equal(t, strings.TrimSpace(strings.Split(tc.Dockerfile, "\n")[tc.Line-1]), got.Text)
		})
	}
	for _, tc := range legacyCases {
		t.Run("legacy "+tc.Name, func(t *testing.T) {
			df, err := Parse(strings.NewReader(tc.Dockerfile))
			require.NoError(t, err)
			assert.Empty(t, df.BuildKit)
		})
	}
}

func TestParse(t *testing.T) {
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
			df, err := Parse(strings.NewReader(tc.dockerfile))
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

func TestGoBuilder(t *testing.T) {
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
			df, err := Parse(strings.NewReader(tc.dockerfile))
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

// TestParseExampleApp checks the repository's own Dockerfiles:
// legacy-buildable, and taking their builder from GO_IMAGE.
func TestParseExampleApp(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "example-app", "Dockerfile*"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			df, err := Read(f)
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

// FuzzParse checks that Parse never fails or panics on content, that
// every line it reports exists and holds the text it names, and that the
// image lookups never panic. Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, tc := range buildKitCases {
		f.Add(tc.Dockerfile)
	}
	for _, tc := range legacyCases {
		f.Add(tc.Dockerfile)
	}
	f.Fuzz(func(t *testing.T, s string) {
		df, err := Parse(strings.NewReader(s))
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
