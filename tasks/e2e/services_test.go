package e2e_test

// Several services in one repository, end to end: a throw-away
// consumer module holds two HTTP services (cmd/api, cmd/worker) and a
// command-line tool (cmd/cli); its magefile imports the targets and sets
// each service's smoke run; the compiled magefile builds, checks, loads
// and publishes all of them in one run each, to the real engine and a real
// registry.

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// servicesMagefile imports the targets plainly and gives each service the
// smoke run it needs: MAGEPACK_SMOKE would apply to all of them.
const servicesMagefile = `//go:build mage

// A repository with several services: magepack's targets, and the smoke
// run each service needs.
package main

import (
	//mage:import
	"github.com/magepack/magepack/tasks"
)

func init() {
	tasks.Settings.Services = map[string]tasks.Service{
		"api":    {Smoke: "/healthz"},
		"worker": {Smoke: "/healthz"},
		"cli":    {Smoke: "run:-version"},
	}
}
`

// cliMain is a command-line tool: it prints "cli <version>" and exits 0,
// with or without -version; it serves nothing.
const cliMain = `package main

import (
	"flag"
	"fmt"
)

var version = "dev"

func main() {
	flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	fmt.Println("cli", version)
}
`

// services are the consumer's services, in the order magepack lists them.
var services = []string{"api", "cli", "worker"}

// servicesModulePath is the consumer's module path.
const servicesModulePath = "example.com/acme/platform"

// servicesRepo is a consumer module with the three services and the
// magefile, committed and tagged v1.2.3, and its magefile compiled (under
// -short the test is skipped). It returns the module folder and a runner
// of its targets there.
func servicesRepo(t *testing.T) (string, func(t *testing.T, env []string, args ...string) fixture.MageResult) {
	t.Helper()
	fixture.SkipShort(t, "compiles a consumer's magefile")
	dir := fixture.NewModule(t, fixture.Module{
		Path:     servicesModulePath,
		Go:       "1.25.0",
		Magepack: true,
		Files: map[string]string{
			"cmd/api/main.go":       fixture.ServiceMain,
			"cmd/worker/main.go":    fixture.ServiceMain,
			"cmd/cli/main.go":       cliMain,
			"magefiles/magefile.go": servicesMagefile,
		},
		GitIgnore: "/dist/\n",
		Tag:       "v1.2.3",
	})
	bin := fixture.CompileMage(t, dir)
	return dir, func(t *testing.T, env []string, args ...string) fixture.MageResult {
		t.Helper()
		return fixture.RunMage(t, fixture.MageCmd{Bin: bin, Dir: dir, Env: env, Args: args})
	}
}

// binaryName is dist's file name of svc's binary for os/arch.
func binaryName(svc, goos, goarch string) string {
	n := svc + "_" + goos + "_" + goarch
	if goos == "windows" {
		n += ".exe"
	}
	return n
}

// serviceOf names the service a binary's file name belongs to.
func serviceOf(t *testing.T, file string) string {
	t.Helper()
	svc, _, ok := strings.Cut(filepath.Base(file), "_")
	require.True(t, ok, "%s is not named <service>_<os>_<arch>", file)
	return svc
}

