package tasks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/magefile/mage/mg"
	"github.com/openvex/go-vex/pkg/vex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// textModule is a service on golang.org/x/text at version that calls call
// (language.ParseAcceptLanguage reaches GO-2022-1059 below v0.3.8;
// language.Make does not).
func textModule(t *testing.T, version, call string) string {
	t.Helper()
	sums := map[string]string{
		"v0.3.7": "golang.org/x/text v0.3.7 h1:olpwvP2KacW1ZWvsR7uQhoyTYvKAupfQrRGBFM352Gk=\ngolang.org/x/text v0.3.7/go.mod h1:u+2+/6zg+i71rQMx5EYifcz6MCKuco9NR6JIITiCfzQ=\n",
		"v0.3.8": "golang.org/x/text v0.3.8 h1:nAL+RVCQ9uMn3vJZbV+MRnydTJFPf8qqY42YiA6MrqY=\ngolang.org/x/text v0.3.8/go.mod h1:E6s5w1FMmriuDzIBO73fBruAKo1PCIq6d2Q6DHfQ8WQ=\n",
	}
	require.Contains(t, sums, version)
	return svcRepo(t, map[string]string{
		"go.mod": "module example.com/acme/svc\n\ngo 1.25.0\n\nrequire golang.org/x/text " + version + "\n",
		"go.sum": sums[version],
		"main.go": `package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() { fmt.Println(` + call + `) }

var _ = os.Args
`,
	}, "")
}

// vulnRun is a run of dir for linux/amd64 against the test database, with
// env added.
func vulnRun(t *testing.T, dir string, env map[string]string) *run {
	t.Helper()
	e := map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64", "MAGEPACK_VULNDB": fixture.VulnDB(t)}
	for k, v := range env {
		e[k] = v
	}
	return mustRun(t, dir, Config{}, e)
}

// readVEX reads a VEX document back with go-vex, checks every statement
// against the OpenVEX rules, and returns the statements by vulnerability.
func readVEX(t *testing.T, path string) map[string]vex.Statement {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	doc, err := vex.Parse(data)
	require.NoError(t, err)
	require.NotNil(t, doc.Timestamp)
	assert.Equal(t, "2026-11-05T23:49:57Z", doc.Timestamp.UTC().Format("2006-01-02T15:04:05Z"), "the database's time, not the clock")
	out := map[string]vex.Statement{}
	for _, s := range doc.Statements {
		assert.NoError(t, s.Validate(), s.Vulnerability.Name)
		out[string(s.Vulnerability.Name)] = s
	}
	return out
}

