// Package vulncheck runs govulncheck's binary-mode analysis on built
// binaries and turns what it finds into a verdict and an OpenVEX document.
//
// govulncheck (golang.org/x/vuln, Tool's version) runs as its own program,
// built once per machine by the go command (Install), so the packages that
// import this one do not compile its analysis: the default targets' cold
// compile stays what it was. Scan runs it on one binary with -format json
// and reads its stream: which vulnerabilities of the database apply to the
// modules and the Go version the binary holds, and which of their
// vulnerable symbols the binary contains. A vulnerability whose symbol is
// in the binary is reached (Finding.Reached); one of a module or package
// the binary holds without the symbol is not.
package vulncheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	goversion "go/version"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/magepack/magepack/tasks/dist"
)

// Tool is the govulncheck this package runs.
const Tool = "golang.org/x/vuln/cmd/govulncheck@v1.9.0"

// DefaultDB is Go's public vulnerability database.
const DefaultDB = "https://vuln.go.dev"

// Finding is one vulnerability that applies to a binary: a module (or the
// standard library) at a vulnerable version.
type Finding struct {
	// ID is the Go vulnerability ID, e.g. GO-2022-1059; Aliases are its
	// CVE and GHSA IDs; Summary is the database's one-line summary.
	ID      string
	Aliases []string
	Summary string
	// Module is the module path, "stdlib" for the standard library or
	// "toolchain" for the go command.
	Module string
	// Found is the version the binary holds: "v0.3.7", or "go1.26.8" for
	// stdlib and toolchain. Fixed is the first version with the fix in the
	// same form, or "" when none exists.
	Found, Fixed string
	// Symbols are the vulnerable symbols the binary contains
	// ("golang.org/x/text/language.ParseAcceptLanguage",
	// "net/http.Server.Serve"); empty when it contains none.
	Symbols []string
	// Packages are the vulnerable packages the binary holds.
	Packages []string
	// Waived is the reason the configuration gives for accepting this
	// vulnerability; "" when it is not waived.
	Waived string
}

// Reached reports whether a vulnerable symbol is in the binary.
func (f Finding) Reached() bool { return len(f.Symbols) > 0 }

// Failing reports whether the finding fails a check: reached and not waived.
func (f Finding) Failing() bool { return f.Reached() && f.Waived == "" }

// Fix says in words what removes the vulnerability: "build with
// go1.26.10", "go get golang.org/x/text@v0.3.8", or that no fixed version
// exists yet.
func (f Finding) Fix() string {
	switch {
	case f.Fixed == "":
		return "no fixed version yet"
	case f.Module == "stdlib" || f.Module == "toolchain":
		return "build with " + f.Fixed
	default:
		return "go get " + f.Module + "@" + f.Fixed
	}
}

// Report is what govulncheck found in one binary.
type Report struct {
	// Binary is the path scanned.
	Binary string
	// Scanner is govulncheck's name and version ("govulncheck@v1.9.0").
	Scanner string
	// DB is the database read and DBModified its last modification: the
	// time of everything this report says.
	DB         string
	DBModified time.Time
	// GoVersion is the Go version the binary was built with.
	GoVersion string
	// Findings, sorted by ID, one per vulnerability.
	Findings []Finding
}

// Failing returns the findings that fail the check (reached, not waived).
func (r *Report) Failing() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Failing() {
			out = append(out, f)
		}
	}
	return out
}

// Counts counts the findings that fail, that are reached but waived, and
// that are not reached.
func (r *Report) Counts() (reached, waived, notAffected int) {
	for _, f := range r.Findings {
		switch {
		case f.Failing():
			reached++
		case f.Reached():
			waived++
		default:
			notAffected++
		}
	}
	return reached, waived, notAffected
}

// Summary says counts in words: "2 reached, 1 waived, 3 not affected".
func Summary(reached, waived, notAffected int) string {
	return fmt.Sprintf("%d reached, %d waived, %d not affected", reached, waived, notAffected)
}

// Waive marks the findings whose ID waivers names with the reason given.
func (r *Report) Waive(waivers map[string]string) {
	for i, f := range r.Findings {
		if reason, ok := waivers[f.ID]; ok {
			r.Findings[i].Waived = reason
		}
	}
}

// options are Scan's settings.
type options struct {
	tool     string
	db       string
	modified time.Time
	shipped  string
	env      []string
	cache    string
	run      func(ctx context.Context, tool string, args, env []string) (stdout, stderr []byte, err error)
}

// Option changes how Scan works.
type Option func(*options)

// WithTool runs the govulncheck at path (see Install). Default: govulncheck
// from PATH.
func WithTool(path string) Option { return func(o *options) { o.tool = path } }

// WithDB reads the vulnerability database at url (file:// or https://).
// Default: DefaultDB.
func WithDB(url string) Option { return func(o *options) { o.db = url } }

