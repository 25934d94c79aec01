package report

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Compare is what the compare target measured: the same app packaged as
// an Alpine image and as a scratch image, and its binary built three ways.
// It is written to dist/compare.json (see JSON) and rendered by Text,
// Markdown and SVG. Field names in JSON are lower_snake_case and carry
// their unit (size_bytes, start_median_ms); a field that was not measured
// holds its zero value.
type Compare struct {
	// GeneratedAt is when the measurement was made; omitted from JSON and
	// from the renderings when zero, so reproducible runs can leave it out.
	GeneratedAt time.Time `json:"generated_at,omitzero"`
	// App is the binary and image base name, e.g. "example-app".
	App string `json:"app"`
	// Version is the app's version, e.g. "1.2.3" or "0.1.0-dev.4+g1a2b3c4".
	Version string `json:"version"`
	// Platform is the os/arch the images and binaries were built for and
	// measured on, e.g. "linux/amd64"; empty if unknown.
	Platform string `json:"platform,omitempty"`
	// Method says in a sentence or two how the facts were measured; it is
	// printed under the heading of the Markdown report. Empty: a default
	// that states the units.
	Method string `json:"method,omitempty"`
	// SBOM is where the CycloneDX SBOM of the binary both images hold was
	// written, e.g. "dist/app_linux_amd64.cdx.json"; empty if none was.
	// (publish attaches each image's own SBOM to it in the registry.)
	SBOM string `json:"sbom,omitempty"`
	// VEX is where the OpenVEX document of that binary was written, e.g.
	// "dist/app_linux_amd64.vex.json", and Vulnerabilities its counts, e.g.
	// "10 reached, 0 waived, 3 not affected"; empty if vulncheck wrote none.
	VEX             string `json:"vex,omitempty"`
	Vulnerabilities string `json:"vulnerabilities,omitempty"`
	// Images are the measured images, in the order to show them
	// (conventionally alpine, then scratch).
	Images []ImageFacts `json:"images"`
	// Binaries are the measured builds of the app's binary, in the order to
	// show them (conventionally cgo-default, static, static-stripped).
	Binaries []BinaryFacts `json:"binaries"`
}

// ImageFacts are the measured facts about one image variant.
type ImageFacts struct {
	// Variant is the image variant: "alpine" or "scratch".
	Variant string `json:"variant"`
	// Reference is the tag the image was measured under, e.g.
	// "example-app:1.2.3-scratch".
	Reference string `json:"reference"`
	// ID is the image ID (config digest), e.g. "sha256:0a1b…".
	ID string `json:"id"`
	// Size is the image's uncompressed size in bytes, as the engine
	// reports it (what `docker images` shows).
	Size int64 `json:"size_bytes"`
	// Layers is the number of filesystem layers.
	Layers int `json:"layers"`
	// Base is the base image reference, or "scratch" for none.
	Base string `json:"base"`
	// Shell reports whether the image has /bin/sh.
	Shell bool `json:"shell"`
	// PackageManager reports whether the image has a package manager
	// (e.g. apk).
	PackageManager bool `json:"package_manager"`
	// Libc is the C library the image provides: "musl", "glibc" or "none".
	Libc string `json:"libc"`
	// CABundle reports whether /etc/ssl/certs/ca-certificates.crt exists, so
	// that outgoing TLS can verify servers.
	CABundle bool `json:"ca_bundle"`
	// User is the user the container runs as, e.g. "65532:65532"; empty
	// means root.
	User string `json:"user"`
	// Files is the number of regular files in the image's filesystem.
	Files int `json:"files"`
	// StartMedian is the median time from container start until the app
	// answered; in JSON as milliseconds (start_median_ms).
	StartMedian time.Duration `json:"-"`
	// StartRuns is how many starts StartMedian is the median of; 0 means
	// start time was not measured.
	StartRuns int `json:"start_runs"`
}

// BinaryFacts are the measured facts about one build of the app's binary.
type BinaryFacts struct {
	// Variant names the build: "cgo-default" (go build's defaults, cgo on),
	// "static" (CGO_ENABLED=0) or "static-stripped" (CGO_ENABLED=0 with
	// -ldflags "-s -w").
	Variant string `json:"variant"`
	// Description says how it was built, e.g. "CGO_ENABLED=0 -ldflags=-s -w".
	Description string `json:"description"`
	// Size is the file size in bytes.
	Size int64 `json:"size_bytes"`
	// Linkage is "static", "dynamic" or "unknown".
	Linkage string `json:"linkage"`
	// Libc is the C library the binary needs: "glibc", "musl" or "none".
	Libc string `json:"libc"`
}

// imageFactsJSON is ImageFacts as encoded, with the duration in ms.
type imageFactsJSON struct {
	imageFactsFields
	StartMedianMS float64 `json:"start_median_ms"`
}

// imageFactsFields has ImageFacts' fields without its methods, so encoding
// them does not recurse.
type imageFactsFields ImageFacts

// MarshalJSON encodes the facts with StartMedian as start_median_ms, a
// number of milliseconds (fractional below a millisecond).
func (f ImageFacts) MarshalJSON() ([]byte, error) {
	return json.Marshal(imageFactsJSON{
		imageFactsFields: imageFactsFields(f),
		StartMedianMS:    float64(f.StartMedian) / float64(time.Millisecond),
	})
}

// UnmarshalJSON decodes what MarshalJSON encodes. It returns an error for
// malformed JSON or a start_median_ms that is negative or too large.
func (f *ImageFacts) UnmarshalJSON(data []byte) error {
	var v imageFactsJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	ns := math.Round(v.StartMedianMS * float64(time.Millisecond))
	if ns < 0 || ns >= math.MaxInt64 {
		return fmt.Errorf("start_median_ms %v is out of range; it must be a non-negative number of milliseconds", v.StartMedianMS)
	}
	*f = ImageFacts(v.imageFactsFields)
	f.StartMedian = time.Duration(ns)
	return nil
}

// JSON returns c as indented JSON ending in a newline, the content of
// dist/compare.json. It returns an error only if encoding fails.
func JSON(c Compare) ([]byte, error) {
	if c.Images == nil {
		c.Images = []ImageFacts{}
	}
	if c.Binaries == nil {
		c.Binaries = []BinaryFacts{}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode compare report: %w", err)
	}
	return append(b, '\n'), nil
}
