package gobuild

import (
	"slices"
	"strings"
)

// staticLdflags link a cgo binary statically: Go hands the link to the C
// compiler (external linking), which gets -static.
var staticLdflags = []string{"-linkmode", "external", "-extldflags", "-static"}

// staticTags keep name resolution (net) and user lookup (os/user) in Go
// in a static cgo build: their cgo versions call glibc's getaddrinfo and
// getpwnam, which load shared NSS modules at run time even from a static
// binary, and fail on scratch.
var staticTags = []string{"netgo", "osusergo"}

// ccFor is the C compiler of t's builds: its own in CCs, else CC.
func (cfg Config) ccFor(t Target) string {
	if cc := cfg.CCs[t]; cc != "" {
		return cc
	}
	return cfg.CC
}

// BuildTags is the -tags value of a build: the static cgo tags, cfg.Tags
// and the tags of goflags (the user's GOFLAGS; a -tags on the command line
// replaces the one in GOFLAGS, so theirs are carried over), each once, in
// that order. It is "" when magepack adds no tags of its own: GOFLAGS'
// tags then apply as they are.
func BuildTags(cfg Config, goflags string) string {
	if !cfg.StaticCGO && len(cfg.Tags) == 0 {
		return ""
	}
	var tags []string
	if cfg.StaticCGO {
		tags = append(tags, staticTags...)
	}
	tags = append(tags, cfg.Tags...)
	if v, ok := FlagValue(goflags, "tags"); ok {
		tags = append(tags, strings.Split(v, ",")...)
	}
	var out []string
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return strings.Join(out, ",")
}

// FlagValue returns the value goflags (a GOFLAGS value) gives the flag
// name (-name=value, spelt with one dash or two; the last one counts) and
// whether it sets it at all. GOFLAGS has no "-name value" form.
func FlagValue(goflags, name string) (string, bool) {
	v, found := "", false
	for _, w := range strings.Fields(goflags) {
		w = strings.Trim(w, `'"`)
		if !strings.HasPrefix(w, "-") {
			continue
		}
		w = strings.TrimPrefix(strings.TrimPrefix(w, "-"), "-")
		if k, val, _ := strings.Cut(w, "="); k == name {
			v, found = val, true
		}
	}
	return v, found
}
