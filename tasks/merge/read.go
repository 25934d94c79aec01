package merge

import (
	"debug/buildinfo"
	"slices"
	"strings"

	"github.com/magepack/magepack/tasks/dist"
)

// Part is one part folder as Read found it.
type Part struct {
	// Verified is what dist.Verify found: the manifest, its build record
	// and the binaries that check out.
	dist.Verified
	// Err joins what is wrong with the part on its own (see dist.Verify);
	// nil when every recorded binary checks out.
	Err error
	// Modified is what its binaries' build info says of the checkout they
	// were built in (vcs.modified): "true", "false", "" when none says
	// (not built in a git checkout, or not Go binaries), or both values
	// comma-separated when its binaries disagree.
	Modified string
}

// Read verifies each part folder on its own with dist.Verify: its
// SHA256SUMS against its files, and each job its build record lists as
// built against its binary. It reads every part, whatever it finds, and
// returns them in the order given; what is wrong is in each Part's Err.
func Read(dirs []string) []Part {
	parts := make([]Part, len(dirs))
	for i, d := range dirs {
		v, err := dist.Verify(d)
		parts[i] = Part{Verified: v, Err: err, Modified: modified(v.Binaries)}
	}
	return parts
}

// modified reads vcs.modified from each binary's build info.
func modified(bins []dist.VerifiedBinary) string {
	var values []string
	for _, b := range bins {
		info, err := buildinfo.ReadFile(b.File)
		if err != nil {
			continue
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.modified" {
				values = append(values, s.Value)
			}
		}
	}
	slices.Sort(values)
	return strings.Join(slices.Compact(values), ",")
}
