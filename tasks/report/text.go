package report

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// section is one titled table of a report.
type section struct {
	title   string
	headers []string
	rows    [][]string
}

// sections lays out the compare report once for Text and Markdown: the
// variants compared feature by feature (size, security, debugging,
// dependencies) as the measured facts decide it, the measured facts, and
// the binaries. Sections with nothing to show are left
// out.
func sections(c Compare) []section {
	var out []section
	if len(c.Images) > 0 {
		headers := []string{"Feature"}
		size := []string{"Size"}
		security := []string{"Security"}
		debugging := []string{"Debugging"}
		deps := []string{"Dependencies"}
		for _, im := range c.Images {
			headers = append(headers, title(im.Variant)+" image")
			size = append(size, megabytes(im.Size))
			security = append(security, securityVerdict(im))
			debugging = append(debugging, debuggingVerdict(im))
			deps = append(deps, dependencyVerdict(im))
		}
		out = append(out, section{
			title:   "Images at a glance",
			headers: headers,
			rows:    [][]string{size, security, debugging, deps},
		})

		headers = []string{"Measured"}
		rows := [][]string{
			{"image size"}, {"layers"}, {"base"}, {"shell"}, {"package manager"},
			{"libc"}, {"CA bundle"}, {"user"}, {"files"}, {"start time"}, {"reference"}, {"image ID"},
		}
		if c.SBOM != "" {
			rows = append(rows, []string{"SBOM"})
		}
		if c.VEX != "" {
			rows = append(rows, []string{"vulnerabilities"})
		}
		for _, im := range c.Images {
			headers = append(headers, im.Variant)
			user := im.User
			if user == "" {
				user = "root (not set)"
			}
			start := "not measured"
			if im.StartRuns > 0 {
				start = fmt.Sprintf("%s (median of %d)", milliseconds(im.StartMedian), im.StartRuns)
			}
			for i, v := range []string{
				sizeWithBytes(im.Size), fmt.Sprint(im.Layers), im.Base, yesNo(im.Shell),
				yesNo(im.PackageManager), orNone(im.Libc), yesNo(im.CABundle), user,
				fmt.Sprint(im.Files), start, im.Reference, shortID(im.ID),
			} {
				rows[i] = append(rows[i], v)
			}
			if c.SBOM != "" {
				i := len(rows) - 1
				if c.VEX != "" {
					i--
				}
				rows[i] = append(rows[i], c.SBOM)
			}
			if c.VEX != "" {
				rows[len(rows)-1] = append(rows[len(rows)-1], c.Vulnerabilities+" ("+c.VEX+")")
			}
		}
		out = append(out, section{title: "Measured image facts", headers: headers, rows: rows})
	}
	if len(c.Binaries) > 0 {
		rows := make([][]string, 0, len(c.Binaries))
		for _, b := range c.Binaries {
			rows = append(rows, []string{b.Variant, sizeWithBytes(b.Size), b.Linkage, orNone(b.Libc), b.Description})
		}
		out = append(out, section{
			title:   "Binaries",
			headers: []string{"Binary", "Size", "Linkage", "Libc", "Built with"},
			rows:    rows,
		})
	}
	return out
}

// securityVerdict says what an attacker inside the container would find.
func securityVerdict(im ImageFacts) string {
	var v string
	switch {
	case im.Shell && im.PackageManager:
		v = "shell + package manager: larger attack surface"
	case im.Shell:
		v = "shell, no package manager"
	case im.PackageManager:
		v = "package manager, no shell"
	default:
		v = "no shell, no package manager"
	}
	if runsAsRoot(im.User) {
		v += "; runs as root"
	}
	return v
}

// runsAsRoot reports whether a container user is root, as an image config
// with no user is.
func runsAsRoot(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	return name == "" || name == "root" || name == "0"
}