func TestVulncheckReachedSymbolFails(t *testing.T) {
	slow(t, "builds, govulncheck and the vulnerability database")
	dir := textModule(t, "v0.3.7", `language.ParseAcceptLanguage(os.Getenv("LANG"))`)
	r := vulnRun(t, dir, nil)
	err := r.vulncheck(context.Background())
	require.Error(t, err)
	failed := fail(err)
	assert.Equal(t, ExitVulnerable, mg.ExitStatus(failed))
	assert.Contains(t, failed.Error(), "vulnerable code reached: 1 vulnerabilities (GO-2022-1059) in 1 binaries (dist/svc_linux_amd64)")
	assert.Contains(t, failed.Error(), "go get golang.org/x/text@v0.3.8")
	out := output(r).String()
	assert.Contains(t, out, "[vulncheck] GO-2022-1059 golang.org/x/text golang.org/x/text/language.ParseAcceptLanguage found v0.3.7, fixed v0.3.8: REACHED; go get golang.org/x/text@v0.3.8 (linux/amd64)")

	bin := filepath.Join(dir, "dist", "svc_linux_amd64")
	st := readVEX(t, bin+".vex.json")
	require.Contains(t, st, "GO-2022-1059")
	assert.Equal(t, vex.StatusAffected, st["GO-2022-1059"].Status)
	assert.Equal(t, "Go get golang.org/x/text@v0.3.8", st["GO-2022-1059"].ActionStatement)

	m, err := dist.ReadManifest(filepath.Join(dir, "dist"))
	require.NoError(t, err)
	require.Len(t, m.Binaries, 1)
	assert.Equal(t, "dist/svc_linux_amd64.vex.json", m.Binaries[0].VEX)
	var check *dist.Check
	for i := range m.Checks {
		if m.Checks[i].Name == "vulncheck" {
			check = &m.Checks[i]
		}
	}
	require.NotNil(t, check)
	assert.False(t, check.OK)
	assert.Contains(t, check.Message, "GO-2022-1059 reached")
	sums, err := os.ReadFile(filepath.Join(dir, "dist", "SHA256SUMS"))
	require.NoError(t, err)
	vexSum, err := dist.Sum(bin + ".vex.json")
	require.NoError(t, err)
	assert.Contains(t, string(sums), vexSum+"  svc_linux_amd64.vex.json\n")

	first, err := os.ReadFile(bin + ".vex.json")
	require.NoError(t, err)
	again := vulnRun(t, dir, map[string]string{"MAGEPACK_VULN_WAIVERS": "GO-2022-1059=we only parse our own proxy's header"})
	require.NoError(t, again.vulncheck(context.Background()), "the waiver accepts it")
	assert.Contains(t, output(again).String(), "[vulncheck] waiver GO-2022-1059: we only parse our own proxy's header")
	st = readVEX(t, bin+".vex.json")
	assert.Equal(t, vex.StatusAffected, st["GO-2022-1059"].Status)
	assert.Contains(t, st["GO-2022-1059"].ActionStatement, "Waived: we only parse our own proxy's header")
	m, err = dist.ReadManifest(filepath.Join(dir, "dist"))
	require.NoError(t, err)
	assert.Contains(t, m.Checks[len(m.Checks)-1].Message+m.Checks[0].Message, "GO-2022-1059 waived: we only parse our own proxy's header")

	summary := filepath.Join(t.TempDir(), "summary.md")
	third := vulnRun(t, dir, map[string]string{"GITHUB_STEP_SUMMARY": summary})
	require.Error(t, third.vulncheck(context.Background()))
	md, err := os.ReadFile(summary)
	require.NoError(t, err)
	assert.Equal(t, "### vulncheck\n\n| binary | reached | waived | not affected |\n| --- | --- | --- | --- |\n| dist/svc_linux_amd64 | 1 | 0 | 15 |\n\nFix: go get golang.org/x/text@v0.3.8\n\n", string(md))
	last, err := os.ReadFile(bin + ".vex.json")
	require.NoError(t, err)
	assert.Equal(t, string(first), string(last), "one binary, one database: the same VEX bytes")
}

func TestVulncheckSymbolNotInBinaryPasses(t *testing.T) {
	slow(t, "builds, govulncheck and the vulnerability database")
	dir := textModule(t, "v0.3.7", `language.Make("de-CH")`)
	r := vulnRun(t, dir, nil)
	require.NoError(t, r.vulncheck(context.Background()))
	assert.Contains(t, output(r).String(), "GO-2022-1059 golang.org/x/text golang.org/x/text/language found v0.3.7, fixed v0.3.8: not affected")
	st := readVEX(t, filepath.Join(dir, "dist", "svc_linux_amd64.vex.json"))
	require.Contains(t, st, "GO-2022-1059")
	assert.Equal(t, vex.StatusNotAffected, st["GO-2022-1059"].Status)
	assert.Equal(t, vex.VulnerableCodeNotInExecutePath, st["GO-2022-1059"].Justification)
}

