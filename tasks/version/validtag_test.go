package version

import (
	"regexp"
	"strings"
	"testing"
)

// tagGrammar is the OCI distribution spec's tag grammar, the reference the
// hand-written validTag must agree with.
var tagGrammar = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func FuzzValidTagMatchesGrammar(f *testing.F) {
	for _, s := range []string{"", "scratch", "_x", ".x", "-x", "a/b", "1.2.3+dirty", "é", "A-Z.0_9", strings.Repeat("a", 128), strings.Repeat("a", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		if got, want := validTag(tag), tagGrammar.MatchString(tag); got != want {
			t.Fatalf("validTag(%q) = %v, the grammar says %v", tag, got, want)
		}
	})
}
