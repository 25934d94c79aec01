package attest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
)

// BuildTypePrefix starts magepack's SLSA buildType URIs; the version of
// the build type follows ("…/publish/v1", "…/crosscompile/v1").
const BuildTypePrefix = "https://github.com/magepack/magepack/buildtypes/"

// Build is what a provenance statement says about how an artifact was
// made: facts magepack gathered, no clock.
type Build struct {
	// BuildType is the SLSA buildType URI (see BuildTypePrefix).
	BuildType string
	// External are the settings that change the output (platform,
	// variant, cgo, tags, ldflags, version, …); keys are sorted in JSON.
	External map[string]any
	// Internal are facts of the build a user does not set (the Go
	// toolchain's build settings).
	Internal map[string]any
	// Source is the repository: its URL (e.g. https://github.com/o/r,
	// "" when unknown) and commit.
	Source Source
	// Toolchain is the Go version that built the binary, e.g. go1.26.8.
	Toolchain string
	// Base is the base image by digest; nil for scratch.
	Base *ResourceDescriptor
	// RebasedFrom is the image this one was rebased from (its service
	// layer kept, its base swapped for Base), by digest; nil for an image
	// built from source.
	RebasedFrom *ResourceDescriptor
	// Modules are the binary's dependencies with their go.sum hashes.
	Modules []Module
	// Byproducts are what the build made beside the subject (the SBOM).
	Byproducts []ResourceDescriptor
	// BuilderID is the builder: the CI workflow, or a local id.
	BuilderID string
	// BuilderVersion maps component to version, e.g. magepack's own.
	BuilderVersion map[string]string
	// InvocationID names this run in the CI system ("" locally).
	InvocationID string
}

// Source is a repository at a commit.
type Source struct {
	URL    string
	Commit string
}

// Module is a Go module a binary was built from.
type Module struct {
	Path    string
	Version string
	// Sum is go.sum's hash, "h1:<base64>" ("" for a module without one).
	Sum string
}

// Provenance is a SLSA Provenance v1 predicate.
type Provenance struct {
	BuildDefinition BuildDefinition `json:"buildDefinition"`
	RunDetails      RunDetails      `json:"runDetails"`
}

// BuildDefinition is a provenance's inputs.
type BuildDefinition struct {
	BuildType            string               `json:"buildType"`
	ExternalParameters   map[string]any       `json:"externalParameters"`
	InternalParameters   map[string]any       `json:"internalParameters,omitempty"`
	ResolvedDependencies []ResourceDescriptor `json:"resolvedDependencies,omitempty"`
}

// RunDetails is who built, and what else came out.
type RunDetails struct {
	Builder    Builder              `json:"builder"`
	Metadata   *BuildMetadata       `json:"metadata,omitempty"`
	Byproducts []ResourceDescriptor `json:"byproducts,omitempty"`
}

// Builder identifies the build platform.
type Builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

// BuildMetadata names the run; no start or finish time, so statements
// are reproducible.
type BuildMetadata struct {
	InvocationID string `json:"invocationId,omitempty"`
}

// Names of the resolved dependencies magepack writes, by which Verify
// finds them again.
const (
	DependencySource    = "source"
	DependencyToolchain = "go"
	DependencyBase      = "base"
	// DependencyRebasedFrom names the image a rebased image was made from.
	DependencyRebasedFrom = "rebasedFrom"
	// ByproductSBOM names the SBOM among the byproducts.
	ByproductSBOM = "sbom"
	// ByproductVEX names the image's OpenVEX document among the byproducts.
	ByproductVEX = "vex"
)