// WithEnv runs govulncheck with env instead of the process environment.
func WithEnv(env []string) Option { return func(o *options) { o.env = env } }

// WithCache keeps govulncheck's answers in dir, by the binary's content,
// the database's location and modification time and Tool's version: the
// same binary against the same database is not scanned twice.
func WithCache(dir string) Option { return func(o *options) { o.cache = dir } }

// WithDBModified gives the database's modification time, as DBModified
// read it, for the cache's key: Scan then does not read the database's
// index again for every binary.
func WithDBModified(t time.Time) Option { return func(o *options) { o.modified = t } }

// WithTwinOf says that the binary Scan reads is the symbol twin of the
// binary at shipped (see SameCode): the report and errors name shipped,
// errors the twin too.
func WithTwinOf(shipped string) Option { return func(o *options) { o.shipped = shipped } }

// withRunner replaces running govulncheck, for tests of failures a real
// one cannot show.
func withRunner(run func(ctx context.Context, tool string, args, env []string) ([]byte, []byte, error)) Option {
	return func(o *options) { o.run = run }
}

// Scan runs govulncheck in binary mode on the binary at path against the
// database and returns its findings. It returns a *DBError when the
// database cannot be read (never an empty report for a database it did
// not read), and a *ScanError when govulncheck fails otherwise or reports
// no Go version for the binary (never an empty report for a binary it did
// not read).
func Scan(ctx context.Context, path string, opts ...Option) (*Report, error) {
	o := options{tool: "govulncheck", db: DefaultDB, run: runTool}
	for _, f := range opts {
		f(&o)
	}
	if err := CheckDB(o.db); err != nil {
		return nil, err
	}
	name, twin := path, ""
	if o.shipped != "" {
		name, twin = o.shipped, path
	}
	scanErr := func(err error, stderr string) error {
		return &ScanError{Binary: name, Twin: twin, Err: err, Stderr: stderr}
	}
	cached := ""
	if o.cache != "" {
		modified := o.modified
		if modified.IsZero() {
			var err error
			if modified, err = DBModified(ctx, o.db); err != nil {
				return nil, err
			}
		}
		sum, err := dist.Sum(path)
		if err != nil {
			return nil, scanErr(err, "")
		}
		_, ver, _ := strings.Cut(Tool, "@")
		db := sha256.Sum256([]byte(o.db))
		cached = filepath.Join(o.cache, fmt.Sprintf("%s-%x-%d-%s.json", sum, db[:8], modified.Unix(), ver))
		if data, err := os.ReadFile(cached); err == nil {
			if rep, err := decode(bytes.NewReader(data)); err == nil && !rep.DBModified.IsZero() && rep.GoVersion != "" {
				rep.Binary = name
				return rep, nil
			}
		}
	}
	args := []string{"-mode", "binary", "-format", "json", "-db", o.db, path}
	stdout, stderr, err := o.run(ctx, o.tool, args, o.env)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	msg := strings.TrimSpace(string(stderr))
	if err != nil {
		if strings.Contains(msg, "vulnerability database") || strings.Contains(msg, o.db) {
			return nil, &DBError{DB: o.db, Err: errors.New(msg)}
		}
		return nil, scanErr(err, msg)
	}
	rep, err := decode(bytes.NewReader(stdout))
	if err != nil {
		return nil, scanErr(err, msg)
	}
	if rep.DBModified.IsZero() {
		return nil, &DBError{DB: o.db, Err: errors.New("govulncheck reported no modification time for it, so it read no database")}
	}
	if rep.GoVersion == "" {
		return nil, scanErr(errors.New("govulncheck reported no Go version for it, so it scanned nothing: check that it is a Go binary with its build information (go version -m)"), msg)
	}
	rep.Binary = name
	if cached != "" {
		// A cache that cannot be written costs the next run a scan, nothing more.
		_ = writeAtomic(cached, stdout)
	}
	return rep, nil
}

// writeAtomic writes data to path through a temporary file and a rename.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// runTool runs govulncheck and returns what it printed.
func runTool(ctx context.Context, tool string, args, env []string) ([]byte, []byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.Bytes(), err
}

