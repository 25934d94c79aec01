package dist

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// ManifestFile is the name of the manifest in the dist folder.
const ManifestFile = "artifacts.json"

// SchemaVersion is the artifacts.json schema this package reads and writes.
const SchemaVersion = 2

// Manifest is the content of dist/artifacts.json: what magepack built,
// checked and pushed. Update keeps its lists sorted (binaries by path,
// images by reference, checks by subject then name, pushes by reference,
// the build record's jobs by platform then service), so the file only
// changes when its content does.
type Manifest struct {
	SchemaVersion int      `json:"schema_version"`
	Binaries      []Binary `json:"binaries"`
	Images        []Image  `json:"images"`
	Checks        []Check  `json:"checks"`
	Pushed        []Pushed `json:"pushed"`
	// Warnings are what the last build said a user should know, e.g. a
	// dependency whose C code a build without cgo left out.
	Warnings []Warning `json:"warnings,omitempty"`
	// Build records the go builds the binaries come from, so that parts
	// of a sharded run can be checked against each other and a later
	// target can tell whether the binaries are this checkout's. Nil in
	// folders written before it existed.
	Build *Build `json:"build,omitempty"`
}

// Binary is one built executable and what its headers say about it.
type Binary struct {
	// Service is the service (main package) the binary was built from,
	// its name as in the binary's file name.
	Service string `json:"service"`
	// Path as the caller names it, typically relative to the module root
	// (e.g. "dist/app_linux_amd64"); PutBinary matches entries by it.
	Path        string   `json:"path"`
	OS          string   `json:"os"`
	Arch        string   `json:"arch"`
	Size        int64    `json:"size"`
	SHA256      string   `json:"sha256"`
	Linkage     string   `json:"linkage,omitempty"`
	Interpreter string   `json:"interpreter,omitempty"`
	Needed      []string `json:"needed,omitempty"`
	Libc        string   `json:"libc,omitempty"`
	GoVersion   string   `json:"go_version,omitempty"`
	CGO         string   `json:"cgo,omitempty"`
	BuildMode   string   `json:"build_mode,omitempty"`
	// Tags are the build tags the binary was built with (its -tags
	// build setting), comma-separated.
	Tags string `json:"tags,omitempty"`
	// LinkedLibc is the C library linked into a static cgo binary
	// ("musl" or "glibc"), read from the binary; empty for others.
	LinkedLibc string `json:"linked_libc,omitempty"`
	// NSS is set when a static glibc binary carries glibc's NSS code,
	// which loads shared libraries for name and user lookups at run time.
	NSS bool `json:"nss,omitempty"`
	// SBOM is the path of the binary's CycloneDX SBOM, named like Path
	// (e.g. "dist/app_linux_amd64.cdx.json"); empty when none was written.
	SBOM string `json:"sbom,omitempty"`
	// Provenance is the path of the binary's signed SLSA provenance, a
	// Sigstore bundle named like Path (e.g.
	// "dist/app_linux_amd64.sigstore.json"); empty when nothing was signed.
	Provenance string `json:"provenance,omitempty"`
	// VEX is the path of the binary's OpenVEX document, written by
	// vulncheck ("dist/app_linux_amd64.vex.json"); empty when none was.
	VEX string `json:"vex,omitempty"`
}

// Image is one image magepack built or loaded into an engine.
type Image struct {
	// Service is the service the image packages.
	Service        string   `json:"service"`
	Reference      string   `json:"reference"`
	Variant        string   `json:"variant,omitempty"`
	Platform       string   `json:"platform,omitempty"`
	ID             string   `json:"id,omitempty"` // engine image ID
	ConfigDigest   string   `json:"config_digest,omitempty"`
	ManifestDigest string   `json:"manifest_digest,omitempty"`
	Size           int64    `json:"size,omitempty"`
	Tags           []string `json:"tags,omitempty"`
}

// Check is the verdict of one check (e.g. "scratch" linkage) on a subject
// (e.g. a binary's path).
type Check struct {
	// Service is the service whose binary (or image) was checked.
	Service string `json:"service"`
	Name    string `json:"name"`
	Subject string `json:"subject"`
	OK      bool   `json:"ok"`
	Message string `json:"message,omitempty"`
}

// Pushed is one reference pushed to a registry and the digest it got.
type Pushed struct {
	// Service is the service whose image was pushed.
	Service   string `json:"service"`
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
}