func TestVulncheckFixedVersionClears(t *testing.T) {
	slow(t, "builds, govulncheck and the vulnerability database")
	dir := textModule(t, "v0.3.8", `language.ParseAcceptLanguage(os.Getenv("LANG"))`)
	r := vulnRun(t, dir, nil)
	require.NoError(t, r.vulncheck(context.Background()))
	assert.NotContains(t, output(r).String(), "GO-2022-1059")
	st := readVEX(t, filepath.Join(dir, "dist", "svc_linux_amd64.vex.json"))
	assert.NotContains(t, st, "GO-2022-1059")
}

func TestVulncheckUnreadableDatabase(t *testing.T) {
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "")
	r := mustRun(t, dir, Config{}, map[string]string{"MAGEPACK_PLATFORMS": "linux/amd64", "MAGEPACK_VULNDB": "file://" + filepath.Join(t.TempDir(), "empty")})
	err := fail(r.vulncheck(context.Background()))
	require.Error(t, err)
	assert.Equal(t, ExitConfig, mg.ExitStatus(err))
	assert.Contains(t, err.Error(), "MAGEPACK_VULNDB")
	assert.Contains(t, err.Error(), "cannot be read")
	assert.NoFileExists(t, filepath.Join(dir, "dist", "svc_linux_amd64"), "fails before any build")
}

func TestVulncheckSettings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"http database", map[string]string{"MAGEPACK_VULNDB": "http://mirror/vulndb"}, "MAGEPACK_VULNDB"},
		{"relative file database", map[string]string{"MAGEPACK_VULNDB": "file://vulndb"}, "MAGEPACK_VULNDB"},
		{"waiver without a reason", map[string]string{"MAGEPACK_VULN_WAIVERS": "GO-2022-1059"}, "MAGEPACK_VULN_WAIVERS"},
		{"waiver with an empty reason", map[string]string{"MAGEPACK_VULN_WAIVERS": "GO-2022-1059= "}, "gives no reason"},
		{"waiver of no ID", map[string]string{"MAGEPACK_VULN_WAIVERS": "CVE-2022-32149=x"}, "GO-2022-1059"},
		{"toolchain not a release", map[string]string{"MAGEPACK_TOOLCHAIN": "1.26.10"}, "MAGEPACK_TOOLCHAIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := configure(Config{}, envOf(tc.env))
			require.Error(t, err)
			assert.Equal(t, ExitConfig, mg.ExitStatus(fail(err)))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	o, err := configure(Config{VulnWaivers: map[string]string{"GO-2000-0001": "from Go"}}, envOf(map[string]string{
		"MAGEPACK_VULN_WAIVERS": "GO-2022-1059=only our own header; GO-2026-6603 = behind a proxy that drops trailers",
		"MAGEPACK_TOOLCHAIN":    "go1.26.10",
	}))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"GO-2022-1059": "only our own header", "GO-2026-6603": "behind a proxy that drops trailers"}, o.VulnWaivers, "the environment replaces Go's waivers")
	assert.Equal(t, "go1.26.10", o.Toolchain)
	assert.Equal(t, "https://vuln.go.dev", o.VulnDB)
	assert.Equal(t, []string{"A=1", "GOTOOLCHAIN=go1.26.10"}, withToolchain([]string{"A=1"}, "go1.26.10"))
	assert.Equal(t, "go1.27.1", modToolchain([]byte("module m\n\ngo 1.26\n\ntoolchain go1.27.1\n")))
}

// exampleAppRun is a run of this repository's example-app for linux/amd64
// into a temporary dist, against the test database, with env added.
func exampleAppRun(t *testing.T, env map[string]string) (*run, string) {
	t.Helper()
	distDir := t.TempDir()
	e := map[string]string{"MAGEPACK_MAIN": "./example-app", "MAGEPACK_DIST": distDir, "MAGEPACK_VERSION": "1.0.0"}
	for k, v := range env {
		e[k] = v
	}
	return vulnRun(t, fixture.RepoRoot(t), e), distDir
}

