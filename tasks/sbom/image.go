package sbom

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// More property names, for image SBOMs.
const (
	// PropImagePath is where a file or the binary sits in the image.
	PropImagePath = "magepack:image:path"
	// PropPlatform is the image's platform, e.g. "linux/arm/v7".
	PropPlatform = "magepack:image:platform"
	// PropAPKOrigin and PropAPKChecksum carry an APK package's origin
	// (o:) and identity checksum (C:).
	PropAPKOrigin   = "magepack:apk:origin"
	PropAPKChecksum = "magepack:apk:checksum"
)

// Image is what an image adds around its binary, as plain facts the
// caller gathered while assembling it.
type Image struct {
	// Name is the image repository, e.g. "ghcr.io/team/app"; it names the
	// container component. Required.
	Name string
	// Digest is the platform image's manifest digest ("sha256:…"); ""
	// leaves the container's package URL without version.
	Digest string
	// OS, Arch and Variant are the image's platform.
	OS, Arch, Variant string
	// BinaryPath is where the binary sits in the image, e.g.
	// "/usr/local/bin/app".
	BinaryPath string
	// CABundle is the CA certificate bundle in the image; nil when none.
	CABundle *File
	// TZData is the time-zone data in the image; nil when none.
	TZData *File
	// Base is the image built on; nil for scratch.
	Base *Base
}

// File is one file (or directory) the image holds.
type File struct {
	// Path inside the image, e.g. "/etc/ssl/certs/ca-certificates.crt".
	Path string
	// SHA256 is the content's SHA-256 in hex; "" for a directory or
	// when unknown.
	SHA256 string
}

// Base is the base image an image was built on.
type Base struct {
	// Name is the reference as configured, e.g. "alpine:3.20" or
	// "registry.example.com/alpine:3.20".
	Name string
	// Digest is the manifest digest ("sha256:…") of the base image for
	// this platform.
	Digest string
	// APKInstalled is the base's /lib/apk/db/installed (see
	// ParseAPKInstalled); nil when the base has none.
	APKInstalled []byte
}

var hexDigest = regexp.MustCompile(`^sha(256:[0-9a-f]{64}|512:[0-9a-f]{128})$`)

// ForImage returns the SBOM of an image holding the binary binary
// describes (a BOM Binary returned): the image as metadata.component (a
// container), the application and its modules from binary, the CA bundle
// and time-zone data as file components with their SHA-256, and for a
// base the base image (name and digest) and the APK packages listed in
// its installed database. o.Version versions the image and o.Time stamps
// the BOM. It fails, naming the fact, on a missing name or binary BOM, a
// malformed digest or hash, or an APK database ParseAPKInstalled rejects.
func ForImage(binary *cdx.BOM, img Image, o Options) (*cdx.BOM, error) {
	if binary == nil || binary.Metadata == nil || binary.Metadata.Component == nil {
		return nil, errors.New("image SBOM: no binary SBOM: make one with Binary first")
	}
	if img.Name == "" {
		return nil, errors.New("image SBOM: no image name: set Image.Name, e.g. ghcr.io/team/app")
	}
	if img.Digest != "" && !hexDigest.MatchString(img.Digest) {
		return nil, fmt.Errorf("image SBOM of %s: digest %q is not sha256:<64 hex>", img.Name, img.Digest)
	}
	platform := img.OS + "/" + img.Arch
	if img.Variant != "" {
		platform += "/" + img.Variant
	}

	container := cdx.Component{
		Type:       cdx.ComponentTypeContainer,
		Name:       img.Name,
		Version:    o.Version,
		PackageURL: ociPURL(img.Name, img.Digest, img.Arch),
		Properties: &[]cdx.Property{{Name: PropPlatform, Value: platform}},
	}
	container.BOMRef = container.PackageURL
	bom := newBOM(o.Time)
	bom.Metadata.Component = &container

	app := *binary.Metadata.Component
	if img.BinaryPath != "" {
		props := append(copyProperties(app.Properties), cdx.Property{Name: PropImagePath, Value: img.BinaryPath})
		sortProperties(props)
		app.Properties = &props
	}
	comps := []cdx.Component{app}
	if binary.Components != nil {
		comps = append(comps, *binary.Components...)
	}
	top := []string{app.BOMRef}
	var deps []cdx.Dependency
	if binary.Dependencies != nil {
		deps = append(deps, *binary.Dependencies...)
	}

	for _, f := range []*File{img.CABundle, img.TZData} {
		if f == nil {
			continue
		}
		c, err := fileComponent(*f)
		if err != nil {
			return nil, fmt.Errorf("image SBOM of %s: %w", img.Name, err)
		}
		comps = append(comps, c)
		top = append(top, c.BOMRef)
	}

	if b := img.Base; b != nil {
		if b.Name == "" {
			return nil, fmt.Errorf("image SBOM of %s: the base image has no name", img.Name)
		}
		if b.Digest != "" && !hexDigest.MatchString(b.Digest) {
			return nil, fmt.Errorf("image SBOM of %s: base digest %q is not sha256:<64 hex>", img.Name, b.Digest)
		}
		base := cdx.Component{
			Type:       cdx.ComponentTypeContainer,
			Name:       b.Name,
			Version:    b.Digest,
			PackageURL: ociPURL(b.Name, b.Digest, img.Arch),
		}
		base.BOMRef = base.PackageURL
		top = append(top, base.BOMRef)
		var pkgComps []cdx.Component
		if b.APKInstalled != nil {
			pkgs, err := ParseAPKInstalled(b.APKInstalled)
			if err != nil {
				return nil, fmt.Errorf("image SBOM of %s: base %s: %w", img.Name, b.Name, err)
			}
			pkgComps = apkComponents(pkgs)
		}
		comps = append(comps, base)
		comps = append(comps, pkgComps...)
		deps = append(deps, dependency(base.BOMRef, pkgComps))
	}

	comps = dedupe(comps)
	sortComponents(comps)
	bom.Components = &comps
	deps = append(deps, dependency(container.BOMRef, refsOnly(top)))
	sortDependencies(deps)
	bom.Dependencies = &deps
	return bom, nil
}

