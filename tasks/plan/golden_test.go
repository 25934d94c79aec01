package plan

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/version"
)

var update = flag.Bool("update", false, "rewrite the golden plans in testdata/")

// commit is the HEAD every repository shape is at.
const commit = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"

// ports are a toolchain's first-class ports and two others.
var ports = []platform.Port{
	{GOOS: "linux", GOARCH: "amd64", CgoSupported: true, FirstClass: true},
	{GOOS: "linux", GOARCH: "arm64", CgoSupported: true, FirstClass: true},
	{GOOS: "linux", GOARCH: "386", CgoSupported: true, FirstClass: true},
	{GOOS: "linux", GOARCH: "arm", CgoSupported: true, FirstClass: true},
	{GOOS: "darwin", GOARCH: "amd64", CgoSupported: true, FirstClass: true},
	{GOOS: "darwin", GOARCH: "arm64", CgoSupported: true, FirstClass: true},
	{GOOS: "windows", GOARCH: "amd64", CgoSupported: true, FirstClass: true},
	{GOOS: "windows", GOARCH: "386", CgoSupported: true, FirstClass: true},
	{GOOS: "linux", GOARCH: "riscv64", CgoSupported: true},
	{GOOS: "freebsd", GOARCH: "amd64", CgoSupported: true},
}

// repo is facts for a module at /repo (or under it) whose HEAD is tagged
// tag, with the given main packages.
func repo(modulePath string, tag string, mains ...gobuild.Main) Facts {
	v := semver.MustParse("0.0.0-dev.3+g4b825dc")
	if tag != "" {
		v = semver.MustParse(tag[len(tag)-len("1.2.3"):])
	}
	return Facts{
		GoVersion: "go1.26.8", Host: gobuild.Target{OS: "linux", Arch: "amd64"}, Ports: ports,
		ModuleRoot: "/repo", ModulePath: modulePath, Mains: mains,
		Git: version.Info{Version: v, Commit: commit, Tag: tag, Date: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)},
	}
}

func main(pkg, name string) gobuild.Main {
	return gobuild.Main{Package: pkg, Name: name, ImportPath: "example.com/app/" + pkg}
}

var (
	rootMain  = main(".", "app")
	api       = main("./cmd/api", "api")
	worker    = main("./cmd/worker", "worker")
	ctl       = main("./cmd/ctl", "ctl")
	threeMain = []gobuild.Main{api, ctl, worker}
)