func TestVulncheckExampleAppToolchain(t *testing.T) {
	slow(t, "builds example-app with two toolchains, govulncheck and the vulnerability database")
	ctx := context.Background()

	old, oldDist := exampleAppRun(t, nil)
	require.Equal(t, "go1.26.8", old.p.GoVersion, "the machines' Go, whose standard library the database lists as vulnerable")
	err := fail(old.vulncheck(ctx))
	require.Error(t, err)
	assert.Equal(t, ExitVulnerable, mg.ExitStatus(err))
	assert.Contains(t, err.Error(), "build with go1.26.10")
	out := output(old).String()
	assert.Regexp(t, `\[vulncheck\] GO-\d{4}-\d+ stdlib net/http\.\S+ .*found go1\.26\.8, fixed go1\.26\.(9|10): REACHED; build with go1\.26\.(9|10) \(linux/amd64\)`, out)
	st := readVEX(t, filepath.Join(oldDist, "example-app_linux_amd64.vex.json"))
	var affected, notAffected int
	for _, s := range st {
		switch s.Status {
		case vex.StatusAffected:
			affected++
		case vex.StatusNotAffected:
			notAffected++
		}
	}
	t.Logf("go1.26.8: %d affected, %d not affected", affected, notAffected)
	assert.Positive(t, affected)

	fixed, fixedDist := exampleAppRun(t, map[string]string{"MAGEPACK_TOOLCHAIN": "go1.26.10"})
	assert.Equal(t, "go1.26.10", fixed.p.GoVersion)
	require.NoError(t, fixed.vulncheck(ctx))
	out = output(fixed).String()
	assert.Contains(t, out, "[config] toolchain go1.26.10 (MAGEPACK_TOOLCHAIN): every go command runs with GOTOOLCHAIN=go1.26.10")
	assert.Contains(t, out, "with go1.26.10, CGO off")
	assert.Contains(t, out, "0 reached, 0 waived")
	m, err := dist.ReadManifest(fixedDist)
	require.NoError(t, err)
	require.NotNil(t, m.Build)
	assert.Equal(t, "go1.26.10", m.Build.Toolchain)
	require.Len(t, m.Binaries, 1)
	assert.Equal(t, "go1.26.10", m.Binaries[0].GoVersion, "the binary's own build information")
	bom, err := os.ReadFile(filepath.Join(fixedDist, "example-app_linux_amd64.cdx.json"))
	require.NoError(t, err)
	assert.Contains(t, string(bom), `"value": "go1.26.10"`)
}

func TestVulncheckVEXFollowsTheBinary(t *testing.T) {
	slow(t, "builds, govulncheck and the vulnerability database")
	dir := textModule(t, "v0.3.7", `language.Make("de-CH")`)
	ctx := context.Background()
	require.NoError(t, vulnRun(t, dir, nil).vulncheck(ctx))
	vexPath := filepath.Join(dir, "dist", "svc_linux_amd64.vex.json")
	require.FileExists(t, vexPath)

	// The same bytes built again keep their VEX.
	require.NoError(t, vulnRun(t, dir, nil).crossCompile(ctx))
	m, err := dist.ReadManifest(filepath.Join(dir, "dist"))
	require.NoError(t, err)
	assert.Equal(t, "dist/svc_linux_amd64.vex.json", m.Binaries[0].VEX)
	assert.FileExists(t, vexPath)

	// Other bytes drop it: it spoke of another binary.
	main, err := os.ReadFile(filepath.Join(dir, "main.go"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(strings.Replace(string(main), "de-CH", "fr", 1)), 0o644))
	require.NoError(t, vulnRun(t, dir, nil).crossCompile(ctx))
	m, err = dist.ReadManifest(filepath.Join(dir, "dist"))
	require.NoError(t, err)
	assert.Empty(t, m.Binaries[0].VEX)
	assert.NoFileExists(t, vexPath)
	sums, err := os.ReadFile(filepath.Join(dir, "dist", "SHA256SUMS"))
	require.NoError(t, err)
	assert.NotContains(t, string(sums), "vex.json")
}