// Predicate makes b's SLSA Provenance v1 predicate. The same Build gives
// the same bytes.
func (b Build) Predicate() (Provenance, error) {
	if b.BuildType == "" || b.BuilderID == "" {
		return Provenance{}, fmt.Errorf("provenance: a build type and a builder id are required")
	}
	if b.Source.Commit == "" {
		return Provenance{}, fmt.Errorf("provenance: no commit: build from a git checkout")
	}
	ext := b.External
	if ext == nil {
		ext = map[string]any{}
	}
	src := ResourceDescriptor{Name: DependencySource, Digest: map[string]string{"gitCommit": b.Source.Commit}}
	if b.Source.URL != "" {
		src.URI = "git+" + b.Source.URL
	}
	deps := []ResourceDescriptor{src}
	if b.Toolchain != "" {
		deps = append(deps, ResourceDescriptor{Name: DependencyToolchain, URI: "https://go.dev/dl/" + b.Toolchain})
	}
	if b.Base != nil {
		base := *b.Base
		base.Name = DependencyBase
		deps = append(deps, base)
	}
	if b.RebasedFrom != nil {
		from := *b.RebasedFrom
		from.Name = DependencyRebasedFrom
		deps = append(deps, from)
	}
	for _, m := range b.Modules {
		d := ResourceDescriptor{URI: "pkg:golang/" + m.Path + "@" + m.Version}
		if m.Sum != "" {
			d.Digest = map[string]string{}
			if h, ok := dirHash(m.Sum); ok {
				d.Digest["dirHash"] = h
			}
			d.Annotations = map[string]string{"go.sum": m.Sum}
		}
		deps = append(deps, d)
	}
	p := Provenance{
		BuildDefinition: BuildDefinition{BuildType: b.BuildType, ExternalParameters: ext, InternalParameters: b.Internal, ResolvedDependencies: deps},
		RunDetails:      RunDetails{Builder: Builder{ID: b.BuilderID, Version: b.BuilderVersion}, Byproducts: b.Byproducts},
	}
	if b.InvocationID != "" {
		p.RunDetails.Metadata = &BuildMetadata{InvocationID: b.InvocationID}
	}
	return p, nil
}

// dirHash turns go.sum's "h1:<base64 SHA-256>" into the hex in-toto's
// dirHash digest takes.
func dirHash(sum string) (string, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 32 {
		return "", false
	}
	return hex.EncodeToString(raw), true
}

// ReadProvenance returns st's SLSA provenance predicate; it fails for
// another predicate type.
func ReadProvenance(st Statement) (Provenance, error) {
	var p Provenance
	if st.PredicateType != PredicateSLSA {
		return p, fmt.Errorf("predicate type %q is not %s", st.PredicateType, PredicateSLSA)
	}
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return p, fmt.Errorf("provenance predicate: %w", err)
	}
	return p, nil
}

// Commit is the source commit the provenance names ("" if none).
func (p Provenance) Commit() string {
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		if d.Name == DependencySource {
			return d.Digest["gitCommit"]
		}
	}
	return ""
}

// Toolchain is the Go toolchain the provenance names, e.g. go1.26.8
// ("" if none).
func (p Provenance) Toolchain() string {
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		if d.Name == DependencyToolchain {
			return strings.TrimPrefix(d.URI, "https://go.dev/dl/")
		}
	}
	return ""
}

// Base is the reference of the base image the provenance names, as it
// was given (e.g. alpine:3.22), "" for none.
func (p Provenance) Base() string {
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		if d.Name == DependencyBase {
			return strings.TrimPrefix(d.URI, "oci://")
		}
	}
	return ""
}

// SBOMDigest is the sha256 hex of the SBOM the provenance names as a
// byproduct ("" if none).
func (p Provenance) SBOMDigest() string { return p.byproduct(ByproductSBOM) }

// VEXDigest is the sha256 hex of the OpenVEX document the provenance
// names as a byproduct ("" if none).
func (p Provenance) VEXDigest() string { return p.byproduct(ByproductVEX) }

func (p Provenance) byproduct(name string) string {
	for _, d := range p.RunDetails.Byproducts {
		if d.Name == name {
			return d.Digest["sha256"]
		}
	}
	return ""
}

// FromBuildInfo reads what a Go binary records of its build: the Go
// version (the toolchain), every module with its go.sum hash (a replaced
// module by its replacement) and the build settings (-ldflags, CGO,
// GOARCH, vcs.revision, …), which become the internal parameters.
func (b *Build) FromBuildInfo(info *debug.BuildInfo) {
	b.Toolchain = info.GoVersion
	b.Modules = b.Modules[:0]
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		b.Modules = append(b.Modules, Module{Path: m.Path, Version: m.Version, Sum: m.Sum})
	}
	if len(info.Settings) > 0 {
		b.Internal = map[string]any{}
		for _, s := range info.Settings {
			b.Internal[s.Key] = s.Value
		}
	}
}
