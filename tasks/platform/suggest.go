package platform

import (
	"slices"
	"strings"

	"github.com/magepack/magepack/tasks/internal/edit"
)

// maxSuggestions bounds how many alternatives an UnknownError offers.
const maxSuggestions = 3

// maxCompare bounds the input length that is compared by edit distance: no
// port name is that long, and fuzzed or pasted garbage must stay cheap.
const maxCompare = 64

// osAliases and archAliases map names people bring from uname, Docker
// and distribution packaging to Go's names, so "linux/x86_64" suggests
// linux/amd64 even though the edit distance is large.
var (
	osAliases = map[string]string{
		"macos": "darwin", "osx": "darwin", "mac": "darwin", "macosx": "darwin",
		"win": "windows", "win32": "windows", "win64": "windows",
	}
	archAliases = map[string]string{
		"x86_64": "amd64", "x86-64": "amd64", "x64": "amd64", "amd": "amd64",
		"aarch64": "arm64", "armv8": "arm64", "arm64v8": "arm64",
		"i386": "386", "i686": "386", "x86": "386", "x32": "386",
		"armv7": "arm", "armv7l": "arm", "armhf": "arm", "armv6": "arm", "armel": "arm", "arm32": "arm",
		"ppc64el": "ppc64le",
	}
)

// unknown builds the error for a well-formed name not in ports.
func unknown(name, goVersion string, ports []Port) *UnknownError {
	e := &UnknownError{Name: name, GoVersion: goVersion}
	e.Suggestions = suggest(name, ports)
	if len(e.Suggestions) > 0 {
		return e
	}
	os, _, _ := strings.Cut(strings.ToLower(name), "/")
	for _, p := range ports {
		if p.GOOS == os && !slices.Contains(e.Valid, p.String()) {
			e.Valid = append(e.Valid, p.String())
		}
	}
	if len(e.Valid) > 0 {
		e.ValidFor = os
	} else {
		for _, p := range ports {
			if p.FirstClass && !slices.Contains(e.Valid, p.String()) {
				e.Valid = append(e.Valid, p.String())
			}
		}
	}
	slices.Sort(e.Valid)
	return e
}

// suggest returns the supported platforms closest to name (those that tie
// for the smallest distance, at most maxSuggestions, first-class ports
// first), or nil when nothing is close. Closeness is the Levenshtein distance over the whole
// (lower-cased) "os/arch"; when the OS or the arch matches a candidate's
// exactly, the other half may differ more, since only it is in doubt.
// Common aliases (x86_64, aarch64, macos) rank first.
func suggest(name string, ports []Port) []string {
	lname := strings.ToLower(name)
	if len(lname) > maxCompare {
		return nil
	}
	os, arch, _ := strings.Cut(lname, "/")

	type cand struct {
		name  string
		score int
		first bool
	}
	var cands []cand
	seen := map[string]bool{}
	add := func(p Port, score int) {
		if seen[p.String()] {
			return
		}
		seen[p.String()] = true
		cands = append(cands, cand{p.String(), score, p.FirstClass})
	}

	aliased := aliasOf(os, osAliases) + "/" + aliasOf(arch, archAliases)
	for _, p := range ports {
		if p.String() == aliased {
			add(p, -1)
		}
	}
	for _, p := range ports {
		d := edit.Distance(lname, p.String())
		limit := 2
		switch {
		case os == p.GOOS:
			limit = max(limit, len(arch)/2)
			if d >= len(arch) {
				continue
			}
		case arch == p.GOARCH:
			limit = max(limit, len(os)/2)
			if d >= len(os) {
				continue
			}
		default:
			if 2*d >= len(lname) {
				continue
			}
		}
		if d <= limit {
			add(p, d)
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if a.score != b.score {
			return a.score - b.score
		}
		if a.first != b.first {
			if a.first {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, c := range cands {
		if c.score != cands[0].score || len(out) == maxSuggestions {
			break
		}
		out = append(out, c.name)
	}
	return out
}

func aliasOf(s string, aliases map[string]string) string {
	if a, ok := aliases[s]; ok {
		return a
	}
	return s
}
