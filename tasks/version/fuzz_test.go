package version

import (
	"testing"
)

// FuzzParse checks that Parse never panics, that what it accepts prints back
// as the same version, and that Tags makes only valid tags of it. Seeds
// live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add("v1.2.3")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			if v != nil || err.Error() == "" {
				t.Fatalf("Parse(%q) = %v, %v", s, v, err)
			}
			return
		}
		again, err := Parse(v.String())
		if err != nil {
			t.Fatalf("Parse(%q) gave %q, which does not parse: %v", s, v, err)
		}
		if !again.Equal(v) || again.String() != v.String() {
			t.Fatalf("Parse(%q) gave %q, reparsed as %q", s, v, again)
		}
		for _, variant := range []string{"scratch", "", s} {
			tags := Tags(v, variant)
			if len(tags) == 0 {
				t.Fatalf("Tags(%q, %q) is empty", v, variant)
			}
			for _, tag := range tags {
				if err := ValidTag(tag); err != nil {
					t.Fatalf("Tags(%q, %q): %v", v, variant, err)
				}
			}
		}
	})
}