func TestIntegrationSeveralServicesBuild(t *testing.T) {
	dir, mage := servicesRepo(t)
	head := fixture.NewGit(t, dir).Run("rev-parse", "HEAD")
	distDir := filepath.Join(dir, "dist")
	platforms := [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"windows", "amd64"}}

	res := mage(t, []string{"MAGEPACK_MAIN=./cmd/...", "MAGEPACK_PLATFORMS=linux/amd64,linux/arm64,windows/amd64"}, "crossCompile", "staticCheck")
	res.RequireOK(t)
	relAssertNoPanic(t, res.Stdout+res.Stderr)

	t.Run("one run builds every service for every platform, one line per binary", func(t *testing.T) {
		builds := regexp.MustCompile(`(?m)^\[build\] .*$`).FindAllString(res.Stdout, -1)
		require.Len(t, builds, 1, "one pool for every build:\n%s", res.Stdout)
		assert.Contains(t, builds[0], "api, cli, worker 1.2.3 (tag v1.2.3): 9 build(s) of 3 service(s)")
		assert.Len(t, regexp.MustCompile(`(?m)^\[\S+ \S+\] built dist/`).FindAllString(res.Stdout, -1), 9, "one line per binary:\n%s", res.Stdout)
		for _, svc := range services {
			for _, pl := range platforms {
				line := fmt.Sprintf("[%s %s/%s] built dist/%s ", svc, pl[0], pl[1], binaryName(svc, pl[0], pl[1]))
				assert.Equal(t, 1, strings.Count(res.Stdout, line), "%q once", line)
				assert.FileExists(t, filepath.Join(distDir, binaryName(svc, pl[0], pl[1])))
			}
		}
	})

	t.Run("each binary is its own service, stamped with the version", func(t *testing.T) {
		for _, svc := range services {
			bi, err := buildinfo.ReadFile(filepath.Join(distDir, binaryName(svc, "linux", "arm64")))
			require.NoError(t, err)
			assert.Equal(t, servicesModulePath+"/cmd/"+svc, bi.Path, "dist/%s is built from cmd/%s", binaryName(svc, "linux", "arm64"), svc)
		}
		if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
			return
		}
		run := func(svc string) string {
			out, err := exec.Command(filepath.Join(distDir, binaryName(svc, "linux", runtime.GOARCH)), "-version").Output()
			require.NoError(t, err, "%s -version", svc)
			return string(out)
		}
		assert.Equal(t, "1.2.3 "+head+" 2024-05-06T07:08:09Z\n", run("api"))
		assert.Equal(t, "1.2.3 "+head+" 2024-05-06T07:08:09Z\n", run("worker"))
		assert.Equal(t, "cli 1.2.3\n", run("cli"))
	})

	t.Run("SHA256SUMS verifies every binary and its SBOM", func(t *testing.T) {
		var want []string
		for _, svc := range services {
			for _, pl := range platforms {
				want = append(want, binaryName(svc, pl[0], pl[1]))
			}
		}
		slices.Sort(want)
		assert.Equal(t, want, relVerifySums(t, distDir))
	})

	t.Run("artifacts.json names the service of every binary and check", func(t *testing.T) {
		m := relManifest(t, distDir)
		assert.Equal(t, dist.SchemaVersion, m.SchemaVersion)
		require.Len(t, m.Binaries, 9)
		relAssertManifestMatchesDisk(t, dir, m)
		for _, b := range m.Binaries {
			assert.Equal(t, serviceOf(t, b.Path), b.Service, "service of %s", b.Path)
			assert.Equal(t, "dist/"+binaryName(b.Service, b.OS, b.Arch), b.Path)
		}
		var checks []string
		for _, c := range m.Checks {
			assert.True(t, c.OK, "%s check of %s: %s", c.Name, c.Subject, c.Message)
			assert.Equal(t, serviceOf(t, c.Subject), c.Service, "service of the %s check of %s", c.Name, c.Subject)
			checks = append(checks, c.Name+" "+c.Subject)
		}
		var want []string
		for _, svc := range services {
			for _, arch := range []string{"amd64", "arm64"} {
				for _, variant := range []string{"scratch", "alpine"} {
					want = append(want, variant+" dist/"+binaryName(svc, "linux", arch))
				}
			}
		}
		assert.ElementsMatch(t, want, checks, "every Linux binary is checked for both variants; windows binaries are reported, not checked")
		for _, svc := range services {
			assert.Contains(t, res.Stdout, binaryName(svc, "windows", "amd64"), "the linkage table lists every binary")
		}
	})

	// Configuration mistakes: exit 2 before anything is built, naming the fix.
	mistakes := []struct {
		name string
		env  []string
		want []string
	}{
		{
			name: "a pattern that matches no main package",
			env:  []string{"MAGEPACK_MAIN=./nope/..."},
			want: []string{`"./nope/..."`, "matches no main package", "set MAGEPACK_MAIN", "./cmd/..."},
		},
		{
			name: "MAGEPACK_NAME with several services",
			env:  []string{"MAGEPACK_MAIN=./cmd/...", "MAGEPACK_NAME=app"},
			want: []string{"MAGEPACK_NAME=app names one service, but there are 3", "./cmd/api", "./cmd/cli", "./cmd/worker", "unset MAGEPACK_NAME"},
		},
		{
			name: "several main packages and none chosen",
			want: []string{"several main packages (./cmd/api, ./cmd/cli, ./cmd/worker)", "MAGEPACK_MAIN=./cmd/...", "MAGEPACK_MAIN=./cmd/api"},
		},
	}
	for _, tc := range mistakes {
		t.Run(tc.name, func(t *testing.T) {
			res := mage(t, append(tc.env, "MAGEPACK_DIST=dist-mistake"), "crossCompile")
			t.Logf("exit %d: %s", res.Code, strings.TrimSpace(res.Stderr))
			assert.Equal(t, tasks.ExitConfig, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
			for _, w := range tc.want {
				assert.Contains(t, res.Stderr, w)
			}
			relAssertNoPanic(t, res.Stdout+res.Stderr)
			assert.NotContains(t, res.Stdout, "[build]", "no build starts")
			assert.NoDirExists(t, filepath.Join(dir, "dist-mistake"), "nothing written")
		})
	}
}

