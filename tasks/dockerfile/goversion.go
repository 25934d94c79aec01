package dockerfile

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-containerregistry/pkg/name"
)

// ErrUnknownBuilderVersion reports that the Go version of a builder image
// cannot be told from its config or its tag.
var ErrUnknownBuilderVersion = errors.New("cannot tell the Go version")

// BuilderTooOldError reports a builder image whose Go release is older than
// the go directive of go.mod asks for.
type BuilderTooOldError struct {
	Image    string          // the builder image reference, e.g. golang:1.18-alpine
	Builder  *semver.Version // the Go version the image has
	Required *semver.Version // the Go version go.mod asks for
	// Dockerfile and Line name the FROM line that names Image, when the
	// Dockerfile names it itself rather than taking a build argument.
	Dockerfile string
	Line       int
}

// Error names the image, both versions and the image to use instead.
func (e *BuilderTooOldError) Error() string {
	where := ""
	if e.Line > 0 {
		where = fmt.Sprintf(" (%s line %d)", e.Dockerfile, e.Line)
	}
	return fmt.Sprintf("builder image %s%s has Go %s, but go.mod asks for go %s: use %s or newer",
		e.Image, where, e.Builder.Original(), e.Required.Original(), DefaultBuilder(e.Required))
}

// goVersionRe matches Go release names as go.mod, GOLANG_VERSION and image
// tags spell them: 1.25, 1.25.3, go1.25.3, 1.26rc1, 1.21beta2.
var goVersionRe = regexp.MustCompile(`^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$`)

// ParseGoVersion parses a Go release name (1.25, 1.25.3, go1.25.3, 1.26rc1)
// into a semantic version: 1.25 becomes 1.25.0 and 1.26rc1 becomes
// 1.26.0-rc.1, so a release candidate sorts before its release. Original()
// keeps the spelling given. It returns an error naming s when s is not a Go
// release name.
func ParseGoVersion(s string) (*semver.Version, error) {
	m := goVersionRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return nil, fmt.Errorf("%q is not a Go version (expected e.g. 1.25 or 1.25.3)", s)
	}
	norm := m[1] + "." + m[2] + "."
	if m[3] != "" {
		norm += m[3]
	} else {
		norm += "0"
	}
	if m[4] != "" {
		norm += "-" + m[4] + "." + m[5]
	}
	if m[4] == "" {
		// Parse the release's own spelling so Original() keeps it for
		// messages ("go 1.25.0", "Go 1.18"); it means the same as norm.
		norm = strings.TrimPrefix(strings.TrimSpace(s), "go")
	}
	v, err := semver.NewVersion(norm)
	if err != nil {
		return nil, fmt.Errorf("%q is not a Go version: %w", s, err)
	}
	return v, nil
}

// GoModVersion reads the go directive of the go.mod file at modFile (e.g.
// `go 1.25.0` or `go 1.25`) and returns it as a version; 1.25 means 1.25.0.
// It returns an error naming the file when it cannot be read, has no go
// directive, or the directive is malformed.
func GoModVersion(modFile string) (*semver.Version, error) {
	f, err := os.Open(modFile)
	if err != nil {
		return nil, fmt.Errorf("read go directive: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.Index(text, "//"); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 || fields[0] != "go" {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: malformed go directive %q; write it as `go 1.25.0`", modFile, line, strings.TrimSpace(sc.Text()))
		}
		v, err := ParseGoVersion(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: go directive: %w", modFile, line, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", modFile, err)
	}
	return nil, fmt.Errorf("%s has no go directive; add one, e.g. `go 1.25.0`", modFile)
}

// BuilderVersionFromTag tells the Go version of a golang builder image from
// its tag: golang:1.25-alpine gives 1.25, golang:1.25.3 gives 1.25.3,
// registry.example/library/golang:1.26rc1-bookworm gives 1.26rc1. The
// repository's last path element must contain "golang" (or be "go"), since a
// version-like tag on another repository says nothing about Go. It returns an
// error wrapping ErrUnknownBuilderVersion when the reference has no such tag
// (golang:alpine, golang:latest, a digest, another repository).
func BuilderVersionFromTag(ref string) (*semver.Version, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("builder image %q: %w", ref, err)
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return nil, fmt.Errorf("builder image %s is pinned by digest, so its tag names no Go version: %w", ref, ErrUnknownBuilderVersion)
	}
	repo := tag.RepositoryStr()
	last := repo[strings.LastIndex(repo, "/")+1:]
	if !strings.Contains(last, "golang") && last != "go" {
		return nil, fmt.Errorf("builder image %s is not a golang image, so its tag names no Go version: %w", ref, ErrUnknownBuilderVersion)
	}
	t := tag.TagStr()
	if i := strings.IndexByte(t, '-'); i >= 0 {
		t = t[:i]
	}
	v, err := ParseGoVersion(t)
	if err != nil {
		return nil, fmt.Errorf("builder image %s: tag %q names no Go version: %w", ref, tag.TagStr(), ErrUnknownBuilderVersion)
	}
	return v, nil
}

// CheckBuilder checks that a builder with Go builder satisfies the go.mod
// requirement required (1.25 meaning 1.25.0). It returns a
// *BuilderTooOldError naming image and the image to use instead when the
// builder is older.
func CheckBuilder(builder, required *semver.Version, image string) error {
	if builder == nil || required == nil {
		return fmt.Errorf("check builder image %s: missing Go version (builder %v, required %v)", image, builder, required)
	}
	var ok bool
	if builder.Prerelease() != "" {
		// A constraint never admits prereleases it does not name; compare
		// directly so go1.26rc1 satisfies go 1.25.0 and go1.25rc1 does not.
		ok = builder.Compare(required) >= 0
	} else {
		req := fmt.Sprintf("%d.%d.%d", required.Major(), required.Minor(), required.Patch())
		c, err := semver.NewConstraint(">= " + req)
		if err != nil {
			return fmt.Errorf("check builder image %s: constraint >= %s: %w", image, req, err)
		}
		ok = c.Check(builder)
	}
	if !ok {
		return &BuilderTooOldError{Image: image, Builder: builder, Required: required}
	}
	return nil
}

// DefaultBuilder returns the official Alpine-based golang image for the
// required Go version's major.minor release, e.g. golang:1.25-alpine.
func DefaultBuilder(required *semver.Version) string {
	return fmt.Sprintf("golang:%d.%d-alpine", required.Major(), required.Minor())
}
