package sbom

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// Property names. Where the CycloneDX property taxonomy has a name
// (cdx:gomod:build:env:*, registered by cyclonedx-gomod) it is used;
// everything else is under magepack's own namespace.
const (
	PropGOOS       = "cdx:gomod:build:env:GOOS"
	PropGOARCH     = "cdx:gomod:build:env:GOARCH"
	PropCGOEnabled = "cdx:gomod:build:env:CGO_ENABLED"
	PropGoVersion  = "cdx:gomod:build:env:GOVERSION"
	// PropBuildPrefix prefixes every other build setting Go records, by
	// its own key: "magepack:go:build:-ldflags", "…:-trimpath",
	// "…:vcs.revision", "…:vcs.modified", "…:GOAMD64", ….
	PropBuildPrefix = "magepack:go:build:"
	// PropPackage is the main package's import path.
	PropPackage = "magepack:go:package"
	// PropRevision is the commit the caller says the binary was built
	// from (Options.Revision), beside Go's own vcs.revision.
	PropRevision = "magepack:revision"
	// PropModuleSum is a module's go.sum hash ("h1:…") exactly as Go
	// recorded it; the component's SHA-256 hash is the same value in hex,
	// as cyclonedx-gomod writes it.
	PropModuleSum = "magepack:go:module:sum"
	// PropReplaces names the module@version a replaced module stands in
	// for (go.mod's replace directive).
	PropReplaces = "magepack:go:module:replaces"
	// PropReplacedBy is the directory a module was replaced by, when the
	// replacement is a local directory rather than a module version.
	PropReplacedBy = "magepack:go:module:replaced-by"
)

// StdlibName is the component name of the Go standard library and
// runtime, as syft, Grype and OSV name it ("stdlib"), so that scanners
// match Go's own vulnerabilities against the toolchain that built the
// binary.
const StdlibName = "stdlib"

// Binary reads the Go binary at path (any GOOS/GOARCH) and returns its
// SBOM: the application as metadata.component (its SHA-256, the main
// module's package URL and the build settings as properties), every module
// compiled in as a library component, the standard library as one more,
// and the application's dependency on each. It fails, naming path, when
// the file cannot be read or is not a Go binary with build information
// (e.g. one built with -buildvcs but stripped of it, or not by Go at all).
func Binary(path string, o Options) (*cdx.BOM, error) {
	return BinaryWithSum(path, "", o)
}

// BinaryWithSum is Binary for a binary whose SHA-256 (hex) the caller has
// already computed, e.g. while building it: only the build information is
// read. An empty sum reads and hashes the whole file, as Binary does.
func BinaryWithSum(path, sum string, o Options) (*cdx.BOM, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: %w", path, err)
	}
	defer f.Close()
	info, err := buildinfo.Read(f)
	if err != nil {
		return nil, fmt.Errorf("SBOM of %s: read Go build information: %w: is it a Go binary built with module support?", path, err)
	}
	if sum == "" {
		h := sha256.New()
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("SBOM of %s: %w", path, err)
		}
		if _, err := io.Copy(h, f); err != nil {
			return nil, fmt.Errorf("SBOM of %s: %w", path, err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
	}
	return FromBuildInfo(info, sum, o)
}

// FromBuildInfo is Binary for build information already read: info as
// debug/buildinfo returns it, sum the binary's SHA-256 in hex ("" leaves
// the hash out). It fails on a nil info or a module hash that is not a
// go.sum "h1:" hash.
func FromBuildInfo(info *debug.BuildInfo, sum string, o Options) (*cdx.BOM, error) {
	if info == nil {
		return nil, errors.New("SBOM: no build information")
	}
	app := application(info, sum, o)
	bom := newBOM(o.Time)
	bom.Metadata.Component = &app

	comps, err := moduleComponents(info)
	if err != nil {
		return nil, err
	}
	if std, ok := stdlibComponent(info.GoVersion); ok {
		comps = append(comps, std)
	}
	sortComponents(comps)
	bom.Components = &comps
	bom.Dependencies = &[]cdx.Dependency{dependency(app.BOMRef, comps)}
	return bom, nil
}

// application is the component of the binary itself.
func application(info *debug.BuildInfo, sum string, o Options) cdx.Component {
	name := o.Name
	if name == "" {
		name = path.Base(info.Path)
	}
	version := o.Version
	if version == "" {
		version = info.Main.Version
	}
	c := cdx.Component{
		Type:    cdx.ComponentTypeApplication,
		Name:    name,
		Version: version,
	}
	if info.Main.Path != "" {
		c.PackageURL = GoPURL(info.Main.Path, info.Main.Version)
		c.BOMRef = c.PackageURL
	} else {
		c.BOMRef = "app:" + name
	}
	if sum != "" {
		c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: sum}}
	}
	props := buildProperties(info)
	if info.Path != "" {
		props = append(props, cdx.Property{Name: PropPackage, Value: info.Path})
	}
	if o.Ldflags != "" && !hasSetting(info, "-ldflags") {
		props = append(props, cdx.Property{Name: PropBuildPrefix + "-ldflags", Value: o.Ldflags})
	}
	if o.Revision != "" {
		props = append(props, cdx.Property{Name: PropRevision, Value: o.Revision})
	}
	sortProperties(props)
	c.Properties = &props
	return c
}

func hasSetting(info *debug.BuildInfo, key string) bool {
	for _, s := range info.Settings {
		if s.Key == key {
			return true
		}
	}
	return false
}

