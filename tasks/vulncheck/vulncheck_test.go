package vulncheck

import (
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exampleApp is govulncheck v1.9.0's JSON on example-app built with
// go1.26.8, against the database of 2026-11-05, cut to two vulnerabilities
// and a few of their symbols.
func exampleApp(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "example-app.json"))
	require.NoError(t, err)
	return data
}

// fakeTool answers every run with stdout, stderr and err.
func fakeTool(stdout, stderr string, err error) Option {
	return withRunner(func(context.Context, string, []string, []string) ([]byte, []byte, error) {
		return []byte(stdout), []byte(stderr), err
	})
}

func TestScanReadsGovulncheckJSON(t *testing.T) {
	rep, err := Scan(context.Background(), "dist/app", fakeTool(string(exampleApp(t)), "", nil))
	require.NoError(t, err)
	assert.Equal(t, "govulncheck@v1.9.0", rep.Scanner)
	assert.Equal(t, time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC), rep.DBModified)
	assert.Equal(t, "go1.26.8", rep.GoVersion)
	require.Len(t, rep.Findings, 2)
	http2, x509 := rep.Findings[0], rep.Findings[1]
	assert.Equal(t, Finding{
		ID: "GO-2026-6603", Aliases: []string{"CVE-2026-78659"}, Summary: "HTTP/2 server memory exhaustion due to Trailer headers in net/http",
		Module: "stdlib", Found: "go1.26.8", Fixed: "go1.26.9",
		Symbols:  []string{"net/http.ServeMux.ServeHTTP", "net/http.body.Close", "net/http.http2Setting.String"},
		Packages: []string{"net/http"},
	}, http2)
	assert.Equal(t, "GO-2026-6809", x509.ID)
	assert.Equal(t, []string{"crypto/x509.Certificate.Verify"}, x509.Symbols)
	assert.Equal(t, "build with go1.26.10", x509.Fix())
	assert.Len(t, rep.Failing(), 2)

	rep.Waive(map[string]string{"GO-2026-6809": "we pin our own roots", "GO-2000-0001": "unrelated"})
	assert.Equal(t, "we pin our own roots", rep.Findings[1].Waived)
	assert.False(t, rep.Findings[1].Failing())
	assert.Len(t, rep.Failing(), 1)
}

// notReached is a stream where golang.org/x/text's vulnerable package is
// in the binary but not its vulnerable symbol (module and package findings
// only).
const notReached = `{"config":{"scanner_name":"govulncheck","scanner_version":"v1.9.0","db":"file:///db","db_last_modified":"2026-11-05T23:49:57Z"}}
{"SBOM":{"go_version":"go1.26.8"}}
{"osv":{"id":"GO-2022-1059","aliases":["CVE-2022-32149","GHSA-69ch-w2m2-3vjp"],"summary":"Denial of service via crafted Accept-Language header in golang.org/x/text/language"}}
{"finding":{"osv":"GO-2022-1059","fixed_version":"v0.3.8","trace":[{"module":"golang.org/x/text","version":"v0.3.7"}]}}
{"finding":{"osv":"GO-2022-1059","fixed_version":"v0.3.8","trace":[{"module":"golang.org/x/text","version":"v0.3.7","package":"golang.org/x/text/language"}]}}
`

func TestFindingNotReached(t *testing.T) {
	rep, err := Scan(context.Background(), "dist/app", fakeTool(notReached, "", nil))
	require.NoError(t, err)
	require.Len(t, rep.Findings, 1)
	f := rep.Findings[0]
	assert.False(t, f.Reached())
	assert.False(t, f.Failing())
	assert.Equal(t, "v0.3.7", f.Found)
	assert.Equal(t, "go get golang.org/x/text@v0.3.8", f.Fix())
	assert.Equal(t, []string{"golang.org/x/text/language"}, f.Packages)
}

