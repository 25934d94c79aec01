// Package platform owns the GOOS/GOARCH matrix: it parses a user's
// platform list against the ports a toolchain has (the toolchain package
// asks go tool dist list -json), and suggests the intended port when a
// name is misspelt. It runs nothing.
package platform

// Platform is one build target: a GOOS/GOARCH pair and, for images, an
// optional CPU variant in OCI notation (e.g. "v7" for 32-bit ARM).
type Platform struct {
	OS      string
	Arch    string
	Variant string
}

// String returns the platform as "os/arch", or "os/arch/variant" when a
// variant is set, the notation docker and OCI image indexes use.
func (p Platform) String() string {
	if p.Variant == "" {
		return p.OS + "/" + p.Arch
	}
	return p.OS + "/" + p.Arch + "/" + p.Variant
}

// Exe returns the executable suffix for the platform: ".exe" for windows,
// "" for everything else.
func (p Platform) Exe() string {
	if p.OS == "windows" {
		return ".exe"
	}
	return ""
}

// ImageVariant returns the OCI platform variant to record for the platform in
// an image config or index. An explicit Variant wins. Otherwise it is "v7"
// for arm, matching the GOARM=7 a Go cross-compiler uses by default and what
// docker records for linux/arm images, and "" for every other architecture,
// including arm64: ko and go-containerregistry leave arm64's variant empty
// unless asked, and engines match an empty variant on any arm64 host, while
// "v8" would not match an index entry without it on some older clients.
func (p Platform) ImageVariant() string {
	if p.Variant != "" {
		return p.Variant
	}
	if p.Arch == "arm" {
		return "v7"
	}
	return ""
}

// Port is one entry of `go tool dist list -json`: a GOOS/GOARCH pair the
// toolchain can build for, whether cgo works there and whether the Go team
// treats it as a first-class port.
type Port struct {
	GOOS         string `json:"GOOS"`
	GOARCH       string `json:"GOARCH"`
	CgoSupported bool   `json:"CgoSupported"`
	FirstClass   bool   `json:"FirstClass"`
}

// Platform returns the port as a Platform with no variant.
func (p Port) Platform() Platform { return Platform{OS: p.GOOS, Arch: p.GOARCH} }

// String returns the port as "goos/goarch".
func (p Port) String() string { return p.GOOS + "/" + p.GOARCH }