func TestEngineSeveralServicesImages(t *testing.T) {
	cli := fixture.Engine(t)
	dir, mage := servicesRepo(t)
	prefix := "magepack-test/svc-" + relRandom()
	for _, svc := range services {
		relRemoveImagesAtEnd(t, cli, prefix+"/"+svc)
	}

	res := mage(t, []string{"MAGEPACK_MAIN=./cmd/...", "MAGEPACK_IMAGE=" + prefix}, "dockerScratch")
	res.RequireOK(t)
	relAssertNoPanic(t, res.Stdout+res.Stderr)

	m := relManifest(t, filepath.Join(dir, "dist"))
	require.Len(t, m.Images, 3, "one image per service in artifacts.json")
	ids := map[string]string{}
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			repo := prefix + "/" + svc
			tags := []string{repo + ":1.2.3-scratch", repo + ":1.2-scratch", repo + ":1-scratch", repo + ":scratch"}
			assert.Regexp(t, regexp.MustCompile(`(?m)^\[`+svc+` scratch\] loaded `+regexp.QuoteMeta(tags[0])+` id `), res.Stdout, "loaded under the service's own repository")
			for _, tag := range tags[1:] {
				assert.Contains(t, res.Stdout, "["+svc+" scratch] tagged "+tag+"\n")
			}
			switch svc {
			case "cli":
				assert.Regexp(t, regexp.MustCompile(`(?m)^\[cli scratch\] smoke run ok: run:-version exited 0 in \S+: cli 1\.2\.3$`), res.Stdout)
			default:
				assert.Regexp(t, regexp.MustCompile(`(?m)^\[`+svc+` scratch\] smoke run ok: /healthz answered 200 in `), res.Stdout)
			}
			assert.Empty(t, relSmokeContainers(t, cli, repo), "the smoke containers are removed")

			ins, err := cli.ImageInspect(context.Background(), tags[0])
			require.NoError(t, err)
			require.NotNil(t, ins.Config)
			assert.Equal(t, []string{"/usr/local/bin/" + svc}, ins.Config.Entrypoint, "the image runs the service's own binary")
			assert.Equal(t, svc, ins.Config.Labels["org.opencontainers.image.title"])
			assert.Equal(t, "1.2.3", ins.Config.Labels["org.opencontainers.image.version"])
			assert.ElementsMatch(t, tags, ins.RepoTags, "every tag of the version, in the service's repository")
			ids[svc] = ins.ID

			i := slices.IndexFunc(m.Images, func(im dist.Image) bool { return im.Service == svc })
			require.GreaterOrEqual(t, i, 0, "artifacts.json has an image of %s", svc)
			img := m.Images[i]
			assert.Equal(t, tags[0], img.Reference)
			assert.Equal(t, "scratch", img.Variant)
			assert.Equal(t, ins.ID, img.ID)
			assert.ElementsMatch(t, tags, img.Tags)
		})
	}
	assert.Len(t, map[string]bool{ids["api"]: true, ids["worker"]: true, ids["cli"]: true}, 3, "three different images: %v", ids)
	assert.Empty(t, relImageTags(t, cli, prefix), "no image under the bare prefix")

	// The tool's image does what its smoke run said.
	out, code := fixture.RunCommand(t, cli, prefix+"/cli:scratch", "-version")
	assert.Equal(t, 0, code)
	assert.Equal(t, "cli 1.2.3\n", out)
}

