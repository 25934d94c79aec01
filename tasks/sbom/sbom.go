// Package sbom makes CycloneDX software bills of materials (SBOMs) for Go
// binaries and the images that carry them, in-process and reproducibly.
//
// A binary's SBOM is read from the binary itself (debug/buildinfo, which
// reads binaries of any GOOS/GOARCH): the main module, every module
// compiled in with its version, package URL and go.sum hash, the Go
// standard library and toolchain version, and the build settings (GOOS,
// GOARCH, CGO_ENABLED, -ldflags, -trimpath, vcs.revision, …) as
// properties. It describes what was built, not what go.mod asks for. An
// image's SBOM adds what the image holds besides the binary: the CA
// bundle, time-zone data, and for an Alpine base the base image and its
// APK packages.
//
// Encode writes CycloneDX 1.6 JSON. The same inputs give the same bytes:
// the timestamp is one the caller passes (the commit's time), the serial
// number is derived from the content, and every list is sorted.
package sbom

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
)

// MediaType is the media type of a CycloneDX JSON document, and the
// artifact type of an SBOM attached to an image as an OCI referrer.
const MediaType = "application/vnd.cyclonedx+json"

// SpecVersion is the CycloneDX version Encode writes: 1.6, which the
// common consumers (Dependency-Track, Grype, Trivy, syft) read.
const SpecVersion = cdx.SpecVersion1_6

// FileSuffix ends the name of every SBOM file: dist/<binary>.cdx.json.
const FileSuffix = ".cdx.json"

// FileName returns the SBOM file name for the binary at path:
// "dist/app_linux_amd64" → "dist/app_linux_amd64.cdx.json",
// "dist/app_windows_amd64.exe" → "dist/app_windows_amd64.exe.cdx.json"
// (the binary's full name, so that no two binaries share an SBOM file).
func FileName(binary string) string {
	return binary + FileSuffix
}

// Options are the facts about a binary that it does not record itself.
type Options struct {
	// Name names the application component; "" takes the last element of
	// the main package's import path (".../cmd/app" → "app").
	Name string
	// Version is the application's version as the project versions it
	// (e.g. "1.2.3" or "0.0.0-dev.4+gabc1234"); "" takes the main
	// module's version from the build info.
	Version string
	// Time is the BOM's timestamp. Pass the commit's time (or
	// SOURCE_DATE_EPOCH) so builds of one commit give the same bytes; zero
	// leaves the timestamp out.
	Time time.Time
	// Ldflags are the -ldflags the binary was built with. Go leaves them
	// out of the build information of a -trimpath build (they may hold
	// paths, go.dev/issue/52372); given here, they are recorded as the
	// -ldflags build setting when the binary has none. "" records nothing.
	Ldflags string
	// Revision is the commit the binary was built from, recorded as
	// PropRevision. Go records its own vcs.revision only when it finds the
	// repository (not, e.g., from a git worktree or a source archive).
	Revision string
}

// Encode returns bom as indented CycloneDX 1.6 JSON ending in a newline.
// It sets the serial number to a name-based (version 5) UUID of the
// document's own content, so the same BOM always gets the same serial
// number and a changed one a different one; bom itself is not modified.
// It fails when bom is nil or cannot be encoded.
func Encode(bom *cdx.BOM) ([]byte, error) {
	if bom == nil {
		return nil, errors.New("encode SBOM: no BOM")
	}
	b := *bom
	b.SerialNumber = ""
	content, err := encode(&b)
	if err != nil {
		return nil, err
	}
	b.SerialNumber = "urn:uuid:" + uuidV5(serialNamespace, content)
	return encode(&b)
}

func encode(bom *cdx.BOM) ([]byte, error) {
	var buf bytes.Buffer
	enc := cdx.NewBOMEncoder(&buf, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, SpecVersion); err != nil {
		return nil, fmt.Errorf("encode SBOM: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode reads a CycloneDX JSON document, e.g. one Encode wrote.
func Decode(data []byte) (*cdx.BOM, error) {
	var bom cdx.BOM
	if err := cdx.NewBOMDecoder(bytes.NewReader(data), cdx.BOMFileFormatJSON).Decode(&bom); err != nil {
		return nil, fmt.Errorf("decode CycloneDX JSON: %w", err)
	}
	return &bom, nil
}

// serialNamespace is the namespace of the name-based UUIDs Encode makes:
// RFC 9562's namespace for URLs (the name being a document's content).
var serialNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// uuidV5 returns the RFC 9562 version 5 UUID of name in namespace, in its
// lower-case hex form with dashes.
func uuidV5(namespace [16]byte, name []byte) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write(name)
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	s := hex.EncodeToString(u)
	return strings.Join([]string{s[:8], s[8:12], s[12:16], s[16:20], s[20:]}, "-")
}

// newBOM returns an empty BOM of SpecVersion stamped with t (UTC, whole
// seconds) and magepack as the tool that made it.
func newBOM(t time.Time) *cdx.BOM {
	bom := cdx.NewBOM()
	bom.Metadata = &cdx.Metadata{
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    "magepack",
			Version: toolVersion(),
		}}},
	}
	if !t.IsZero() {
		bom.Metadata.Timestamp = t.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	return bom
}
