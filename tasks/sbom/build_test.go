package sbom

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests in this file compile a small module, for several platforms,
// with real dependencies (taken from this repository's go.sum, so the
// module cache or the module proxy serves them); cross-compiling the
// standard library makes them slow on a cold cache, so -short skips them.

const testModule = "example.com/sbomtest"

// writeTestModule writes, under a fresh directory, a module that imports
// github.com/Masterminds/semver/v3, golang.org/x/sync and a module
// replaced by a local directory, commits it to a new git repository (with
// fixed dates, so its revision is stable), and returns the directory.
func writeTestModule(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	repoSum, err := os.ReadFile(filepath.Join(fixture.RepoRoot(t), "go.sum"))
	require.NoError(t, err)
	var sum strings.Builder
	for _, line := range strings.Split(string(repoSum), "\n") {
		if strings.HasPrefix(line, "github.com/Masterminds/semver/v3 ") || strings.HasPrefix(line, "golang.org/x/sync ") {
			sum.WriteString(line + "\n")
		}
	}
	files := map[string]string{
		"go.mod": "module " + testModule + "\n\ngo 1.25.0\n\nrequire (\n" +
			"\texample.com/local v0.1.0\n\tgithub.com/Masterminds/semver/v3 v3.5.0\n\tgolang.org/x/sync v0.22.0\n)\n\n" +
			"replace example.com/local => ./local\n",
		"go.sum": sum.String(),
		"main.go": `package main

import (
	"fmt"

	"example.com/local"
	"github.com/Masterminds/semver/v3"
	"golang.org/x/sync/errgroup"
)

var version = "dev"

func main() {
	var g errgroup.Group
	g.Go(func() error { fmt.Println(semver.MustParse(version), local.Hello()); return nil })
	_ = g.Wait()
}
`,
		"local/go.mod":   "module example.com/local\n\ngo 1.25.0\n",
		"local/local.go": "package local\n\n// Hello greets.\nfunc Hello() string { return \"hello\" }\n",
	}
	fixture.WriteFiles(t, dir, files)
	fixture.GitInit(t, dir).Commit("test module")
	return dir
}

// buildTestModule builds dir for goos/goarch into a file in a new temp dir
// and returns its path.
func buildTestModule(t *testing.T, dir, goos, goarch string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "sbomtest_"+goos+"_"+goarch)
	if goos == "windows" {
		out += ".exe"
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=true", "-ldflags", "-s -w -X main.version=1.2.3", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", b)
	return out
}

// goVersionM is what `go version -m` says about a binary.
type goVersionM struct {
	mainPath, mainVersion string
	settings              map[string]string
	// deps maps each module compiled in (its path as the SBOM names it)
	// to its expected version and purl.
	deps map[string][2]string
}

// readGoVersionM runs `go version -m bin` and works out, independently of
// the code under test, which module components the SBOM must hold.
func readGoVersionM(t *testing.T, bin string) goVersionM {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	require.NoError(t, err)
	g := goVersionM{settings: map[string]string{}, deps: map[string][2]string{}}
	var lastDep string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Split(strings.TrimPrefix(sc.Text(), "\t"), "\t")
		switch f[0] {
		case "mod":
			g.mainPath, g.mainVersion = f[1], f[2]
		case "dep":
			lastDep = f[1]
			g.deps[f[1]] = [2]string{f[2], "pkg:golang/" + f[1] + "@" + strings.ReplaceAll(f[2], "+", "%2B")}
		case "=>":
			require.NotEmpty(t, lastDep)
			if strings.HasPrefix(f[1], ".") || strings.HasPrefix(f[1], "/") {
				g.deps[lastDep] = [2]string{"(devel)", "pkg:golang/" + lastDep}
			} else {
				delete(g.deps, lastDep)
				g.deps[f[1]] = [2]string{f[2], "pkg:golang/" + f[1] + "@" + f[2]}
			}
		case "build":
			k, v, _ := strings.Cut(f[1], "=")
			g.settings[k] = v
		}
	}
	return g
}