func TestFix(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Finding
		want string
	}{
		{"stdlib", Finding{Module: "stdlib", Fixed: "go1.26.10"}, "build with go1.26.10"},
		{"toolchain", Finding{Module: "toolchain", Fixed: "go1.26.9"}, "build with go1.26.9"},
		{"module", Finding{Module: "golang.org/x/text", Fixed: "v0.3.8"}, "go get golang.org/x/text@v0.3.8"},
		{"no fix", Finding{Module: "example.com/m"}, "no fixed version yet"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.f.Fix()) })
	}
}

func TestScanNeverReportsAnUnreadDatabaseAsClean(t *testing.T) {
	missing := "file://" + filepath.Join(t.TempDir(), "nothing")
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"file folder without an index", []Option{WithDB(missing), fakeTool(notReached, "", nil)}},
		{"govulncheck cannot fetch it", []Option{WithDB("https://vuln.example.invalid"), fakeTool("", "govulncheck: fetching vulnerability database: dial tcp: no such host", errors.New("exit status 1"))}},
		{"a stream with no database time", []Option{fakeTool(`{"SBOM":{"go_version":"go1.26.8"}}`, "", nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Scan(context.Background(), "dist/app", tc.opts...)
			var dbErr *DBError
			require.ErrorAs(t, err, &dbErr)
			assert.Contains(t, err.Error(), "cannot be read")
		})
	}
}

func TestScanNeverReportsAnUnreadBinaryAsClean(t *testing.T) {
	noSBOM := `{"config":{"scanner_name":"govulncheck","scanner_version":"v1.9.0","db":"file:///db","db_last_modified":"2026-11-05T23:49:57Z"}}` + "\n"
	_, err := Scan(context.Background(), "dist/app", fakeTool(noSBOM, "", nil))
	var scanErr *ScanError
	require.ErrorAs(t, err, &scanErr, "a database read, but no binary")
	assert.Contains(t, err.Error(), "dist/app")
	assert.Contains(t, err.Error(), "no Go version")
}

func TestScanOfATwinNamesTheShippedBinary(t *testing.T) {
	_, err := Scan(context.Background(), "/cache/twins/ab12/app", WithTwinOf("dist/app"), fakeTool("", "govulncheck: unexpected EOF", errors.New("exit status 1")))
	var scanErr *ScanError
	require.ErrorAs(t, err, &scanErr)
	assert.Contains(t, err.Error(), "govulncheck dist/app (its symbol twin /cache/twins/ab12/app): exit status 1: govulncheck: unexpected EOF")

	rep, err := Scan(context.Background(), "/cache/twins/ab12/app", WithTwinOf("dist/app"), fakeTool(notReached, "", nil))
	require.NoError(t, err)
	assert.Equal(t, "dist/app", rep.Binary, "the report is about the shipped binary")
}

func TestScanErrorCarriesGovulncheckOutput(t *testing.T) {
	_, err := Scan(context.Background(), "dist/app", fakeTool("", "govulncheck: dist/app is not a Go binary", errors.New("exit status 1")))
	var scanErr *ScanError
	require.ErrorAs(t, err, &scanErr)
	assert.Contains(t, err.Error(), "not a Go binary")
}

