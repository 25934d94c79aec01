package sbom

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestGoPURL(t *testing.T) {
	tests := []struct {
		name, path, version, want string
	}{
		{"module", "github.com/google/go-containerregistry", "v0.22.1", "pkg:golang/github.com/google/go-containerregistry@v0.22.1"},
		{"no namespace", "go.opencensus.io", "v0.23.0", "pkg:golang/go.opencensus.io@v0.23.0"},
		{"major version suffix", "github.com/Masterminds/semver/v3", "v3.5.0", "pkg:golang/github.com/Masterminds/semver/v3@v3.5.0"},
		{"case kept", "github.com/BurntSushi/toml", "v1.3.2", "pkg:golang/github.com/BurntSushi/toml@v1.3.2"},
		{"incompatible", "github.com/docker/cli", "v29.7.2+incompatible", "pkg:golang/github.com/docker/cli@v29.7.2%2Bincompatible"},
		{"pseudo-version", "golang.org/x/exp", "v0.0.0-20240506185415-9bf2ced13842", "pkg:golang/golang.org/x/exp@v0.0.0-20240506185415-9bf2ced13842"},
		{"devel", "example.com/app", "(devel)", "pkg:golang/example.com/app"},
		{"no version", "example.com/app", "", "pkg:golang/example.com/app"},
		{"odd characters escaped", "example.com/a b/c@d", "v1.0.0+meta", "pkg:golang/example.com/a%20b/c%40d@v1.0.0%2Bmeta"},
		{"tilde and underscore stay", "example.com/~user/x_y", "v1.0.0", "pkg:golang/example.com/~user/x_y@v1.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, GoPURL(tt.path, tt.version))
		})
	}
}

func TestPackageURL(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"qualifiers sorted, empty dropped", packageURL("oci", "", "app", "sha256:abc", qualifier{"tag", "1.2.3"}, qualifier{"arch", "amd64"}, qualifier{"os", ""}),
			"pkg:oci/app@sha256:abc?arch=amd64&tag=1.2.3"},
		{"slash in a qualifier value is encoded", packageURL("oci", "", "app", "", qualifier{"repository_url", "ghcr.io/team/app"}),
			"pkg:oci/app?repository_url=ghcr.io%2Fteam%2Fapp"},
		{"apk", APKPURL(APKPackage{Name: "Busybox", Version: "1.36.1-r29", Arch: "x86_64"}),
			"pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64"},
		{"apk without arch", APKPURL(APKPackage{Name: "musl", Version: "1.2.5-r0"}),
			"pkg:apk/alpine/musl@1.2.5-r0"},
		{"utf-8 escaped byte by byte", packageURL("generic", "", "é", ""), "pkg:generic/%C3%A9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}

func TestOCIPURL(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct {
		ref, digest, arch, want string
	}{
		{"ghcr.io/team/app", d, "arm64", "pkg:oci/app@" + d + "?arch=arm64&repository_url=ghcr.io%2Fteam%2Fapp"},
		{"alpine:3.20", d, "amd64", "pkg:oci/alpine@" + d + "?arch=amd64&repository_url=alpine&tag=3.20"},
		{"127.0.0.1:5000/Team/App:v1@" + d, "", "", "pkg:oci/app?repository_url=127.0.0.1:5000%2FTeam%2FApp&tag=v1"},
		{"127.0.0.1:5000/app", "", "amd64", "pkg:oci/app?arch=amd64&repository_url=127.0.0.1:5000%2Fapp"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			assert.Equal(t, tt.want, ociPURL(tt.ref, tt.digest, tt.arch))
		})
	}
}