// debuggingVerdict says whether one can get a shell in the container.
func debuggingVerdict(im ImageFacts) string {
	if im.Shell {
		return "possible (has /bin/sh)"
	}
	return "difficult (no shell)"
}

// dependencyVerdict says what the image brings for the binary to link to.
func dependencyVerdict(im ImageFacts) string {
	switch im.Libc {
	case "", "none":
		return "none (needs a static binary)"
	default:
		return "includes " + im.Libc + " libc"
	}
}

// shortID shortens an image ID the way docker images does, keeping the
// algorithm: "sha256:0851747829ca".
func shortID(id string) string {
	algo, hex, ok := strings.Cut(id, ":")
	if !ok {
		algo, hex = "", id
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	if algo == "" {
		return hex
	}
	return algo + ":" + hex
}

// orNone renders an empty or "none" libc as "none".
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// heading is the report's first line: "example-app 1.2.3: alpine vs scratch".
func heading(c Compare) string {
	h := strings.TrimSpace(c.App + " " + c.Version)
	if h == "" {
		h = "Image comparison"
	}
	variants := make([]string, 0, len(c.Images))
	for _, im := range c.Images {
		variants = append(variants, im.Variant)
	}
	if len(variants) > 0 {
		h += ": " + strings.Join(variants, " vs ")
	}
	if c.Platform != "" {
		h += " (" + c.Platform + ")"
	}
	return h
}

// summary compares the largest and the smallest image in one sentence, or
// returns "" with fewer than two images.
func summary(c Compare) string {
	if len(c.Images) < 2 {
		return ""
	}
	small, large := c.Images[0], c.Images[0]
	for _, im := range c.Images[1:] {
		if im.Size < small.Size {
			small = im
		}
		if im.Size > large.Size {
			large = im
		}
	}
	if large.Size <= 0 || small.Size == large.Size {
		return ""
	}
	diff := large.Size - small.Size
	return fmt.Sprintf("The %s image is %s (%.0f%%) smaller than the %s image.",
		small.Variant, megabytes(diff), 100*float64(diff)/float64(large.Size), large.Variant)
}

// method is the sentence that says how the facts were measured.
func method(c Compare) string {
	if c.Method != "" {
		return c.Method
	}
	return "Image sizes are uncompressed, as the Docker engine reports them; " +
		"MB means 1,000,000 bytes; start time is the median over the runs shown."
}

// generated renders GeneratedAt, or "" when it is zero.
func generated(c Compare) string {
	if c.GeneratedAt.IsZero() {
		return ""
	}
	return "Measured " + c.GeneratedAt.UTC().Format(time.DateTime) + " UTC."
}

// Text writes the compare report for a terminal or a CI log: a heading,
// the variants compared feature by feature (size, security, debugging,
// dependencies) as the measured facts decide it, the measured facts per image, and the
// binaries, each as a plain aligned table. It returns the writer's error.
func Text(w io.Writer, c Compare) error {
	var b strings.Builder
	b.WriteString(heading(c) + "\n")
	for _, s := range []string{summary(c), generated(c)} {
		if s != "" {
			b.WriteString(s + "\n")
		}
	}
	for _, s := range sections(c) {
		b.WriteString("\n" + s.title + "\n\n")
		if err := Table(&b, s.headers, s.rows); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write compare report: %w", err)
	}
	return nil
}

// Markdown returns the compare report as Markdown: a heading, a line that
// says how it was measured, and the same tables as Text. It is the content
// of dist/compare.md.
func Markdown(c Compare) string {
	var b strings.Builder
	b.WriteString("# " + heading(c) + "\n\n")
	b.WriteString(strings.TrimSpace(method(c)+" "+generated(c)) + "\n")
	if s := summary(c); s != "" {
		b.WriteString("\n" + s + "\n")
	}
	for _, s := range sections(c) {
		b.WriteString("\n## " + s.title + "\n\n")
		b.WriteString(MarkdownTable(s.headers, s.rows))
	}
	return b.String()
}