// message is one value of govulncheck's JSON stream (the fields used).
type message struct {
	Config *struct {
		ScannerName    string     `json:"scanner_name"`
		ScannerVersion string     `json:"scanner_version"`
		DB             string     `json:"db"`
		DBLastModified *time.Time `json:"db_last_modified"`
		GoVersion      string     `json:"go_version"`
	} `json:"config"`
	SBOM *struct {
		GoVersion string `json:"go_version"`
	} `json:"SBOM"`
	OSV *struct {
		ID      string   `json:"id"`
		Aliases []string `json:"aliases"`
		Summary string   `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
		} `json:"trace"`
	} `json:"finding"`
}

// decode reads govulncheck's JSON stream into a report, one finding per
// vulnerability ID. govulncheck reports a vulnerability at each level it
// applies (module, package, symbol); a symbol-level one is reached.
func decode(r io.Reader) (*Report, error) {
	rep := &Report{}
	byID := map[string]*Finding{}
	type osvInfo struct {
		aliases []string
		summary string
	}
	osvs := map[string]osvInfo{}
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read govulncheck's JSON output: %w", err)
		}
		switch {
		case m.Config != nil:
			rep.Scanner = m.Config.ScannerName + "@" + m.Config.ScannerVersion
			rep.DB = m.Config.DB
			if m.Config.DBLastModified != nil {
				rep.DBModified = m.Config.DBLastModified.UTC()
			}
		case m.SBOM != nil:
			rep.GoVersion = m.SBOM.GoVersion
		case m.OSV != nil:
			osvs[m.OSV.ID] = osvInfo{aliases: m.OSV.Aliases, summary: m.OSV.Summary}
		case m.Finding != nil && len(m.Finding.Trace) > 0:
			fr := m.Finding.Trace[0]
			f := byID[m.Finding.OSV]
			if f == nil {
				f = &Finding{ID: m.Finding.OSV, Module: fr.Module, Found: version(fr.Module, fr.Version), Fixed: version(fr.Module, m.Finding.FixedVersion)}
				byID[f.ID] = f
			}
			if fr.Package != "" && !slices.Contains(f.Packages, fr.Package) {
				f.Packages = append(f.Packages, fr.Package)
			}
			if fr.Function != "" {
				if s := symbol(fr.Package, fr.Receiver, fr.Function); !slices.Contains(f.Symbols, s) {
					f.Symbols = append(f.Symbols, s)
				}
			}
		}
	}
	for id, f := range byID {
		f.Aliases, f.Summary = osvs[id].aliases, osvs[id].summary
		slices.Sort(f.Packages)
		slices.Sort(f.Symbols)
		rep.Findings = append(rep.Findings, *f)
	}
	slices.SortFunc(rep.Findings, func(a, b Finding) int { return strings.Compare(a.ID, b.ID) })
	return rep, nil
}

// version is a module version as users write it: go1.26.10 for the
// standard library and the go command (govulncheck reports v1.26.10).
func version(module, v string) string {
	if v != "" && (module == "stdlib" || module == "toolchain") {
		return "go" + strings.TrimPrefix(v, "v")
	}
	return v
}

// symbol names a function or method by its package path:
// net/http.Server.Serve.
func symbol(pkg, recv, fn string) string {
	if recv = strings.TrimLeft(recv, "*"); recv != "" {
		fn = recv + "." + fn
	}
	return pkg + "." + fn
}

// ScanError is a govulncheck run that failed for another reason than the
// database: the binary, the symbol twin scanned in its place (if any),
// and what govulncheck printed.
type ScanError struct {
	Binary string
	Twin   string
	Err    error
	Stderr string
}

// Error names the binary (and its twin) and includes govulncheck's message.
func (e *ScanError) Error() string {
	bin := e.Binary
	if e.Twin != "" {
		bin += " (its symbol twin " + e.Twin + ")"
	}
	if e.Stderr != "" {
		return fmt.Sprintf("govulncheck %s: %v: %s", bin, e.Err, e.Stderr)
	}
	return fmt.Sprintf("govulncheck %s: %v", bin, e.Err)
}

// Unwrap returns the cause.
func (e *ScanError) Unwrap() error { return e.Err }

// Fixes says in words what clears the failing findings of reps, one fix
// per module: the newest Go release any needs ("build with go1.26.10"),
// and for each module the newest fixed version any needs ("go get
// golang.org/x/text@v0.3.8"); sorted.
func Fixes(reps ...*Report) []string {
	newest := map[string]Finding{}
	for _, r := range reps {
		for _, f := range r.Failing() {
			key := f.Module
			if key == "toolchain" {
				key = "stdlib"
			}
			if old, ok := newest[key]; !ok || newer(f, old) {
				newest[key] = f
			}
		}
	}
	var out []string
	for _, f := range newest {
		out = append(out, f.Fix())
	}
	slices.Sort(out)
	return out
}

// newer reports whether a's fixed version is newer than b's (no fix
// counts as newest: nothing fixes it yet).
func newer(a, b Finding) bool {
	switch {
	case b.Fixed == "":
		return false
	case a.Fixed == "":
		return true
	case a.Module == "stdlib" || a.Module == "toolchain":
		return goversion.Compare(a.Fixed, b.Fixed) > 0
	}
	va, errA := semver.NewVersion(a.Fixed)
	vb, errB := semver.NewVersion(b.Fixed)
	if errA != nil || errB != nil {
		return a.Fixed > b.Fixed
	}
	return va.GreaterThan(vb)
}