func TestBuildSBOMMatchesGoVersionM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and cross-compiles a module (cold builds)")
	}
	dir := writeTestModule(t)
	rev, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	require.NoError(t, err)

	for _, p := range [][2]string{{runtime.GOOS, runtime.GOARCH}, {"linux", "arm64"}, {"windows", "amd64"}, {"darwin", "arm64"}} {
		t.Run(p[0]+"/"+p[1], func(t *testing.T) {
			bin := buildTestModule(t, dir, p[0], p[1])
			want := readGoVersionM(t, bin)
			require.Len(t, want.deps, 3, "semver, x/sync and the local module")

			bom, err := Binary(bin, Options{Name: "sbomtest", Version: "1.2.3", Time: time.Unix(1714979289, 0), Ldflags: "-s -w -X main.version=1.2.3"})
			require.NoError(t, err)

			got := map[string][2]string{}
			stdlib := 0
			for _, c := range *bom.Components {
				if c.Name == StdlibName {
					stdlib++
					assert.Equal(t, strings.TrimPrefix(runtime.Version(), "go"), c.Version)
					continue
				}
				_, dup := got[c.Name]
				assert.False(t, dup, "module %s listed twice", c.Name)
				got[c.Name] = [2]string{c.Version, c.PackageURL}
			}
			assert.Equal(t, want.deps, got, "every module of `go version -m` with its version and purl, and nothing else")
			assert.Equal(t, 1, stdlib, "one standard library")

			app := bom.Metadata.Component
			assert.Equal(t, GoPURL(want.mainPath, want.mainVersion), app.PackageURL)
			ap := props(*app)
			assert.Equal(t, p[0], ap[PropGOOS])
			assert.Equal(t, p[1], ap[PropGOARCH])
			assert.Equal(t, "0", ap[PropCGOEnabled])
			assert.Equal(t, runtime.Version(), ap[PropGoVersion])
			assert.Equal(t, "true", ap[PropBuildPrefix+"-trimpath"])
			assert.NotContains(t, want.settings, "-ldflags", "Go does not record -ldflags in a -trimpath build")
			assert.Equal(t, "-s -w -X main.version=1.2.3", ap[PropBuildPrefix+"-ldflags"], "the caller fills it in")
			assert.Equal(t, strings.TrimSpace(string(rev)), ap[PropBuildPrefix+"vcs.revision"])
			assert.Equal(t, "false", ap[PropBuildPrefix+"vcs.modified"])
			assert.Equal(t, testModule, ap[PropPackage])
			for k, v := range want.settings {
				switch k {
				case "GOOS", "GOARCH", "CGO_ENABLED":
					continue
				}
				assert.Equal(t, v, ap[PropBuildPrefix+k], "build setting %s", k)
			}
			sum := fileSHA256(t, bin)
			assert.Equal(t, &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: sum}}, app.Hashes)

			data, err := Encode(bom)
			require.NoError(t, err)
			validateSchema(t, data)
			back, err := Decode(data)
			require.NoError(t, err)
			assert.Equal(t, len(*bom.Components), len(*back.Components), "cyclonedx-go reads every component back")
			assert.Equal(t, app.PackageURL, back.Metadata.Component.PackageURL)
		})
	}
}

func TestBuildSBOMReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module twice")
	}
	// Two clones of the same commit in different directories, each built:
	// the binaries and their SBOMs are byte for byte the same.
	var sboms [][]byte
	for i := 0; i < 2; i++ {
		bin := buildTestModule(t, writeTestModule(t), "linux", "amd64")
		bom, err := Binary(bin, Options{Version: "1.2.3", Time: time.Unix(1714979289, 0)})
		require.NoError(t, err)
		data, err := Encode(bom)
		require.NoError(t, err)
		sboms = append(sboms, data)
	}
	assert.Equal(t, string(sboms[0]), string(sboms[1]))
}

func TestBinaryErrors(t *testing.T) {
	dir := t.TempDir()
	notGo := filepath.Join(dir, "script.sh")
	require.NoError(t, os.WriteFile(notGo, []byte("#!/bin/sh\necho hi\n"), 0o755))
	_, err := Binary(notGo, Options{})
	assert.ErrorContains(t, err, "SBOM of "+notGo+": read Go build information")

	_, err = Binary(filepath.Join(dir, "missing"), Options{})
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("sha256sum", path).Output()
	require.NoError(t, err)
	return strings.Fields(string(out))[0]
}
