package e2e_test

// Importable, proven: a throw-away consumer module imports the
// targets with an alias, the way other repos use magepack, and runs them
// through its compiled magefile as its users would with `go tool mage`.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// consumerMagefile imports the targets as pack:* and sets a Go-level
// default the environment overrides in the tests.
const consumerMagefile = `//go:build mage

// The consumer's build: magepack's targets under the pack: namespace.
package main

import (
	//mage:import pack
	"github.com/magepack/magepack/tasks"
)

func init() {
	// The environment overrides this (env > Go > defaults).
	tasks.Settings.Platforms = "linux/arm64"
}
`

// newConsumer writes a consumer module into a new git repository:
// example.com/acme/hello with its main package (fixture.ServiceMain) in
// cmd/hello and a magefile importing this checkout's tasks as pack (see
// fixture.Module.Magepack). The commit is tagged v1.2.3. It returns the
// module's folder.
func newConsumer(t *testing.T) string {
	t.Helper()
	return fixture.NewModule(t, fixture.Module{
		Path:     "example.com/acme/hello",
		Go:       "1.25.0",
		Magepack: true,
		Files: map[string]string{
			"cmd/hello/main.go":     fixture.ServiceMain,
			"magefiles/magefile.go": consumerMagefile,
		},
		GitIgnore: "/dist/\n/dist-*/\n",
		Tag:       "v1.2.3",
	})
}