func TestParseDB(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "", want: DefaultDB},
		{in: "https://vuln.go.dev", want: "https://vuln.go.dev"},
		{in: "file:///var/cache/vulndb", want: "file:///var/cache/vulndb"},
		{in: "file://vulndb", err: "absolute folder"},
		{in: "/var/cache/vulndb", err: "want a file:// folder or an https:// URL"},
		{in: "http://mirror/vulndb", err: "want a file:// folder or an https:// URL"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDB(tc.in)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestVEXReadsBackAndIsReproducible(t *testing.T) {
	rep, err := Scan(context.Background(), "dist/app", fakeTool(string(exampleApp(t)), "", nil))
	require.NoError(t, err)
	more, err := Scan(context.Background(), "dist/app", fakeTool(notReached, "", nil))
	require.NoError(t, err)
	rep.Findings = append(rep.Findings, more.Findings...)
	rep.Waive(map[string]string{"GO-2026-6809": "we pin our own roots"})
	product := Product{ID: "pkg:golang/example.com/app@1.0.0", SHA256: strings.Repeat("ab", 32)}

	data, err := VEX(rep, product)
	require.NoError(t, err)
	again, err := VEX(rep, product)
	require.NoError(t, err)
	assert.Equal(t, string(data), string(again), "one report, one database: the same bytes")

	doc, err := vex.Parse(data)
	require.NoError(t, err)
	assert.Equal(t, "https://openvex.dev/ns/v0.2.0", doc.Context)
	assert.True(t, strings.HasPrefix(doc.ID, "https://openvex.dev/docs/public/vex-"))
	require.NotNil(t, doc.Timestamp)
	assert.Equal(t, rep.DBModified, doc.Timestamp.UTC())
	require.Len(t, doc.Statements, 3)
	for _, s := range doc.Statements {
		assert.NoError(t, s.Validate(), s.Vulnerability.Name)
		require.Len(t, s.Products, 1)
		assert.Equal(t, product.ID, s.Products[0].ID)
		assert.Equal(t, product.SHA256, string(s.Products[0].Hashes[vex.SHA256]))
	}
	byID := map[string]vex.Statement{}
	for _, s := range doc.Statements {
		byID[string(s.Vulnerability.Name)] = s
	}
	assert.Equal(t, vex.StatusAffected, byID["GO-2026-6603"].Status)
	assert.Equal(t, "Build with go1.26.9", byID["GO-2026-6603"].ActionStatement)
	assert.Equal(t, vex.StatusAffected, byID["GO-2026-6809"].Status)
	assert.Contains(t, byID["GO-2026-6809"].ActionStatement, "Waived: we pin our own roots")
	x := byID["GO-2022-1059"]
	assert.Equal(t, vex.StatusNotAffected, x.Status)
	assert.Equal(t, vex.VulnerableCodeNotInExecutePath, x.Justification)
	assert.Equal(t, "pkg:golang/golang.org/x/text@v0.3.7", x.Products[0].Subcomponents[0].ID)

	path := filepath.Join(t.TempDir(), "app.vex.json")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	counts, err := Counts(path)
	require.NoError(t, err)
	assert.Equal(t, "1 reached, 1 waived, 1 not affected", counts)

	rep.DBModified = rep.DBModified.Add(time.Hour)
	other, err := VEX(rep, product)
	require.NoError(t, err)
	assert.NotEqual(t, string(data), string(other), "another database, another document")
}

func TestFixesTakeTheNewestPerModule(t *testing.T) {
	rep := &Report{Findings: []Finding{
		{ID: "GO-1", Module: "stdlib", Fixed: "go1.26.9", Symbols: []string{"a"}},
		{ID: "GO-2", Module: "stdlib", Fixed: "go1.26.10", Symbols: []string{"b"}},
		{ID: "GO-3", Module: "golang.org/x/text", Fixed: "v0.3.8", Symbols: []string{"c"}},
		{ID: "GO-4", Module: "golang.org/x/text", Fixed: "v0.3.10", Symbols: []string{"d"}},
		{ID: "GO-5", Module: "golang.org/x/net", Fixed: "v0.1.0"}, // not reached
		{ID: "GO-6", Module: "golang.org/x/net", Fixed: "v0.2.0", Symbols: []string{"e"}, Waived: "accepted"},
	}}
	assert.Equal(t, []string{"build with go1.26.10", "go get golang.org/x/text@v0.3.10"}, Fixes(rep))
}

func TestScanCacheByBinaryAndDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	require.NoError(t, os.MkdirAll(filepath.Join(db, "index"), 0o755))
	setModified := func(ts string) {
		require.NoError(t, os.WriteFile(filepath.Join(db, "index", "db.json"), []byte(`{"modified":"`+ts+`"}`), 0o644))
	}
	setModified("2026-11-05T23:49:57Z")
	bin := filepath.Join(dir, "app")
	require.NoError(t, os.WriteFile(bin, []byte("binary one"), 0o755))
	runs := 0
	counting := withRunner(func(context.Context, string, []string, []string) ([]byte, []byte, error) {
		runs++
		return []byte(notReached), nil, nil
	})
	scan := func() *Report {
		rep, err := Scan(context.Background(), bin, WithDB("file://"+db), WithCache(filepath.Join(dir, "cache")), counting)
		require.NoError(t, err)
		return rep
	}
	first := scan()
	assert.Equal(t, first, scan())
	assert.Equal(t, 1, runs, "same binary, same database: answered from the cache")

	require.NoError(t, os.WriteFile(bin, []byte("binary two"), 0o755))
	scan()
	assert.Equal(t, 2, runs, "another binary")
	setModified("2026-11-06T00:00:00Z")
	scan()
	assert.Equal(t, 3, runs, "another database")

	other := filepath.Join(dir, "other-db")
	require.NoError(t, os.CopyFS(other, os.DirFS(db)))
	_, err := Scan(context.Background(), bin, WithDB("file://"+other), WithCache(filepath.Join(dir, "cache")), counting)
	require.NoError(t, err)
	assert.Equal(t, 4, runs, "another database of the same time")

	modified, err := DBModified(context.Background(), "file://"+db)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC), modified)
	require.NoError(t, os.WriteFile(filepath.Join(db, "index", "db.json"), []byte(`{}`), 0o644))
	_, err = DBModified(context.Background(), "file://"+db)
	var dbErr *DBError
	assert.ErrorAs(t, err, &dbErr, "an index without a time is no database")
}

func TestDBModifiedOverHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/vulndb/index/db.json.gz" {
			http.NotFound(w, r)
			return
		}
		zw := gzip.NewWriter(w)
		_, _ = zw.Write([]byte(`{"modified":"2026-11-05T23:49:57Z"}`))
		_ = zw.Close()
	}))
	defer srv.Close()
	modified, err := dbModified(context.Background(), srv.URL+"/vulndb", srv.Client())
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC), modified)

	_, err = dbModified(context.Background(), srv.URL+"/elsewhere", srv.Client())
	var dbErr *DBError
	require.ErrorAs(t, err, &dbErr)
	assert.Contains(t, err.Error(), "404")
}

func TestScanTakesTheDatabaseTimeGiven(t *testing.T) {
	fetches := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches++
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	bin := filepath.Join(dir, "app")
	require.NoError(t, os.WriteFile(bin, []byte("binary"), 0o755))
	modified := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	for range 2 {
		_, err := Scan(context.Background(), bin, WithDB(srv.URL), WithDBModified(modified),
			WithCache(filepath.Join(dir, "cache")), fakeTool(notReached, "", nil))
		require.NoError(t, err)
	}
	assert.Zero(t, fetches, "the database's index is not fetched again for each binary")
}

func TestCountsOfAReportAndOfItsVEXAgree(t *testing.T) {
	rep := &Report{Binary: "dist/app", DBModified: time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC), Findings: []Finding{
		{ID: "GO-1", Module: "stdlib", Found: "go1.26.8", Fixed: "go1.26.10", Symbols: []string{"a"}},
		{ID: "GO-2", Module: "golang.org/x/net", Found: "v0.1.0", Fixed: "v0.2.0", Symbols: []string{"b"}, Waived: "accepted"},
		{ID: "GO-3", Module: "golang.org/x/text", Found: "v0.3.7", Fixed: "v0.3.8"},
		{ID: "GO-4", Module: "golang.org/x/text", Found: "v0.3.7", Waived: "not reached anyway"},
	}}
	assert.Equal(t, "1 reached, 1 waived, 2 not affected", Summary(rep.Counts()))
	doc, err := VEX(rep, Product{ID: "pkg:golang/example.com/app@v1.0.0"})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "app.vex.json")
	require.NoError(t, os.WriteFile(path, doc, 0o644))
	counts, err := Counts(path)
	require.NoError(t, err)
	assert.Equal(t, Summary(rep.Counts()), counts)
}
