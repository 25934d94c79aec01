// Package platform owns the GOOS/GOARCH matrix: it asks the Go toolchain
// which ports exist (go tool dist list -json), parses a user's platform list
// against them, and suggests the intended port when a name is misspelt.
package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os/exec"
	"strings"
)

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

// List runs `<goBin> tool dist list -json` and returns every port the
// toolchain supports, in the toolchain's order. An empty goBin means "go"
// from PATH. On failure the error names the command and carries its stderr.
func List(ctx context.Context, goBin string) ([]Port, error) {
	out, err := run(ctx, goBin, "tool", "dist", "list", "-json")
	if err != nil {
		return nil, err
	}
	var ports []Port
	if err := json.Unmarshal(out, &ports); err != nil {
		return nil, fmt.Errorf("%s tool dist list -json: decode output: %w", bin(goBin), err)
	}
	if len(ports) == 0 {
		return nil, fmt.Errorf("%s tool dist list -json listed no ports; check the Go installation", bin(goBin))
	}
	return ports, nil
}

// GoVersion returns the toolchain's version as `<goBin> env GOVERSION`
// prints it (e.g. "go1.26.8"), for messages such as "not supported by
// go1.26.8". An empty goBin means "go" from PATH. On failure the error names
// the command and carries its stderr.
func GoVersion(ctx context.Context, goBin string) (string, error) {
	out, err := run(ctx, goBin, "env", "GOVERSION")
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(out))
	if v == "" {
		return "", fmt.Errorf("%s env GOVERSION printed nothing; check the Go installation", bin(goBin))
	}
	return v, nil
}

func bin(goBin string) string {
	if goBin == "" {
		return "go"
	}
	return goBin
}

// run executes the go command and returns its stdout; errors carry stderr
// and a hint, because a bare "exit status 1" tells the user nothing.
func run(ctx context.Context, goBin string, args ...string) ([]byte, error) {
	name := bin(goBin)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		line := name + " " + strings.Join(args, " ")
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w; install Go or put it on PATH", line, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", line, ctx.Err())
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("%s: %w: %s", line, err, msg)
		}
		return nil, fmt.Errorf("%s: %w", line, err)
	}
	return stdout.Bytes(), nil
}