func copyProperties(p *[]cdx.Property) []cdx.Property {
	if p == nil {
		return nil
	}
	return append([]cdx.Property(nil), *p...)
}

// fileComponent is a file the image holds, named by its path.
func fileComponent(f File) (cdx.Component, error) {
	if !strings.HasPrefix(f.Path, "/") {
		return cdx.Component{}, fmt.Errorf("file path %q is not absolute: give the path inside the image", f.Path)
	}
	c := cdx.Component{
		BOMRef:     "file:" + f.Path,
		Type:       cdx.ComponentTypeFile,
		Name:       f.Path,
		Properties: &[]cdx.Property{{Name: PropImagePath, Value: f.Path}},
	}
	if f.SHA256 != "" {
		if !hexDigest.MatchString("sha256:" + f.SHA256) {
			return cdx.Component{}, fmt.Errorf("file %s: SHA-256 %q is not 64 lower-case hex digits", f.Path, f.SHA256)
		}
		c.Hashes = &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: f.SHA256}}
	}
	return c, nil
}

func apkComponents(pkgs []APKPackage) []cdx.Component {
	comps := make([]cdx.Component, 0, len(pkgs))
	for _, p := range pkgs {
		c := cdx.Component{
			Type:       cdx.ComponentTypeLibrary,
			Name:       p.Name,
			Version:    p.Version,
			PackageURL: APKPURL(p),
		}
		c.BOMRef = c.PackageURL
		if p.License != "" {
			// The declared text as a name: older packages use free text
			// ("MIT BSD"), which is not an SPDX expression.
			c.Licenses = &cdx.Licenses{{License: &cdx.License{Name: p.License}}}
		}
		if p.URL != "" {
			c.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeWebsite, URL: p.URL}}
		}
		var props []cdx.Property
		if p.Origin != "" {
			props = append(props, cdx.Property{Name: PropAPKOrigin, Value: p.Origin})
		}
		if p.Checksum != "" {
			props = append(props, cdx.Property{Name: PropAPKChecksum, Value: p.Checksum})
		}
		if len(props) > 0 {
			c.Properties = &props
		}
		comps = append(comps, c)
	}
	return comps
}

// OCIPURL is the package URL an SBOM gives the image ref (with digest, on
// arch): what other documents about the image (its VEX) name it by.
func OCIPURL(ref, digest, arch string) string { return ociPURL(ref, digest, arch) }

// ociPURL is the package URL of an image: "pkg:oci/<name>@<digest>" with
// the repository, tag and architecture as qualifiers. ref is a reference
// such as "ghcr.io/team/app", "alpine:3.20" or "host:5000/a/b:tag@sha256:…".
func ociPURL(ref, digest, arch string) string {
	repo, tag := splitRef(ref)
	name := strings.ToLower(repo[strings.LastIndexByte(repo, '/')+1:])
	return packageURL("oci", "", name, digest,
		qualifier{"arch", arch}, qualifier{"repository_url", repo}, qualifier{"tag", tag})
}

// splitRef splits an image reference into repository and tag, dropping a
// digest.
func splitRef(ref string) (repo, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	slash := strings.LastIndexByte(ref, '/')
	if colon := strings.LastIndexByte(ref, ':'); colon > slash {
		return ref[:colon], ref[colon+1:]
	}
	return ref, ""
}

// dedupe drops components whose bom-ref an earlier one has.
func dedupe(cs []cdx.Component) []cdx.Component {
	seen := map[string]bool{}
	out := cs[:0]
	for _, c := range cs {
		if seen[c.BOMRef] {
			continue
		}
		seen[c.BOMRef] = true
		out = append(out, c)
	}
	return out
}

func refsOnly(refs []string) []cdx.Component {
	cs := make([]cdx.Component, len(refs))
	for i, r := range refs {
		cs[i].BOMRef = r
	}
	return cs
}

func sortDependencies(ds []cdx.Dependency) {
	sortSlice(ds, func(d cdx.Dependency) string { return d.Ref })
}