func TestIntegrationImportedTargets(t *testing.T) {
	fixture.SkipShort(t, "compiles a consumer's magefile")
	dir := newConsumer(t)
	head := fixture.NewGit(t, dir).Run("rev-parse", "HEAD")
	distDir := filepath.Join(dir, "dist")
	bin := fixture.CompileMage(t, dir)
	mage := func(t *testing.T, env []string, args ...string) fixture.MageResult {
		t.Helper()
		return fixture.RunMage(t, fixture.MageCmd{Bin: bin, Dir: dir, Env: env, Args: args})
	}

	t.Run("go tool mage -l lists the aliased targets", func(t *testing.T) {
		// The consumer's own entry point: mage as a tool of its go.mod,
		// offline (the consumer module resolves magepack by its replace
		// directive and the module cache).
		res := fixture.RunMage(t, fixture.MageCmd{Bin: "go", Dir: dir, Env: []string{"GOFLAGS=-mod=mod", "GOPROXY=off"}, Args: []string{"tool", "mage", "-l"}})
		res.RequireOK(t)
		var listed []string
		for _, m := range regexp.MustCompile(`(?m)^[ \t]+(\S+)`).FindAllStringSubmatch(res.Stdout, -1) {
			listed = append(listed, m[1])
		}
		for _, target := range []string{"pack:crossCompile", "pack:staticCheck", "pack:dockerScratch", "pack:dockerAlpine", "pack:compare", "pack:publish"} {
			assert.Contains(t, listed, target)
		}
		// tasks exports the targets and its configuration, nothing else:
		// an exported helper would become a target here.
		known := []string{"pack:crossCompile", "pack:staticCheck", "pack:dockerScratch", "pack:dockerAlpine", "pack:compare", "pack:publish", "pack:merge", "pack:verify", "pack:vulncheck", "pack:rebuild", "pack:rebase"}
		for _, target := range listed {
			assert.Contains(t, known, target, "%s is not one of magepack's targets (DESIGN.md)", target)
		}
		assert.Contains(t, res.Stdout, "builds every main package for every configured platform", "the first sentence of the doc comment")
	})

	t.Run("rebuild of signed binaries through mage", func(t *testing.T) {
		key := fixture.Ed25519Key(t)
		res := mage(t, []string{"MAGEPACK_PLATFORMS=linux/amd64", "MAGEPACK_DIST=dist-rebuild", "MAGEPACK_SIGN_KEY=" + string(key.Private)}, "pack:crossCompile", "pack:rebuild")
		res.RequireOK(t)
		assert.Contains(t, res.Stdout, "[rebuild] MAGEPACK_VERIFY_KEY is not set: the provenance is read as it is, unverified")
		assert.Contains(t, res.Stdout, "[dist-rebuild/hello_linux_amd64] identical (sha256:")
		assert.FileExists(t, filepath.Join(dir, "dist-rebuild", "rebuild.md"))
		assert.Empty(t, fixture.NewGit(t, dir).Run("status", "--porcelain"), "the working tree is untouched")
	})

	t.Run("crossCompile and staticCheck", func(t *testing.T) {
		res := mage(t, []string{"MAGEPACK_PLATFORMS=linux/amd64,windows/amd64", "MAGEPACK_PLATFROMS=linux/arm64"}, "pack:crossCompile", "pack:staticCheck")
		res.RequireOK(t)
		assert.Contains(t, res.Stdout, "[config] MAGEPACK_PLATFROMS is not a magepack setting and is ignored; did you mean MAGEPACK_PLATFORMS?")
		assert.Equal(t, 1, strings.Count(res.Stdout, "[build] hello 1.2.3"), "one build for both targets:\n%s", res.Stdout)
		assert.Contains(t, res.Stdout, "[linux/amd64] built dist/hello_linux_amd64")
		assert.Contains(t, res.Stdout, "[windows/amd64] built dist/hello_windows_amd64.exe")

		entries, err := os.ReadDir(distDir)
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		assert.ElementsMatch(t, []string{"hello_linux_amd64", "hello_windows_amd64.exe", "hello_linux_amd64.cdx.json", "hello_windows_amd64.exe.cdx.json",
			dist.ChecksumsFile, dist.ManifestFile, dist.GitignoreFile, ".magepack.lock"}, names,
			"the environment's platforms, not the magefile's linux/arm64")

		assert.Equal(t, []string{"hello_linux_amd64", "hello_windows_amd64.exe"}, relVerifySums(t, distDir))

		m := relManifest(t, distDir)
		assert.Equal(t, dist.SchemaVersion, m.SchemaVersion)
		require.Len(t, m.Binaries, 2)
		relAssertManifestMatchesDisk(t, dir, m)
		for _, b := range m.Binaries {
			assert.Equal(t, "hello", b.Service, b.Path)
			assert.Equal(t, "0", b.CGO, b.Path)
			assert.True(t, strings.HasPrefix(b.GoVersion, "go1."), b.GoVersion)
			switch b.Path {
			case "dist/hello_linux_amd64":
				assert.Equal(t, "linux", b.OS)
				assert.Equal(t, "amd64", b.Arch)
				assert.Equal(t, "static", b.Linkage)
				assert.Equal(t, "none", b.Libc)
			case "dist/hello_windows_amd64.exe":
				assert.Equal(t, "windows", b.OS)
				assert.Equal(t, "amd64", b.Arch)
			default:
				t.Errorf("unexpected binary %s in artifacts.json", b.Path)
			}
		}
		var checks []string
		for _, c := range m.Checks {
			assert.True(t, c.OK, "%s check of %s: %s", c.Name, c.Subject, c.Message)
			assert.Equal(t, "hello", c.Service, "%s check of %s", c.Name, c.Subject)
			checks = append(checks, c.Name+" "+c.Subject)
		}
		assert.ElementsMatch(t, []string{"scratch dist/hello_linux_amd64", "alpine dist/hello_linux_amd64"}, checks, "windows binaries are reported, not checked")
		assert.Contains(t, res.Stdout, "hello_windows_amd64.exe", "the linkage table lists every binary")

		// The version, commit and commit date stamped into the binary.
		run := exec.Command(filepath.Join(distDir, "hello_linux_amd64"), "-version")
		out, err := run.Output()
		require.NoError(t, err)
		assert.Equal(t, "1.2.3 "+head+" 2024-05-06T07:08:09Z\n", string(out))
	})

	t.Run("unknown platform exits 2 naming the fix", func(t *testing.T) {
		res := mage(t, []string{"MAGEPACK_PLATFORMS=linux/amd65", "MAGEPACK_DIST=dist-bad"}, "pack:crossCompile")
		assert.Equal(t, tasks.ExitConfig, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		assert.Contains(t, res.Stderr, `"linux/amd65"`)
		assert.Contains(t, res.Stderr, "linux/amd64")
		assert.NoDirExists(t, filepath.Join(dir, "dist-bad"))
	})

	t.Run("a cgo binary fails staticCheck with exit 4 naming it", func(t *testing.T) {
		fixture.GCC(t) // cgo's default C compiler
		res := mage(t, []string{"MAGEPACK_CGO=1", "MAGEPACK_PLATFORMS=linux/amd64", "MAGEPACK_DIST=dist-cgo"}, "pack:staticCheck")
		assert.Equal(t, tasks.ExitCheck, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		assert.Contains(t, res.Stderr, "dist-cgo/hello_linux_amd64")
		assert.Contains(t, res.Stderr, "dynamic")
		assert.Contains(t, res.Stderr, "set MAGEPACK_CGO=static", "the fix keeps the C code")
		assert.FileExists(t, filepath.Join(dir, "dist-cgo", "hello_linux_amd64"), "staticCheck built it first")
	})

	t.Run("signed binaries verify; a changed one exits 9 naming it", func(t *testing.T) {
		k := fixture.CosignKey(t, "pw")
		keys := t.TempDir()
		pub := filepath.Join(keys, "cosign.pub")
		require.NoError(t, os.WriteFile(pub, k.Public, 0o644))
		env := []string{"MAGEPACK_PLATFORMS=linux/amd64", "MAGEPACK_DIST=dist-signed", "MAGEPACK_SIGN_KEY=" + string(k.Private), "COSIGN_PASSWORD=pw", "MAGEPACK_VERIFY_KEY=" + pub}
		res := mage(t, env, "pack:crossCompile", "pack:verify")
		res.RequireOK(t)
		assert.Contains(t, res.Stdout, "[verify] dist-signed/hello_linux_amd64: verified: signature, provenance of commit "+head[:12])
		assert.NotContains(t, res.Stdout+res.Stderr, "PRIVATE KEY", "the key is never printed")
		assert.FileExists(t, filepath.Join(dir, "dist-signed", "hello_linux_amd64.sigstore.json"))

		binPath := filepath.Join(dir, "dist-signed", "hello_linux_amd64")
		f, err := os.OpenFile(binPath, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte{0})
		require.NoError(t, err)
		require.NoError(t, f.Close())
		res = mage(t, env, "pack:verify")
		assert.Equal(t, tasks.ExitVerify, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		assert.Contains(t, res.Stdout, "[verify] dist-signed/hello_linux_amd64: FAILED subject check")
		assert.Contains(t, res.Stderr, "verify dist-signed/hello_linux_amd64: subject check failed")
	})

	t.Run("vulncheck exits 10 on reached code and writes OpenVEX", func(t *testing.T) {
		db := fixture.VulnDB(t)
		res := mage(t, []string{"MAGEPACK_PLATFORMS=linux/amd64", "MAGEPACK_VULNDB=" + db}, "pack:vulncheck")
		// The service serves HTTP, built with go1.26.8: net/http's fixed
		// vulnerabilities of the 2026-11-05 database are in it.
		assert.Equal(t, 10, res.Code, "stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
		assert.Regexp(t, `\[vulncheck\] GO-\d{4}-\d+ stdlib net/http\.\S+ .*: REACHED; build with go1\.26\.\d+ \(linux/amd64\)`, res.Stdout)
		assert.Contains(t, res.Stderr, "vulnerable code reached")
		assert.FileExists(t, filepath.Join(distDir, "hello_linux_amd64.vex.json"))

		res = mage(t, []string{"MAGEPACK_PLATFORMS=linux/amd64", "MAGEPACK_VULNDB=file:///nonexistent/vulndb"}, "pack:vulncheck")
		assert.Equal(t, 2, res.Code, "an unreadable database is a configuration error, never a clean report")
		assert.Contains(t, res.Stderr, "MAGEPACK_VULNDB")
	})

	t.Run("the consumer's tree stays clean", func(t *testing.T) {
		assert.Empty(t, fixture.NewGit(t, dir).Run("status", "--porcelain"), "no run changes go.mod, go.sum or any tracked file")
	})
}
