package image

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrNoCABundle is the class of error FindCABundle returns when the build
// machine has no CA certificate bundle; test for it with errors.Is.
var ErrNoCABundle = errors.New("no CA certificate bundle found")

// ErrNoZoneInfo is the class of error FindZoneInfo returns when neither the
// Go toolchain nor the build machine has time-zone data.
var ErrNoZoneInfo = errors.New("no time-zone data found")

// caBundles are the bundle files Go's crypto/x509 reads on Linux
// (root_linux.go), in its order.
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian/Ubuntu/Gentoo etc.
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora/RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // OpenSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS/RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine Linux
}

// FindCABundle returns the path of the build machine's CA certificate
// bundle: $SSL_CERT_FILE when set, else the first of the files Go's
// crypto/x509 reads on Linux that exists and is not empty. When none does
// it returns an error wrapping ErrNoCABundle that lists where it looked and
// how to fix it.
func FindCABundle() (string, error) {
	return findFile(append([]string{os.Getenv("SSL_CERT_FILE")}, caBundles...))
}

func findFile(candidates []string) (string, error) {
	var looked []string
	for _, p := range candidates {
		if p == "" {
			continue
		}
		looked = append(looked, p)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w (looked in %s): install ca-certificates or set the path in the config", ErrNoCABundle, strings.Join(looked, ", "))
}

// FindZoneInfo returns the time-zone data to put into images: the Go
// toolchain's lib/time/zoneinfo.zip ($GOROOT, else the GOROOT of the go
// command on PATH, else the one this program was built with), which keeps
// images reproducible across machines with the same toolchain; failing
// that, the build machine's /usr/share/zoneinfo directory. When neither
// exists it returns an error wrapping ErrNoZoneInfo that lists where it
// looked.
func FindZoneInfo() (string, error) {
	var roots []string
	if r := os.Getenv("GOROOT"); r != "" {
		roots = append(roots, r)
	}
	if goBin, err := exec.LookPath("go"); err == nil {
		if real, err := filepath.EvalSymlinks(goBin); err == nil {
			roots = append(roots, filepath.Dir(filepath.Dir(real)))
		}
	}
	//nolint:staticcheck // a fallback only: the toolchain that built this program
	if r := runtime.GOROOT(); r != "" {
		roots = append(roots, r)
	}
	var candidates []string
	for _, r := range roots {
		candidates = append(candidates, filepath.Join(r, "lib", "time", "zoneinfo.zip"))
	}
	return findZoneInfo(candidates, "/usr/share/zoneinfo")
}

func findZoneInfo(zips []string, dir string) (string, error) {
	for _, z := range zips {
		if fi, err := os.Stat(z); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
			return z, nil
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "UTC")); err == nil && !fi.IsDir() {
		return dir, nil
	}
	looked := append(append([]string(nil), zips...), dir)
	return "", fmt.Errorf("%w (looked in %s): install tzdata, or set the zoneinfo path in the config", ErrNoZoneInfo, strings.Join(looked, ", "))
}