// shapes are the repositories the golden plans cover: facts as gather
// would find them, and the configuration a magefile and the environment
// give.
var shapes = []struct {
	name  string
	facts func() Facts
	cfg   Config
	env   map[string]string
}{
	{name: "root-main", facts: func() Facts { return repo("example.com/app", "v1.2.3", rootMain) }},
	{name: "one-cmd", facts: func() Facts { return repo("github.com/team/api", "v0.4.0", api) },
		env: map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64,linux/arm64"}},
	{name: "three-mains-with-a-cli", facts: func() Facts { return repo("example.com/app", "v2.0.0", threeMain...) },
		cfg: Config{Main: "./cmd/...", Platforms: "linux/amd64", Services: map[string]Service{"ctl": {Smoke: "run:--version"}}}},
	{name: "nested-module-prefixed-tags", facts: func() Facts {
		f := repo("example.com/mono/services", "services/v3.1.4", api)
		f.ModuleRoot, f.Git.TagPrefix = "/repo/services", "services/"
		return f
	}, env: map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64"}},
	{name: "shard-2-of-3", facts: func() Facts { return repo("example.com/app", "v1.0.0", threeMain...) },
		env: map[string]string{"MAGEPACK_MAIN": "./cmd/...", "MAGEPACK_PLATFORMS": "linux/amd64,linux/arm64", "MAGEPACK_SHARD": "2/3"}},
	{name: "own-dockerfile", facts: func() Facts {
		f := repo("example.com/app", "v1.2.3", rootMain)
		df, err := dockerfile.Parse(strings.NewReader(multiStage))
		if err != nil {
			panic(err)
		}
		f.Dockerfile = &DockerfileFacts{Path: "Dockerfile.multistage", File: df, GoMod: semver.MustParse("1.26.0")}
		return f
	},
		env: map[string]string{"MAGEPACK_DOCKERFILE": "Dockerfile.multistage", "MAGEPACK_BUILDER": "golang:1.26-alpine", "MAGEPACK_PLATFORMS": "linux/amd64"}},
	{name: "alpine-base-override", facts: func() Facts { return repo("example.com/app", "v1.2.3", rootMain) },
		env: map[string]string{"MAGEPACK_ALPINE_BASE": "registry.local/alpine:3.21", "MAGEPACK_VARIANTS": "alpine", "MAGEPACK_PLATFORMS": "linux/amd64"}},
	{name: "image-naming-a-registry", facts: func() Facts { return repo("example.com/app", "v1.2.3", api, worker) },
		env: map[string]string{"MAGEPACK_MAIN": "./cmd/api,./cmd/worker", "MAGEPACK_IMAGE": "127.0.0.1:5000/team", "MAGEPACK_PLATFORMS": "linux/amd64,linux/arm64"}},
	{name: "per-service-settings", facts: func() Facts { return repo("example.com/app", "v1.2.3", threeMain...) },
		cfg: Config{Main: "./cmd/...", Platforms: "linux/amd64", Services: map[string]Service{
			"api":    {Port: 9000, Smoke: "/healthz", Args: []string{"--peer", "db:5432"}},
			"worker": {Env: map[string]string{"DATA_DIR": "/tmp/data"}},
			"ctl":    {Smoke: "off"},
		}}},
	{name: "shallow-clone", facts: func() Facts {
		f := repo("example.com/app", "", rootMain)
		f.Git.Shallow = true
		return f
	}, env: map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64"}},
	{name: "no-tag", facts: func() Facts { return repo("example.com/app", "", rootMain) },
		env: map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64", "SOURCE_DATE_EPOCH": "1700000000"}},
	{name: "static-cgo", facts: func() Facts {
		f := repo("example.com/app", "v1.2.3", rootMain)
		f.Compilers = map[string]string{"musl-gcc": "/usr/bin/musl-gcc", "aarch64-linux-gnu-gcc": "/usr/bin/aarch64-linux-gnu-gcc"}
		return f
	}, env: map[string]string{"MAGEPACK_CGO": "static", "MAGEPACK_PLATFORMS": "linux/amd64,linux/arm64", "MAGEPACK_TAGS": "sqlite_omit_load_extension"}},
	{name: "invalid-image-name", facts: func() Facts { return repo("example.com/app", "v1.2.3", main("./cmd/My_App", "My_App")) },
		env: map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64"}},
	{name: "version-by-hand-outside-git", facts: func() Facts {
		f := repo("example.com/app", "", rootMain)
		f.Git, f.GitErr = version.Info{}, &version.NoGitError{Dir: "/repo", Reason: "not a git repository", Fix: "run git init"}
		return f
	}, env: map[string]string{"MAGEPACK_VERSION": "v9.9.9", "MAGEPACK_PLATFORMS": "linux/amd64", "SOURCE_DATE_EPOCH": "0"}},
}

// multiStage is a Dockerfile such as a repository keeps for itself: the Go
// builder from a build argument, an Alpine final stage.
const multiStage = `ARG GO_IMAGE=golang:1.26-alpine
ARG ALPINE_IMAGE=alpine:3.22
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY . .
ARG VERSION
RUN CGO_ENABLED=0 go build -ldflags "-X main.version=${VERSION}" -o /app .
FROM ${ALPINE_IMAGE}
COPY --from=build /app /app
USER 65532:65532
ENTRYPOINT ["/app"]
`

// golden is a plan as the golden files show it: every decision, in the
// words progress lines and files use.
type golden struct {
	Services   []goldenService     `json:"services"`
	Dist       string              `json:"dist"`
	Platforms  []string            `json:"platforms"`
	CC         map[string]string   `json:"cc,omitempty"`
	Version    string              `json:"version"`
	Tag        string              `json:"tag,omitempty"`
	Commit     string              `json:"commit,omitempty"`
	Created    string              `json:"created"`
	Jobs       []string            `json:"jobs"`
	Shard      string              `json:"shard,omitempty"`
	Mine       []string            `json:"mine"`
	Variants   []string            `json:"variants"`
	Tags       map[string][]string `json:"tags"`
	Base       string              `json:"alpine_base"`
	Dockerfile *goldenDockerfile   `json:"dockerfile,omitempty"`
	Publish    goldenPublish       `json:"publish"`
	Notes      []string            `json:"notes,omitempty"`
}

type goldenDockerfile struct {
	Path    string            `json:"path"`
	Builder string            `json:"builder"`
	Checked string            `json:"go_checked_in"`
	Args    map[string]string `json:"build_args"`
}

type goldenPublish struct {
	Push    bool          `json:"push"`
	Why     string        `json:"why,omitempty"`
	Skipped []string      `json:"skipped,omitempty"`
	Indexes []goldenIndex `json:"indexes,omitempty"`
	Error   string        `json:"error,omitempty"`
}

type goldenIndex struct {
	Service string        `json:"service"`
	Variant string        `json:"variant"`
	Tags    []string      `json:"tags"`
	Images  []goldenImage `json:"images"`
}

type goldenImage struct {
	Platform    string            `json:"platform"`
	Binary      string            `json:"binary"`
	Base        string            `json:"base,omitempty"`
	Port        int               `json:"port,omitempty"`
	TZData      bool              `json:"tzdata,omitempty"`
	Annotations map[string]string `json:"annotations"`
}

type goldenService struct {
	Name   string              `json:"name"`
	Main   string              `json:"main"`
	Image  string              `json:"image"`
	Smoke  string              `json:"smoke"`
	Port   int                 `json:"port,omitempty"`
	Args   []string            `json:"args,omitempty"`
	Env    []string            `json:"env,omitempty"`
	Refs   map[string][]string `json:"refs"`
	Labels map[string]string   `json:"labels"`
}

func view(p *Plan) golden {
	g := golden{
		Dist: p.Dist, Version: p.Version.Version.String(), Tag: p.Version.Tag, Commit: p.Version.Commit,
		Created: p.Created.UTC().Format(time.RFC3339), Variants: p.Options.Variants, Tags: map[string][]string{},
		Base: p.Options.AlpineBase, Notes: p.Notes, Publish: publishView(p),
	}
	if d := p.Dockerfile; d != nil {
		g.Dockerfile = &goldenDockerfile{Path: d.Path, Builder: d.Builder, Checked: d.BuilderImage(), Args: map[string]string{}}
		for k, v := range p.BuildArgs(*d, p.Services[0]) {
			g.Dockerfile.Args[k] = *v
		}
	}
	for _, pl := range p.Platforms {
		g.Platforms = append(g.Platforms, pl.String())
	}
	for t, cc := range p.CC {
		if g.CC == nil {
			g.CC = map[string]string{}
		}
		g.CC[t.String()] = cc
	}
	for _, j := range p.Jobs() {
		g.Jobs = append(g.Jobs, j.String())
	}
	sel := p.Shard()
	if !sel.Spec.IsZero() {
		g.Shard = sel.Spec.String()
	}
	for _, j := range sel.Taken {
		g.Mine = append(g.Mine, j.String())
	}
	for _, v := range p.Options.Variants {
		g.Tags[v] = p.Tags(v)
	}
	for _, u := range p.Services {
		gs := goldenService{Name: u.Name, Main: u.Main, Image: u.Image, Smoke: u.Smoke.String(), Port: u.Smoke.Port, Args: u.Smoke.Args, Env: u.Smoke.Env, Refs: map[string][]string{}, Labels: p.Labels(u)}
		for _, v := range p.Options.Variants {
			gs.Refs[v] = p.Refs(u, v)
		}
		g.Services = append(g.Services, gs)
	}
	return g
}

func publishView(p *Plan) goldenPublish {
	pub, err := p.Publish()
	if err != nil {
		return goldenPublish{Error: err.Error()}
	}
	g := goldenPublish{Push: pub.Push, Why: pub.Why}
	for _, pl := range pub.Skipped {
		g.Skipped = append(g.Skipped, pl.String())
	}
	for _, ix := range pub.Indexes {
		gi := goldenIndex{Service: ix.Service.Name, Variant: ix.Variant, Tags: ix.Tags}
		for _, im := range ix.Images {
			gi.Images = append(gi.Images, goldenImage{Platform: im.Platform.String(), Binary: im.Spec.Binary, Base: im.Base, Port: im.Spec.Port, TZData: im.Spec.TZData, Annotations: im.Spec.Annotations})
		}
		g.Indexes = append(g.Indexes, gi)
	}
	return g
}

// TestGoldenPlans decides every repository shape from hand-written facts,
// with no git, go or engine, and compares the plan with its golden file
// (go test ./tasks/plan -run Golden -update rewrites them).
func TestGoldenPlans(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			f := sh.facts()
			f.SourceDateEpoch = sh.env["SOURCE_DATE_EPOCH"]
			o := options(t, sh.cfg, sh.env)
			p, err := Make(o, f)
			require.NoError(t, err)
			got, err := json.MarshalIndent(view(p), "", "  ")
			require.NoError(t, err)
			compareGolden(t, filepath.Join("testdata", sh.name+".json"), append(got, '\n'))
		})
	}
	assert.GreaterOrEqual(t, len(shapes), 12, "the shapes the plan is proven on")
}

func options(t *testing.T, cfg Config, env map[string]string) Options {
	t.Helper()
	c, err := Merge(cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)
	o, err := Parse(c)
	require.NoError(t, err)
	return o
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./tasks/plan -run Golden -update to write it")
	assert.Equal(t, string(want), string(got))
}

// TestMistakesAllTogether checks that every configuration mistake the
// plan finds comes back at once, in one *Error, each naming its setting.
func TestMistakesAllTogether(t *testing.T) {
	f := repo("example.com/app", "v1.2.3", api, worker)
	f.DistIsFile, f.SourceDateEpoch = true, "yesterday"
	f.CABundleErr = errors.New(`CA bundle "/nope" cannot be read`)
	o := options(t, Config{Name: "one", CABundle: "/nope", Platforms: "linux/amd65", Ldflags: "-X main.when={{.When}}"}, nil)
	_, err := Make(o, f)
	require.Error(t, err)
	var pe *Error
	require.ErrorAs(t, err, &pe)
	for _, want := range []string{
		"MAGEPACK_NAME=one names one service, but there are 2",
		`dist "dist" is a file, not a folder`,
		`CA bundle "/nope" cannot be read (MAGEPACK_CA_BUNDLE)`,
		`"linux/amd65"`, "MAGEPACK_PLATFORMS",
		`SOURCE_DATE_EPOCH="yesterday" is not a Unix time`,
		"uses unknown field .When", "(MAGEPACK_LDFLAGS)",
	} {
		assert.Contains(t, err.Error(), want)
	}
	var unknown *platform.UnknownError
	assert.ErrorAs(t, err, &unknown, "the concern package's typed error is still inside")
	assert.Equal(t, 1, countPrefix(err.Error()), "the prefix is said once")
}

func countPrefix(s string) int {
	n := 0
	for i := 0; i+len("configuration: ") <= len(s); i++ {
		if s[i:i+len("configuration: ")] == "configuration: " {
			n++
		}
	}
	return n
}

// TestPlanImportsNoEdge keeps the plan pure: it decides from values and
// reaches no process, file system or network itself.
func TestPlanImportsNoEdge(t *testing.T) {
	out, err := importsOf(".")
	require.NoError(t, err)
	for _, banned := range []string{"os", "os/exec", "net", "net/http", "syscall"} {
		assert.False(t, slices.Contains(out, banned), "package plan imports %s", banned)
	}
	assert.NotContains(t, out, "github.com/magepack/magepack/tasks", "plan must not import tasks: tasks imports plan")
}

// TestDockerfileMistakes checks what the plan says of a Dockerfile that
// gather could not read or that the legacy builder cannot build.
func TestDockerfileMistakes(t *testing.T) {
	buildKit, err := dockerfile.Parse(strings.NewReader("FROM alpine\nRUN --mount=type=cache,target=/root/.cache true\n"))
	require.NoError(t, err)
	tests := []struct {
		name  string
		facts DockerfileFacts
		want  string
	}{
		{"missing", DockerfileFacts{Path: "nope.Dockerfile", ReadErr: fmt.Errorf("read Dockerfile: %w", fs.ErrNotExist)}, "dockerfile nope.Dockerfile does not exist in /repo: fix MAGEPACK_DOCKERFILE"},
		{"outside the module", DockerfileFacts{Outside: true}, "is outside the module /repo: the build context is the module root (MAGEPACK_DOCKERFILE)"},
		{"unreadable", DockerfileFacts{Path: "Dockerfile", ReadErr: fs.ErrPermission}, "permission denied (MAGEPACK_DOCKERFILE)"},
		{"needs BuildKit", DockerfileFacts{Path: "Dockerfile", File: buildKit}, "BuildKit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := repo("example.com/app", "v1.2.3", rootMain)
			f.Dockerfile = &tt.facts
			_, err := Make(options(t, Config{Dockerfile: "nope.Dockerfile"}, nil), f)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
