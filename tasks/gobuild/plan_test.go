package gobuild

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	linuxAMD64   = Target{OS: "linux", Arch: "amd64"}
	linuxARM64   = Target{OS: "linux", Arch: "arm64"}
	windowsAMD64 = Target{OS: "windows", Arch: "amd64"}
	date         = time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
)

func TestTarget(t *testing.T) {
	assert.Equal(t, "linux/amd64", linuxAMD64.String())
	assert.Equal(t, "", linuxAMD64.Exe())
	assert.Equal(t, ".exe", windowsAMD64.Exe())
}

func TestPlan(t *testing.T) {
	base := Config{Name: "app", Version: "1.2.3", Commit: "abc123", Date: date, Host: linuxAMD64}
	const ld = "-s -w -buildid= -X main.version=1.2.3 -X main.commit=abc123 -X main.date=2024-01-02T02:04:05Z"
	const nodwarf = "-gcflags=all=-dwarf=false"
	osEnv := []string{"PATH=/usr/bin", "GOOS=plan9", "GOFLAGS=-mod=mod", "CGO_ENABLED=1", "HOME=/root"}

	tests := []struct {
		name    string
		cfg     func(c *Config)
		targets []Target
		osEnv   []string
		want    []Job
	}{
		{
			name:    "defaults, inherited GOOS and CGO_ENABLED replaced, GOFLAGS kept",
			targets: []Target{linuxAMD64},
			osEnv:   osEnv,
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"PATH=/usr/bin", "GOFLAGS=-mod=mod", "HOME=/root", "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0"},
			}},
		},
		{
			name:    "windows gets .exe, duplicates built once, order kept",
			targets: []Target{windowsAMD64, linuxARM64, windowsAMD64},
			want: []Job{
				{
					Name:   "app",
					Target: windowsAMD64,
					Output: filepath.Join("dist", "app_windows_amd64.exe"),
					Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-ldflags", ld, "-o", filepath.Join("dist", "app_windows_amd64.exe"), "."},
					Env:    []string{"GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0"},
				},
				{
					Name:   "app",
					Target: linuxARM64,
					Output: filepath.Join("dist", "app_linux_arm64"),
					Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_arm64"), "."},
					Env:    []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"},
				},
			},
		},
		{
			name: "main, dist and extra env; extra env wins over everything",
			cfg: func(c *Config) {
				c.Main = "cmd/app"
				c.Dist = "/abs/out"
				c.ExtraEnv = []string{"GOAMD64=v3", "GOFLAGS=-mod=vendor"}
			},
			targets: []Target{linuxAMD64},
			osEnv:   []string{"GOFLAGS=-mod=mod", "GOAMD64=v1"},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: "/abs/out/app_linux_amd64",
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-ldflags", ld, "-o", "/abs/out/app_linux_amd64", "./cmd/app"},
				Env:    []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0", "GOAMD64=v3", "GOFLAGS=-mod=vendor"},
			}},
		},
		{
			name:    "symbols kept: no -s -w and DWARF compiled, the rest unchanged",
			cfg:     func(c *Config) { c.KeepSymbols = true },
			targets: []Target{linuxAMD64},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", "-ldflags", "-buildid= -X main.version=1.2.3 -X main.commit=abc123 -X main.date=2024-01-02T02:04:05Z", "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0"},
			}},
		},
		{
			name:    "the user's GOFLAGS -gcflags wins: no -dwarf=false of ours",
			targets: []Target{linuxAMD64},
			osEnv:   []string{"GOFLAGS=-mod=mod -gcflags=all=-N"},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"GOFLAGS=-mod=mod -gcflags=all=-N", "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0"},
			}},
		},
		{
			name:    "GOFLAGS from go's env file counts when the environment sets none",
			cfg:     func(c *Config) { c.GoFlags = "--gcflags=-B" },
			targets: []Target{linuxAMD64},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0"},
			}},
		},
		{
			name:    "the environment's GOFLAGS, even empty, replaces the env file's; ExtraEnv's replaces both",
			cfg:     func(c *Config) { c.GoFlags = "-gcflags=-B"; c.ExtraEnv = []string{"GOFLAGS=-mod=vendor"} },
			targets: []Target{linuxAMD64},
			osEnv:   []string{"GOFLAGS=-gcflags=all=-N"},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=-mod=vendor"},
			}},
		},
		{
			name:    "cgo on the host platform needs no CC",
			cfg:     func(c *Config) { c.CGO = true },
			targets: []Target{linuxAMD64},
			osEnv:   []string{"CC=gcc"},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"CC=gcc", "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=1"},
			}},
		},
		{
			name:    "cgo cross build with CC, which replaces the inherited one",
			cfg:     func(c *Config) { c.CGO = true; c.CC = "aarch64-linux-musl-gcc" },
			targets: []Target{linuxARM64},
			osEnv:   []string{"CC=gcc"},
			want: []Job{{
				Name:   "app",
				Target: linuxARM64,
				Output: filepath.Join("dist", "app_linux_arm64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_arm64"), "."},
				Env:    []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=1", "CC=aarch64-linux-musl-gcc"},
			}},
		},
		{
			name: "static cgo: external static link, netgo and osusergo, a compiler per platform",
			cfg: func(c *Config) {
				c.StaticCGO = true
				c.CC = "gcc"
				c.CCs = map[Target]string{linuxARM64: "aarch64-linux-gnu-gcc"}
			},
			targets: []Target{linuxAMD64, linuxARM64},
			want: []Job{
				{
					Name:   "app",
					Target: linuxAMD64,
					Output: filepath.Join("dist", "app_linux_amd64"),
					Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-tags", "netgo,osusergo", "-ldflags", ld + " -linkmode external -extldflags -static", "-o", filepath.Join("dist", "app_linux_amd64"), "."},
					Env:    []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=1", "CC=gcc"},
				},
				{
					Name:   "app",
					Target: linuxARM64,
					Output: filepath.Join("dist", "app_linux_arm64"),
					Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-tags", "netgo,osusergo", "-ldflags", ld + " -linkmode external -extldflags -static", "-o", filepath.Join("dist", "app_linux_arm64"), "."},
					Env:    []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=1", "CC=aarch64-linux-gnu-gcc"},
				},
			},
		},
		{
			name: "static cgo with the user's tags and -ldflags: theirs after ours, so their -extldflags wins",
			cfg: func(c *Config) {
				c.StaticCGO = true
				c.Tags = []string{"sqlite_omit_load_extension", "netgo"}
				c.LdflagsExtra = "-extldflags '-static -lm'"
			},
			targets: []Target{linuxAMD64},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-tags", "netgo,osusergo,sqlite_omit_load_extension", "-ldflags", ld + " -linkmode external -extldflags -static -extldflags '-static -lm'", "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=1"},
			}},
		},
		{
			name:    "tags without cgo; the tags of the user's GOFLAGS are kept, since ours replace them",
			cfg:     func(c *Config) { c.Tags = []string{"prod"} },
			targets: []Target{linuxAMD64},
			osEnv:   []string{"GOFLAGS=-mod=mod -tags=jsoniter,prod"},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-tags", "prod,jsoniter", "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"GOFLAGS=-mod=mod -tags=jsoniter,prod", "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0"},
			}},
		},
		{
			name:    "a per-platform compiler is only for its platform; cgo on the host needs none",
			cfg:     func(c *Config) { c.CGO = true; c.CCs = map[Target]string{linuxARM64: "aarch64-linux-gnu-gcc"} },
			targets: []Target{linuxAMD64},
			want: []Job{{
				Name:   "app",
				Target: linuxAMD64,
				Output: filepath.Join("dist", "app_linux_amd64"),
				Args:   []string{"build", "-trimpath", "-buildvcs=auto", nodwarf, "-ldflags", ld, "-o", filepath.Join("dist", "app_linux_amd64"), "."},
				Env:    []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=1"},
			}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			got, err := Plan(cfg, tc.targets, tc.osEnv)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestHasFlag(t *testing.T) {
	tests := []struct {
		goflags, name string
		want          bool
	}{
		{"", "gcflags", false},
		{"-gcflags=all=-N", "gcflags", true},
		{"-mod=mod --gcflags=-B", "gcflags", true},
		{"'-gcflags=all=-N -l' -mod=mod", "gcflags", true},
		{"-p=1", "p", true},
		{"-p", "p", true},
		{"-pgo=auto -ldflags=-s", "p", false},
		{"-asmflags=x", "gcflags", false},
		{"gcflags=x", "gcflags", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, HasFlag(tt.goflags, tt.name), "HasFlag(%q, %q)", tt.goflags, tt.name)
	}
}

func TestFlagValue(t *testing.T) {
	tests := []struct {
		goflags, name, want string
		found               bool
	}{
		{"", "tags", "", false},
		{"-tags=a,b", "tags", "a,b", true},
		{"-mod=mod --tags=x -tags=y", "tags", "y", true},
		{"'-tags=a' -p=2", "tags", "a", true},
		{"-tagsx=a", "tags", "", false},
		{"-tags", "tags", "", true},
	}
	for _, tt := range tests {
		got, found := FlagValue(tt.goflags, tt.name)
		assert.Equal(t, tt.want, got, "FlagValue(%q, %q)", tt.goflags, tt.name)
		assert.Equal(t, tt.found, found, "FlagValue(%q, %q) found", tt.goflags, tt.name)
	}
}

func TestPlanErrors(t *testing.T) {
	base := Config{Name: "app", Host: linuxAMD64}
	tests := []struct {
		name    string
		cfg     func(c *Config)
		targets []Target
		want    []string
	}{
		{name: "no name", cfg: func(c *Config) { c.Name = "" }, targets: []Target{linuxAMD64}, want: []string{"binary name is empty", "Config.Name"}},
		{name: "name with a slash", cfg: func(c *Config) { c.Name = "a/b" }, targets: []Target{linuxAMD64}, want: []string{`binary name "a/b"`, "Config.Name"}},
		{name: "no targets", want: []string{"no platforms to build", "linux/amd64"}},
		{name: "malformed target", targets: []Target{{OS: "linux"}}, want: []string{`platform "linux/" is malformed`}},
		{
			name:    "cgo cross build without CC names every platform and the fix",
			cfg:     func(c *Config) { c.CGO = true },
			targets: []Target{linuxAMD64, linuxARM64, windowsAMD64},
			want:    []string{"cgo build for linux/arm64 on linux/amd64", "cgo build for windows/amd64", "set CC", "without cgo"},
		},
		{
			name:    "static cgo cross build without a compiler for it",
			cfg:     func(c *Config) { c.StaticCGO = true; c.CCs = map[Target]string{linuxAMD64: "musl-gcc"} },
			targets: []Target{linuxAMD64, linuxARM64},
			want:    []string{"cgo build for linux/arm64 on linux/amd64 needs a C cross compiler"},
		},
		{
			name:    "unknown template field",
			cfg:     func(c *Config) { c.LdflagsExtra = "-X main.x={{.Version}} -X main.y={{.Tag}}" },
			targets: []Target{linuxAMD64},
			want:    []string{"unknown field .Tag", "{{.Version}}, {{.Commit}} and {{.Date}}"},
		},
		{
			name:    "unknown field inside if",
			cfg:     func(c *Config) { c.LdflagsExtra = "{{if .Dirty}}-X main.dirty=1{{end}}" },
			targets: []Target{linuxAMD64},
			want:    []string{"unknown field .Dirty"},
		},
		{
			name:    "template does not parse",
			cfg:     func(c *Config) { c.LdflagsExtra = "-X main.v={{.Version" },
			targets: []Target{linuxAMD64},
			want:    []string{`ldflags "-X main.v={{.Version"`, "fix the template"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			jobs, err := Plan(cfg, tc.targets, nil)
			require.Error(t, err)
			assert.Nil(t, jobs)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLdflags(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "nothing to stamp", want: "-s -w -buildid="},
		{
			name: "date in UTC",
			cfg:  Config{Version: "0.0.0-dev.3+gabc", Date: date},
			want: "-s -w -buildid= -X main.version=0.0.0-dev.3+gabc -X main.date=2024-01-02T02:04:05Z",
		},
		{
			name: "own variable names",
			cfg:  Config{Version: "1.0.0", Commit: "abc", VersionVars: Vars{Version: "example.com/app/internal/build.Version"}},
			want: "-s -w -buildid= -X example.com/app/internal/build.Version=1.0.0 -X main.commit=abc",
		},
		{
			name: "extra flags with templates",
			cfg:  Config{Version: "1.0.0", Commit: "abc", Date: date, LdflagsExtra: " -X main.buildDate={{.Date}} -X main.rev={{.Commit}}-{{.Version}} "},
			want: "-s -w -buildid= -X main.version=1.0.0 -X main.commit=abc -X main.date=2024-01-02T02:04:05Z -X main.buildDate=2024-01-02T02:04:05Z -X main.rev=abc-1.0.0",
		},
		{
			name: "symbols kept",
			cfg:  Config{Version: "1.0.0", KeepSymbols: true},
			want: "-buildid= -X main.version=1.0.0",
		},
		{
			name: "static cgo before the user's own",
			cfg:  Config{Version: "1.0.0", StaticCGO: true, LdflagsExtra: "-extldflags=-static-pie"},
			want: "-s -w -buildid= -X main.version=1.0.0 -linkmode external -extldflags -static -extldflags=-static-pie",
		},
		{
			name: "value with a space is quoted",
			cfg:  Config{Version: "1.0.0 beta"},
			want: "-s -w -buildid= -X 'main.version=1.0.0 beta'",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Ldflags(tc.cfg)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNormalizeMain(t *testing.T) {
	tests := map[string]string{
		"":            ".",
		".":           ".",
		"./":          ".",
		"cmd/app":     "./cmd/app",
		"./cmd/app/":  "./cmd/app",
		"cmd\\app":    "./cmd\\app", // only the OS separator is converted
		"../other":    "../other",
		"./a/../b":    "./b",
		"/abs/module": "/abs/module",
	}
	if filepath.Separator == '\\' {
		tests["cmd\\app"] = "./cmd/app"
	}
	for in, want := range tests {
		assert.Equal(t, want, NormalizeMain(in), "NormalizeMain(%q)", in)
	}
}
