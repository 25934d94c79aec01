package cgo

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// staticGlibcWarning is the GNU linker's warning for a glibc function
// that loads glibc's own shared libraries at run time, even from a static
// binary: "warning: Using 'getaddrinfo' in statically linked applications
// requires at runtime the shared libraries from the glibc version used
// for linking".
var staticGlibcWarning = regexp.MustCompile(`warning: Using '([A-Za-z0-9_]+)' in statically linked applications requires at runtime the shared libraries`)

// StaticGlibcCalls returns the glibc functions a static link's output
// (go build's, which shows the external linker's warnings) warns about,
// each once, in the order they first appear; nil when there are none.
func StaticGlibcCalls(output string) []string {
	var calls []string
	for _, m := range staticGlibcWarning.FindAllStringSubmatch(output, -1) {
		if !slices.Contains(calls, m[1]) {
			calls = append(calls, m[1])
		}
	}
	return calls
}

// callUses says, in words, what each family of such glibc functions does.
var callUses = []struct {
	prefixes []string
	use      string
}{
	{[]string{"getaddrinfo", "gethostby", "getnameinfo", "gethostent"}, "host name lookups"},
	{[]string{"getpw", "getgr", "getgrouplist", "initgroups", "getspnam"}, "user and group lookups"},
	{[]string{"getservby", "getprotoby", "getnetby"}, "service and protocol lookups"},
	{[]string{"dlopen"}, "loading plug-ins and extensions"},
	{[]string{"iconv_open"}, "character set conversion"},
}

// ExplainStaticGlibc says in plain words what calls (from
// StaticGlibcCalls) mean for a static glibc binary: what they do, that
// they load glibc's shared libraries (NSS modules, the dynamic loader) at
// run time, and that on scratch, which has none, they fail.
func ExplainStaticGlibc(calls []string) string {
	var uses []string
	for _, c := range calls {
		use := "calls into glibc's shared libraries"
		for _, u := range callUses {
			if slices.ContainsFunc(u.prefixes, func(p string) bool { return strings.HasPrefix(c, p) }) {
				use = u.use
				break
			}
		}
		if !slices.Contains(uses, use) {
			uses = append(uses, use)
		}
	}
	verb := "need"
	if len(calls) == 1 {
		verb = "needs"
	}
	return fmt.Sprintf("glibc is linked in statically, but the binary calls %s (%s), which %s glibc's shared libraries at run time; on scratch there are none, so those calls fail there",
		strings.Join(calls, ", "), strings.Join(uses, "; "), verb)
}

// Section returns the part of go build's output about the package
// importPath: from its "# <importPath>" header line to the next header.
// A go build of several main packages prints each one's link warnings
// under its own header. It returns "" when the output has no such header.
func Section(output, importPath string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.SplitAfter(output, "\n") {
		if strings.HasPrefix(line, "# ") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "# ")) == importPath
			continue
		}
		if in {
			b.WriteString(line)
		}
	}
	return b.String()
}
