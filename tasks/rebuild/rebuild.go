// Package rebuild compares what was published with what a rebuild of the
// same commit gives, level by level: a binary's SHA-256 (and, when they
// differ, the build settings and module versions its build information
// records), each layer of an image (the first file that differs), its
// config (the first field), each platform manifest and the index. It
// returns a Report that renders reproducibly as JSON and Markdown.
//
// It does not rebuild anything itself: the caller rebuilds and hands both
// sides over.
package rebuild

import (
	"fmt"
	"sort"
	"strings"
)

// Level is where a published artifact and its rebuild first differ.
type Level string

// The levels, from the bottom up: a difference in a lower level explains
// the levels above it, so the lowest one is reported.
const (
	// LevelBinary is a binary's bytes.
	LevelBinary Level = "binary"
	// LevelLayer is an image layer's digest.
	LevelLayer Level = "layer"
	// LevelConfig is an image's config.
	LevelConfig Level = "config"
	// LevelManifest is a platform image's manifest.
	LevelManifest Level = "manifest"
	// LevelIndex is a multi-platform index.
	LevelIndex Level = "index"
	// LevelMissing is an artifact or platform one side has and the other
	// has not.
	LevelMissing Level = "missing"
)

// Difference is one thing that differs, with both sides' values.
type Difference struct {
	// What names it: a build setting ("-ldflags", "vcs.modified"), "go"
	// for the Go version, "module <path>", a file in a layer
	// ("/usr/local/bin/app"), or a JSON path in a config or manifest
	// ("config.Labels[\"org.opencontainers.image.version\"]").
	What string `json:"what"`
	// How says what about a file differs: content, mode, owner, mtime or
	// missing ("" for others).
	How string `json:"how,omitempty"`
	// Published and Rebuilt are both sides' values ("" for absent).
	Published string `json:"published"`
	Rebuilt   string `json:"rebuilt"`
}

func (d Difference) String() string {
	what := d.What
	if d.How != "" {
		what += " " + d.How
	}
	switch {
	case d.Published == "" && d.Rebuilt == "":
		return what
	case d.Published == "":
		return fmt.Sprintf("%s: published has none, rebuilt %s", what, quote(d.Rebuilt))
	case d.Rebuilt == "":
		return fmt.Sprintf("%s: published %s, rebuilt has none", what, quote(d.Published))
	}
	return fmt.Sprintf("%s: published %s, rebuilt %s", what, quote(d.Published), quote(d.Rebuilt))
}

// quote shows a value in a line, shortened past 80 characters.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// Result is one artifact's verdict: identical, or the first level at
// which it differs and why.
type Result struct {
	// Artifact names it: a binary's path, an image reference.
	Artifact string `json:"artifact"`
	// Identical is true when published and rebuilt are the same bytes.
	Identical bool `json:"identical"`
	// Published and Rebuilt are both sides' digests (sha256:…).
	Published string `json:"published"`
	Rebuilt   string `json:"rebuilt,omitempty"`
	// Level is the first level that differs ("" when identical).
	Level Level `json:"level,omitempty"`
	// Platform is the platform image that differs, for an index.
	Platform string `json:"platform,omitempty"`
	// Part names what differs at Level: a layer's position and digest,
	// a binary inside a layer.
	Part string `json:"part,omitempty"`
	// Differences are what differs, the first one first.
	Differences []Difference `json:"differences,omitempty"`
}

// Why says what differs, in one line: the level, platform and part, and
// the first difference ("" when identical).
func (r Result) Why() string {
	if r.Identical {
		return ""
	}
	var b strings.Builder
	b.WriteString(string(r.Level))
	if r.Platform != "" {
		b.WriteString(" of " + r.Platform)
	}
	if r.Part != "" {
		b.WriteString(" " + r.Part)
	}
	if len(r.Differences) > 0 {
		b.WriteString(": " + r.Differences[0].String())
		if n := len(r.Differences) - 1; n > 0 {
			fmt.Fprintf(&b, " (and %d more)", n)
		}
	}
	return b.String()
}

// String is the progress line's verdict: "identical", or why not.
func (r Result) String() string {
	if r.Identical {
		return "identical (" + r.Published + ")"
	}
	return "differs at " + r.Why()
}

// Report is every artifact's result, and how the provenance that said
// how to rebuild them was read.
type Report struct {
	// Commit is the commit rebuilt.
	Commit string `json:"commit"`
	// Toolchain is the Go toolchain rebuilt with.
	Toolchain string `json:"toolchain,omitempty"`
	// Verified says whether the provenance was verified against a key;
	// false means it was read and trusted as it is.
	Verified bool `json:"verified"`
	// Results are sorted by artifact.
	Results []Result `json:"results"`
}

// Sort orders the results by artifact, so the report is the same however
// the rebuilds were scheduled.
func (r *Report) Sort() {
	sort.SliceStable(r.Results, func(i, j int) bool { return r.Results[i].Artifact < r.Results[j].Artifact })
}

// Err returns a *MismatchError for the first artifact that differs, nil
// when all are identical.
func (r Report) Err() error {
	var bad []Result
	for _, res := range r.Results {
		if !res.Identical {
			bad = append(bad, res)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &MismatchError{Result: bad[0], Others: len(bad) - 1}
}

// MismatchError is a rebuild that did not give what was published: the
// published artifact is not what its provenance says it was built from.
type MismatchError struct {
	// Result is the first artifact that differs.
	Result Result
	// Others counts the other artifacts that differ.
	Others int
}

func (e *MismatchError) Error() string {
	msg := fmt.Sprintf("rebuild of %s differs from what was published at %s", e.Result.Artifact, e.Result.Why())
	if e.Others > 0 {
		msg += fmt.Sprintf("; %d other artifact(s) differ too", e.Others)
	}
	return msg + ": the published artifact was not built from the recorded commit and settings alone (see the rebuild report)"
}
