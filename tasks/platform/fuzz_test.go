package platform

import (
	"testing"
)

// FuzzParse checks that Parse never panics and either fails or returns
// distinct platforms that are all real ports. Seeds live in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	ports := loadPorts(f)
	known := map[Platform]bool{}
	for _, p := range ports {
		known[p.Platform()] = true
	}
	f.Add("linux/amd64,darwin/arm64")
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := Parse(spec, ports, testGoVersion)
		if err != nil {
			if got != nil {
				t.Fatalf("Parse(%q) returned %v with error %v", spec, got, err)
			}
			if err.Error() == "" {
				t.Fatalf("Parse(%q) returned an empty error message", spec)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("Parse(%q) returned no platforms and no error", spec)
		}
		seen := map[Platform]bool{}
		for _, p := range got {
			if !known[p] {
				t.Fatalf("Parse(%q) returned %v, not a port", spec, p)
			}
			if seen[p] {
				t.Fatalf("Parse(%q) returned %v twice", spec, p)
			}
			seen[p] = true
		}
	})
}
