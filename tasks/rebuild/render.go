package rebuild

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// JSON renders the report for machines: indented, results sorted by
// artifact, no time stamps, so one rebuild gives the same bytes twice.
func (r Report) JSON() ([]byte, error) {
	r.Results = sortedCopy(r.Results)
	for i := range r.Results {
		if r.Results[i].Differences == nil {
			r.Results[i].Differences = []Difference{}
		}
	}
	if r.Results == nil {
		r.Results = []Result{}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Markdown renders the report for people: a table of verdicts, then
// every difference of each artifact that differs.
func (r Report) Markdown() []byte {
	r.Results = sortedCopy(r.Results)
	var b bytes.Buffer
	b.WriteString("# Rebuild\n\n")
	fmt.Fprintf(&b, "Commit `%s`", r.Commit)
	if r.Toolchain != "" {
		fmt.Fprintf(&b, ", toolchain %s", r.Toolchain)
	}
	if r.Verified {
		b.WriteString("; provenance verified against the key.\n\n")
	} else {
		b.WriteString("; provenance **unverified** (read without a key).\n\n")
	}
	b.WriteString("| artifact | verdict | first difference |\n| --- | --- | --- |\n")
	for _, res := range r.Results {
		verdict, why := "identical", ""
		if !res.Identical {
			verdict, why = "**differs**", res.Why()
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", cell(res.Artifact), verdict, cell(why))
	}
	for _, res := range r.Results {
		if res.Identical {
			continue
		}
		fmt.Fprintf(&b, "\n## %s\n\n", res.Artifact)
		fmt.Fprintf(&b, "- published: `%s`\n", res.Published)
		if res.Rebuilt != "" {
			fmt.Fprintf(&b, "- rebuilt: `%s`\n", res.Rebuilt)
		}
		for _, d := range res.Differences {
			fmt.Fprintf(&b, "- %s\n", cell(d.String()))
		}
	}
	return b.Bytes()
}

// cell escapes what would break a Markdown table row.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

func sortedCopy(rs []Result) []Result {
	c := Report{Results: append([]Result(nil), rs...)}
	c.Sort()
	return c.Results
}
