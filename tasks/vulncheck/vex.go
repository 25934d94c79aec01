package vulncheck

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// VEX vocabulary of OpenVEX v0.2.0.
const (
	vexContext = "https://openvex.dev/ns/v0.2.0"
	vexIDBase  = "https://openvex.dev/docs/public/vex-"

	StatusAffected    = "affected"
	StatusNotAffected = "not_affected"
	// JustificationNotInExecutePath is the justification of a vulnerability
	// whose module or package the binary holds without its vulnerable code.
	JustificationNotInExecutePath = "vulnerable_code_not_in_execute_path"
)

// Product names the binary a VEX document is about: an identifier (a
// package URL) and the binary's SHA-256, which tells the platforms apart.
type Product struct {
	ID     string
	SHA256 string
}

// vexDoc is an OpenVEX document; the field order is the spec's.
type vexDoc struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Author     string         `json:"author"`
	Timestamp  string         `json:"timestamp"`
	Version    int            `json:"version"`
	Tooling    string         `json:"tooling,omitempty"`
	Statements []vexStatement `json:"statements"`
}

type vexStatement struct {
	Vulnerability   vexVuln      `json:"vulnerability"`
	Products        []vexProduct `json:"products"`
	Status          string       `json:"status"`
	StatusNotes     string       `json:"status_notes,omitempty"`
	Justification   string       `json:"justification,omitempty"`
	ImpactStatement string       `json:"impact_statement,omitempty"`
	ActionStatement string       `json:"action_statement,omitempty"`
}

type vexVuln struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Aliases     []string `json:"aliases,omitempty"`
}

type vexProduct struct {
	ID            string            `json:"@id"`
	Hashes        map[string]string `json:"hashes,omitempty"`
	Subcomponents []vexComponent    `json:"subcomponents,omitempty"`
}

type vexComponent struct {
	ID string `json:"@id"`
}

// VEX returns the OpenVEX document (v0.2.0, indented JSON ending in a
// newline) of what rep says about product: each finding reached is
// affected, its action the fix (or the waiver's reason when waived);
// each one not reached is not_affected with the justification
// vulnerable_code_not_in_execute_path. The document's time is the
// database's modification time and its @id a digest of its content, so
// one binary and one database give the same bytes on every run. It
// returns an error when rep has no database time.
func VEX(rep *Report, product Product) ([]byte, error) {
	if rep.DBModified.IsZero() {
		return nil, fmt.Errorf("VEX of %s: the report has no database time", rep.Binary)
	}
	doc := vexDoc{
		Context:   vexContext,
		Author:    "magepack",
		Timestamp: rep.DBModified.UTC().Format(time.RFC3339),
		Version:   1,
		// Not the database's location: a mirror elsewhere holds the same data.
		Tooling:    "magepack vulncheck (" + rep.Scanner + ")",
		Statements: []vexStatement{},
	}
	for _, f := range rep.Findings {
		doc.Statements = append(doc.Statements, statement(f, product))
	}
	return encode(doc)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// statement is the VEX statement of one finding.
func statement(f Finding, product Product) vexStatement {
	p := vexProduct{ID: product.ID, Subcomponents: []vexComponent{{ID: modulePURL(f.Module, f.Found)}}}
	if product.SHA256 != "" {
		p.Hashes = map[string]string{"sha-256": product.SHA256}
	}
	s := vexStatement{
		Vulnerability: vexVuln{Name: f.ID, Description: f.Summary, Aliases: f.Aliases},
		Products:      []vexProduct{p},
	}
	switch {
	case f.Reached():
		s.Status = StatusAffected
		s.StatusNotes = "the binary contains the vulnerable symbols " + strings.Join(f.Symbols, ", ")
		s.ActionStatement = capitalize(f.Fix())
		if f.Waived != "" {
			s.ActionStatement = "Waived: " + f.Waived + " (fix: " + f.Fix() + ")"
		}
	default:
		s.Status = StatusNotAffected
		s.Justification = JustificationNotInExecutePath
		held := f.Module + "@" + f.Found
		if len(f.Packages) > 0 {
			held = strings.Join(f.Packages, ", ") + " of " + held
		}
		s.ImpactStatement = "the binary holds " + held + " but none of its vulnerable symbols"
		if f.Waived != "" {
			s.StatusNotes = "waived: " + f.Waived
		}
	}
	return s
}

// modulePURL is the package URL of a module version: pkg:golang/stdlib@go1.26.8
// for the standard library.
func modulePURL(module, version string) string {
	if version == "" {
		return "pkg:golang/" + module
	}
	return "pkg:golang/" + module + "@" + version
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Counts reads a VEX document VEX wrote and says how many of its
// vulnerabilities are reached, reached but waived, and not reached:
// "10 reached, 0 waived, 3 not affected". It returns an error when the
// document cannot be read.
func Counts(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var doc vexDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	var reached, waived, not int
	for _, s := range doc.Statements {
		switch {
		case s.Status == StatusAffected && strings.HasPrefix(s.ActionStatement, "Waived: "):
			waived++
		case s.Status == StatusAffected:
			reached++
		default:
			not++
		}
	}
	return Summary(reached, waived, not), nil
}