// Warning is one thing a build warned about: Name is its kind ("cgo":
// a package whose C code a build without cgo leaves out; "static-glibc":
// a static glibc binary that calls into glibc's shared libraries), Subject
// what it is about (a package's import path, a binary's path).
type Warning struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// SetWarnings replaces the warnings of kind name that match accepts with
// ws: a build's warnings about what it built replace the last build's,
// and leave the rest alone.
func (m *Manifest) SetWarnings(name string, match func(Warning) bool, ws []Warning) {
	var out []Warning
	for _, w := range m.Warnings {
		if w.Name != name || !match(w) {
			out = append(out, w)
		}
	}
	m.Warnings = append(out, ws...)
}

// PutBinary adds b, replacing the entry with the same Path if there is one.
func (m *Manifest) PutBinary(b Binary) {
	m.Binaries = put(m.Binaries, b, func(o Binary) bool { return o.Path == b.Path })
}

// PutImage adds img, replacing the entry with the same Reference if there is one.
func (m *Manifest) PutImage(img Image) {
	m.Images = put(m.Images, img, func(o Image) bool { return o.Reference == img.Reference })
}

// PutCheck adds c, replacing the entry with the same Name and Subject if there is one.
func (m *Manifest) PutCheck(c Check) {
	m.Checks = put(m.Checks, c, func(o Check) bool { return o.Name == c.Name && o.Subject == c.Subject })
}

// PutPushed adds p, replacing the entry with the same Reference if there is one.
func (m *Manifest) PutPushed(p Pushed) {
	m.Pushed = put(m.Pushed, p, func(o Pushed) bool { return o.Reference == p.Reference })
}

// put replaces the first entry of list that same matches with v, or appends v.
func put[T any](list []T, v T, same func(T) bool) []T {
	for i := range list {
		if same(list[i]) {
			list[i] = v
			return list
		}
	}
	return append(list, v)
}

// sort puts every list in its documented order and makes empty lists
// non-nil, so they read as [] rather than null.
func (m *Manifest) sort() {
	if m.Binaries == nil {
		m.Binaries = []Binary{}
	}
	if m.Images == nil {
		m.Images = []Image{}
	}
	if m.Checks == nil {
		m.Checks = []Check{}
	}
	if m.Pushed == nil {
		m.Pushed = []Pushed{}
	}
	sort.SliceStable(m.Binaries, func(i, j int) bool { return m.Binaries[i].Path < m.Binaries[j].Path })
	sort.SliceStable(m.Images, func(i, j int) bool { return m.Images[i].Reference < m.Images[j].Reference })
	sort.SliceStable(m.Checks, func(i, j int) bool {
		a, b := m.Checks[i], m.Checks[j]
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Name < b.Name
	})
	sort.SliceStable(m.Pushed, func(i, j int) bool { return m.Pushed[i].Reference < m.Pushed[j].Reference })
	sort.SliceStable(m.Warnings, func(i, j int) bool {
		a, b := m.Warnings[i], m.Warnings[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Service < b.Service
	})
	if m.Build != nil {
		b := m.Build.normalized()
		m.Build = &b
	}
}

// ReadManifest reads dir/artifacts.json. A missing file gives an empty
// manifest of the current SchemaVersion. It returns an error naming the file
// and the fix when the file is not valid JSON or was written by a newer
// schema.
func ReadManifest(dir string) (Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{SchemaVersion: SchemaVersion}, nil
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("read %s: %w", path, err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("read %s: %v; remove the file, the next run writes it again", path, err)
	}
	if m.SchemaVersion > SchemaVersion {
		return Manifest{}, fmt.Errorf("read %s: schema_version %d is newer than this magepack reads (%d); upgrade magepack or remove the file", path, m.SchemaVersion, SchemaVersion)
	}
	m.SchemaVersion = SchemaVersion
	return m, nil
}

// WriteManifest writes m to dir/artifacts.json atomically, sorted and with
// SchemaVersion set, or returns an error naming the file.
func WriteManifest(dir string, m Manifest) error {
	data, err := EncodeManifest(m)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return WriteFile(filepath.Join(dir, ManifestFile), data, 0o644)
}

// EncodeManifest returns the bytes WriteManifest writes for m: indented
// JSON, lists sorted, SchemaVersion set, ending in a newline.
func EncodeManifest(m Manifest) ([]byte, error) {
	m.SchemaVersion = SchemaVersion
	m.sort()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Update reads dir/artifacts.json (empty if missing), lets fn change it and
// writes it back atomically in sorted order. If fn returns an error the file
// is left as it was and that error is returned; read and write errors name
// the file. The caller holds Lock on dir, which orders writers in this
// process and keeps other runs out.
func Update(dir string, fn func(*Manifest) error) error {
	m, err := ReadManifest(dir)
	if err != nil {
		return err
	}
	if err := fn(&m); err != nil {
		return err
	}
	return WriteManifest(dir, m)
}