func TestRegistrySeveralServicesPublish(t *testing.T) {
	reg := fixture.StartRegistry(t)
	dir, mage := servicesRepo(t)
	base := fixture.PushAlpineIndex(t, reg)
	fixture.DockerConfig(t, reg.Host, "", "") // no credentials of the host's
	prefix := reg.Host + "/team"

	res := mage(t, []string{
		"MAGEPACK_MAIN=./cmd/...", "MAGEPACK_IMAGE=" + prefix, "MAGEPACK_ALPINE_BASE=" + base,
		"MAGEPACK_PLATFORMS=linux/amd64,linux/arm64",
		// publish needs no engine: none answers here.
		"DOCKER_HOST=unix:///nonexistent/docker.sock",
	}, "publish")
	res.RequireOK(t)
	relAssertNoPanic(t, res.Stdout+res.Stderr)

	// 3 services x 2 variants x 4 tags, printed last, one per line.
	var want []string
	for _, svc := range services {
		for _, variant := range []string{"scratch", "alpine"} {
			for _, tag := range []string{"1.2.3-", "1.2-", "1-", ""} {
				want = append(want, prefix+"/"+svc+":"+tag+variant)
			}
		}
	}
	lines := strings.Split(strings.TrimRight(res.Stdout, "\n"), "\n")
	require.Greater(t, len(lines), len(want))
	pushedLine := regexp.MustCompile(`^(\S+)@(sha256:[0-9a-f]{64})$`)
	printed := map[string]string{}
	for _, l := range lines[len(lines)-len(want):] {
		mm := pushedLine.FindStringSubmatch(l)
		if assert.NotNil(t, mm, "the last lines are the pushed references: %q", l) {
			printed[mm[1]] = mm[2]
		}
	}
	assert.ElementsMatch(t, want, slices.Collect(maps.Keys(printed)), "every service's every variant and tag is pushed and printed")
	assert.Nil(t, pushedLine.FindStringSubmatch(lines[len(lines)-len(want)-1]), "no other pushed reference before the last %d lines", len(want))

	m := relManifest(t, filepath.Join(dir, "dist"))
	require.Len(t, m.Pushed, len(want))
	for _, p := range m.Pushed {
		svc := strings.TrimPrefix(p.Reference, prefix+"/")
		svc, _, _ = strings.Cut(svc, ":")
		assert.Equal(t, svc, p.Service, "service of %s", p.Reference)
		assert.Equal(t, printed[p.Reference], p.Digest, "artifacts.json's digest of %s is the printed one", p.Reference)
	}
	var layout []string
	for _, im := range m.Images {
		layout = append(layout, im.Service+" "+im.Variant)
		assert.True(t, strings.HasPrefix(im.Reference, "oci:dist/oci:"+im.Service+":"), "%s is in the layout under its service", im.Reference)
	}
	assert.ElementsMatch(t, []string{"api scratch", "api alpine", "cli scratch", "cli alpine", "worker scratch", "worker alpine"}, layout,
		"artifacts.json lists one index per service and variant")

	// What the registry holds: one index per service and variant, both
	// platforms, each image running its service's binary.
	for _, svc := range services {
		for _, variant := range []string{"scratch", "alpine"} {
			ref, err := name.ParseReference(prefix+"/"+svc+":"+variant, name.Insecure)
			require.NoError(t, err)
			idx, err := remote.Index(ref, remote.WithContext(context.Background()))
			require.NoError(t, err, "pull the index of %s", ref)
			d, err := idx.Digest()
			require.NoError(t, err)
			assert.Equal(t, printed[ref.String()], d.String(), "the registry's %s is what was printed", ref)
			im, err := idx.IndexManifest()
			require.NoError(t, err)
			var plats []string
			for _, desc := range im.Manifests {
				require.NotNil(t, desc.Platform)
				plats = append(plats, desc.Platform.String())
				img, err := idx.Image(desc.Digest)
				require.NoError(t, err)
				cfg, err := img.ConfigFile()
				require.NoError(t, err)
				assert.Equal(t, []string{"/usr/local/bin/" + svc}, cfg.Config.Entrypoint, "%s for %s runs its own binary", ref, desc.Platform)
				assert.Equal(t, svc, cfg.Config.Labels["org.opencontainers.image.title"])
			}
			assert.ElementsMatch(t, []string{"linux/amd64", "linux/arm64"}, plats, "platforms of %s", ref)
		}
	}
}
