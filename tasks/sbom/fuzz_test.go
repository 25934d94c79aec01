package sbom

import (
	"os"
	"strings"
	"testing"
)

// FuzzParseAPKInstalled checks that any input either parses into packages
// that all have a name and a version and whose fields hold no line break,
// or fails; and that a parsed database, written back, parses the same.
func FuzzParseAPKInstalled(f *testing.F) {
	if data, err := os.ReadFile("testdata/apk-installed"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("P:a\nV:1\n\nP:b\nV:2\nA:x86_64\n"))
	f.Add([]byte("P:a\r\nV:1\r\n"))
	f.Add([]byte("\n\nX\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pkgs, err := ParseAPKInstalled(data)
		if err != nil {
			return
		}
		var b strings.Builder
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
			for _, v := range []string{p.Name, p.Version, p.Arch, p.License, p.Origin, p.URL, p.Checksum} {
				if strings.Contains(v, "\n") || strings.HasSuffix(v, "\r") {
					t.Fatalf("field holds a line break or ends in CR: %q", v)
				}
			}
			for _, kv := range [][2]string{{"P", p.Name}, {"V", p.Version}, {"A", p.Arch}, {"L", p.License}, {"o", p.Origin}, {"U", p.URL}, {"C", p.Checksum}} {
				if kv[1] != "" {
					b.WriteString(kv[0] + ":" + kv[1] + "\n")
				}
			}
			b.WriteString("\n")
		}
		again, err := ParseAPKInstalled([]byte(b.String()))
		if err != nil {
			t.Fatalf("re-parse %q: %v", b.String(), err)
		}
		if len(again) != len(pkgs) {
			t.Fatalf("re-parse gave %d packages, want %d", len(again), len(pkgs))
		}
		for i := range pkgs {
			if again[i] != pkgs[i] {
				t.Fatalf("re-parse of package %d: got %+v, want %+v", i, again[i], pkgs[i])
			}
		}
	})
}
