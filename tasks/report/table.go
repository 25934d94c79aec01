// Package report renders magepack's results for people and for machines:
// aligned plain-text tables for terminals and CI logs, Markdown tables, and
// the compare target's report as text, Markdown, JSON and SVG.
//
// It does no I/O beyond the io.Writer it is given and knows nothing of the
// packages that measure: callers pass plain strings and the Compare model.
package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Table writes headers and rows as a plain-text table with aligned columns,
// a dashed rule under the headers, no colours and no trailing spaces, so it
// reads the same in a terminal and in a CI log. Rows shorter than headers
// are padded with empty cells; longer rows get extra columns. Tabs and line
// breaks inside cells become spaces. It returns the writer's error, if any.
func Table(w io.Writer, headers []string, rows [][]string) error {
	cols := len(headers)
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return nil
	}
	all := make([][]string, 0, len(rows)+2)
	if len(headers) > 0 {
		head := normalize(headers, cols, flatten)
		rule := make([]string, cols)
		for i := range cols {
			width := 0
			for _, r := range append([][]string{head}, rows...) {
				if i < len(r) {
					width = max(width, utf8.RuneCountInString(flatten(r[i])))
				}
			}
			rule[i] = strings.Repeat("-", width)
		}
		all = append(all, head, rule)
	}
	for _, r := range rows {
		all = append(all, normalize(r, cols, flatten))
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range all {
		// Empty trailing cells would only add trailing spaces.
		n := len(r)
		for n > 1 && r[n-1] == "" {
			n--
		}
		if _, err := io.WriteString(tw, strings.Join(r[:n], "\t")+"\n"); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// MarkdownTable returns headers and rows as a GitHub-flavoured Markdown
// table, one line per row, ending in a newline. Pipes in cells are escaped
// and line breaks become spaces, so any text is safe. Rows are padded or
// widened to the same number of columns as in Table; with no headers the
// first row cannot be told apart from data, so empty headers are used.
func MarkdownTable(headers []string, rows [][]string) string {
	cols := len(headers)
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return ""
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" ")
			b.WriteString(c)
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	line(normalize(headers, cols, escapeMarkdown))
	rule := make([]string, cols)
	for i := range rule {
		rule[i] = "---"
	}
	line(rule)
	for _, r := range rows {
		line(normalize(r, cols, escapeMarkdown))
	}
	return b.String()
}

// normalize returns cells cleaned by clean and padded to n columns.
func normalize(cells []string, n int, clean func(string) string) []string {
	out := make([]string, n)
	for i := range out {
		if i < len(cells) {
			out[i] = clean(cells[i])
		}
	}
	return out
}

// flatten keeps a cell on one line and out of tabwriter's way.
func flatten(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(s)
}

// escapeMarkdown keeps a cell inside its Markdown table cell.
func escapeMarkdown(s string) string {
	return strings.ReplaceAll(flatten(s), `|`, `\|`)
}
