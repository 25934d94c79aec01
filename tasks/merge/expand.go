package merge

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// NoMatchError is an entry of the parts list that names no folder: a glob
// that matches none, or a folder that does not exist.
type NoMatchError struct {
	// Pattern is the entry as given; Dir the folder it was read in.
	Pattern, Dir string
	// Reason says what was found instead.
	Reason string
}

// Error names the entry, where it was looked for and what was found.
func (e *NoMatchError) Error() string {
	return fmt.Sprintf("parts %q (in %s) %s: name the folders the shards' dist folders were downloaded to, as a comma-separated list of folders or globs", e.Pattern, e.Dir, e.Reason)
}

// Expand returns the part folders list names: a comma-separated list of
// folders and globs (filepath.Match syntax), each relative to dir unless
// absolute; spaces around entries and empty entries are ignored. Globs keep
// only the folders they match. The result is cleaned, deduplicated and
// sorted, so every machine merges in the same order.
//
// It returns a *NoMatchError for an entry that names no folder (a glob
// matching none, a missing path, a file), an error naming a malformed
// glob, and a *NoMatchError for a list with no entries at all.
func Expand(list, dir string) ([]string, error) {
	var out []string
	var errs []error
	entries := 0
	for _, e := range strings.Split(list, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		entries++
		p := e
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if !hasMeta(e) {
			fi, err := os.Stat(p)
			switch {
			case err != nil:
				errs = append(errs, &NoMatchError{Pattern: e, Dir: dir, Reason: "does not exist"})
			case !fi.IsDir():
				errs = append(errs, &NoMatchError{Pattern: e, Dir: dir, Reason: "is a file, not a folder"})
			default:
				out = append(out, filepath.Clean(p))
			}
			continue
		}
		matches, err := filepath.Glob(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("parts %q: %w: fix the glob (filepath.Match syntax, e.g. dist-*)", e, err))
			continue
		}
		n := 0
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				out = append(out, filepath.Clean(m))
				n++
			}
		}
		if n == 0 {
			reason := "matches no folder"
			if len(matches) > 0 {
				reason = fmt.Sprintf("matches only files (%s)", strings.Join(matches, ", "))
			}
			errs = append(errs, &NoMatchError{Pattern: e, Dir: dir, Reason: reason})
		}
	}
	if entries == 0 {
		errs = append(errs, &NoMatchError{Pattern: list, Dir: dir, Reason: "names nothing"})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// hasMeta reports whether a parts entry is a glob.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[`) }
