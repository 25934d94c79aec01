package sbom

import (
	"sort"
	"strings"
)

// qualifier is one key=value pair of a package URL.
type qualifier struct{ key, value string }

// packageURL formats a package URL (https://github.com/package-url/purl-spec)
// in its canonical form: every namespace segment, the name, the version
// and each qualifier value percent-encoded (everything but ASCII letters,
// digits, ".-_~" and ':'), qualifiers sorted by key and those with an
// empty value left out. namespace may hold several segments separated by
// '/'; empty segments are dropped.
func packageURL(typ, namespace, name, version string, qs ...qualifier) string {
	var b strings.Builder
	b.WriteString("pkg:")
	b.WriteString(typ)
	b.WriteByte('/')
	for _, seg := range strings.Split(namespace, "/") {
		if seg == "" {
			continue
		}
		b.WriteString(escape(seg))
		b.WriteByte('/')
	}
	b.WriteString(escape(name))
	if version != "" {
		b.WriteByte('@')
		b.WriteString(escape(version))
	}
	qs = append([]qualifier(nil), qs...)
	sort.Slice(qs, func(i, j int) bool { return qs[i].key < qs[j].key })
	sep := byte('?')
	for _, q := range qs {
		if q.value == "" {
			continue
		}
		b.WriteByte(sep)
		b.WriteString(q.key)
		b.WriteByte('=')
		b.WriteString(escape(q.value))
		sep = '&'
	}
	return b.String()
}

// escape percent-encodes s the way the purl spec's "Character encoding"
// section asks: ASCII letters and digits, the punctuation ".-_~" and the
// colon stay; every other byte of its UTF-8 form becomes %XX (upper-case
// hex).
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '-', c == '_', c == '~', c == ':':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

// GoPURL returns the package URL of the Go module path at version, e.g.
// "pkg:golang/github.com/google/go-containerregistry@v0.22.1": the path up
// to its last '/' is the namespace, the last element the name, and
// "+incompatible" becomes "%2Bincompatible". version "" or "(devel)" (a
// module built from a directory, not a released version) gives a URL
// without version.
//
// The module path keeps its case, as syft and cyclonedx-gomod write it: Go
// module paths are case-sensitive (github.com/BurntSushi/toml), and the
// purl spec's note that golang names "must be lowercased" predates Go
// modules (the golang type definition says so itself).
func GoPURL(path, version string) string {
	if version == develVersion {
		version = ""
	}
	ns, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	return packageURL("golang", ns, name, version)
}

// develVersion is what Go records as the version of a module built from
// a directory (the main module without VCS information, or a replacement
// by a local path).
const develVersion = "(devel)"