// buildProperties turns the Go version and every build setting into
// properties.
func buildProperties(info *debug.BuildInfo) []cdx.Property {
	var props []cdx.Property
	if info.GoVersion != "" {
		props = append(props, cdx.Property{Name: PropGoVersion, Value: info.GoVersion})
	}
	for _, s := range info.Settings {
		name := PropBuildPrefix + s.Key
		switch s.Key {
		case "GOOS":
			name = PropGOOS
		case "GOARCH":
			name = PropGOARCH
		case "CGO_ENABLED":
			name = PropCGOEnabled
		}
		props = append(props, cdx.Property{Name: name, Value: s.Value})
	}
	return props
}

// moduleComponents returns one library component per module in info.Deps,
// each under the module that was actually compiled in: a replacement by
// another module version takes that module's path, version and hash (and
// names the original in PropReplaces); a replacement by a local directory
// keeps the original path, with version "(devel)" and the directory in
// PropReplacedBy.
func moduleComponents(info *debug.BuildInfo) ([]cdx.Component, error) {
	var comps []cdx.Component
	seen := map[string]bool{}
	for _, dep := range info.Deps {
		if dep == nil {
			continue
		}
		m := dep
		var props []cdx.Property
		if r := dep.Replace; r != nil {
			if isLocalPath(r.Path) {
				m = &debug.Module{Path: dep.Path, Version: develVersion}
				props = append(props, cdx.Property{Name: PropReplacedBy, Value: r.Path})
			} else {
				m = r
				props = append(props, cdx.Property{Name: PropReplaces, Value: moduleString(dep.Path, dep.Version)})
			}
		}
		c := cdx.Component{
			Type:       cdx.ComponentTypeLibrary,
			Name:       m.Path,
			Version:    m.Version,
			PackageURL: GoPURL(m.Path, m.Version),
		}
		c.BOMRef = c.PackageURL
		if seen[c.BOMRef] {
			continue // two modules replaced by the same one
		}
		seen[c.BOMRef] = true
		if m.Sum != "" {
			h, err := h1Hex(m.Sum)
			if err != nil {
				return nil, fmt.Errorf("SBOM: module %s: %w", moduleString(m.Path, m.Version), err)
			}
			c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: h}}
			props = append(props, cdx.Property{Name: PropModuleSum, Value: m.Sum})
		}
		if len(props) > 0 {
			sortProperties(props)
			c.Properties = &props
		}
		comps = append(comps, c)
	}
	return comps, nil
}

func moduleString(path, version string) string {
	if version == "" {
		return path
	}
	return path + "@" + version
}

// isLocalPath reports whether a replacement path is a directory (go.mod's
// rule: it starts with ./ or ../, or is absolute) rather than a module path.
func isLocalPath(p string) bool {
	return strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") || p == "." || p == ".." ||
		strings.HasPrefix(p, "/") || strings.HasPrefix(p, `.\`) || strings.HasPrefix(p, `..\`) ||
		(len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/')) // C:\ on Windows
}

// h1Hex turns a go.sum hash "h1:<base64 of SHA-256>" into hex.
func h1Hex(sum string) (string, error) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", fmt.Errorf("hash %q is not a go.sum h1: hash", sum)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return "", fmt.Errorf("hash %q is not a go.sum h1: hash (base64 of 32 bytes)", sum)
	}
	return hex.EncodeToString(raw), nil
}

// stdlibComponent is the Go standard library and runtime the toolchain
// goVersion ("go1.26.8", possibly followed by " X:experiment") linked in.
func stdlibComponent(goVersion string) (cdx.Component, bool) {
	v, _, _ := strings.Cut(goVersion, " ")
	v = strings.TrimPrefix(v, "go")
	if v == "" {
		return cdx.Component{}, false
	}
	purl := packageURL("golang", "", StdlibName, v)
	return cdx.Component{
		BOMRef:      purl,
		Type:        cdx.ComponentTypeLibrary,
		Name:        StdlibName,
		Version:     v,
		Description: "The Go standard library and runtime of " + goVersion,
		PackageURL:  purl,
	}, true
}

// dependency says that ref depends on every component in comps.
func dependency(ref string, comps []cdx.Component) cdx.Dependency {
	on := make([]string, 0, len(comps))
	for _, c := range comps {
		on = append(on, c.BOMRef)
	}
	sort.Strings(on)
	return cdx.Dependency{Ref: ref, Dependencies: &on}
}

func sortComponents(cs []cdx.Component) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].BOMRef < cs[j].BOMRef })
}

func sortProperties(ps []cdx.Property) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Name != ps[j].Name {
			return ps[i].Name < ps[j].Name
		}
		return ps[i].Value < ps[j].Value
	})
}

var (
	toolVersionOnce sync.Once
	toolVersionVal  string
)

// toolVersion is the version of magepack this program was built with, ""
// when unknown (a development build).
func toolVersion() string {
	toolVersionOnce.Do(func() {
		info, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		const self = "github.com/magepack/magepack"
		mods := append([]*debug.Module{&info.Main}, info.Deps...)
		for _, m := range mods {
			if m == nil || m.Path != self {
				continue
			}
			if m.Replace != nil {
				m = m.Replace
			}
			if m.Version != develVersion {
				toolVersionVal = m.Version
			}
			return
		}
	})
	return toolVersionVal
}

// sortSlice sorts s stably by key.
func sortSlice[T any](s []T, key func(T) string) {
	sort.SliceStable(s, func(i, j int) bool { return key(s[i]) < key(s[j]) })
}
