package plan

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// buildTag is one build tag: letters, digits, underscores and dots.
var buildTag = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)

// parseTags splits MAGEPACK_TAGS, a comma-separated list of build tags.
func parseTags(s string) ([]string, error) {
	var tags []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if !buildTag.MatchString(t) {
			return nil, fmt.Errorf("build tag %q is not valid: tags are letters, digits, _ and ., comma-separated (MAGEPACK_TAGS)", t)
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// goRelease is the form of a Go toolchain name GOTOOLCHAIN takes.
var goRelease = regexp.MustCompile(`^go1\.\d+(\.\d+)?((rc|beta)\d+)?$`)

// parseToolchain checks MAGEPACK_TOOLCHAIN: "" or a Go release such as
// go1.26.10.
func parseToolchain(s string) (string, error) {
	if s != "" && !goRelease.MatchString(s) {
		return "", fmt.Errorf("toolchain %q is not a Go release: want e.g. go1.26.10 (MAGEPACK_TOOLCHAIN)", s)
	}
	return s, nil
}

// vulnID is the form of a Go vulnerability ID.
var vulnID = regexp.MustCompile(`^GO-\d{4}-\d{4,}$`)

// parseWaivers reads MAGEPACK_VULN_WAIVERS: "ID=reason;ID=reason".
func parseWaivers(s string) (map[string]string, error) {
	w := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		id, reason, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("waiver %q has no reason: want ID=reason, e.g. GO-2022-1059=only parses our own headers", part)
		}
		w[strings.TrimSpace(id)] = strings.TrimSpace(reason)
	}
	return w, nil
}

// checkWaivers rejects a waiver without a Go vulnerability ID or a reason.
func checkWaivers(w map[string]string) (map[string]string, error) {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(w)) {
		switch {
		case !vulnID.MatchString(id):
			errs = append(errs, fmt.Errorf("waiver %q does not name a Go vulnerability ID such as GO-2022-1059 (MAGEPACK_VULN_WAIVERS)", id))
		case strings.TrimSpace(w[id]) == "":
			errs = append(errs, fmt.Errorf("waiver of %s gives no reason: say why it is accepted (MAGEPACK_VULN_WAIVERS)", id))
		}
	}
	return w, errors.Join(errs...)
}
