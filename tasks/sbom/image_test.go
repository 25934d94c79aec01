package sbom

import (
	"os"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	imgDigest  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	baseDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	caSum      = "3333333333333333333333333333333333333333333333333333333333333333"
	tzSum      = "4444444444444444444444444444444444444444444444444444444444444444"
)

func binaryBOM(t *testing.T) *cdx.BOM {
	t.Helper()
	bom, err := FromBuildInfo(testInfo(), strings.Repeat("ab", 32), Options{Version: "1.2.3"})
	require.NoError(t, err)
	return bom
}

func byRef(bom *cdx.BOM) map[string]cdx.Component {
	m := map[string]cdx.Component{}
	for _, c := range *bom.Components {
		m[c.BOMRef] = c
	}
	return m
}

func dependsOn(bom *cdx.BOM, ref string) []string {
	for _, d := range *bom.Dependencies {
		if d.Ref == ref && d.Dependencies != nil {
			return *d.Dependencies
		}
	}
	return nil
}

func TestForImageAlpine(t *testing.T) {
	apk, err := os.ReadFile("testdata/apk-installed")
	require.NoError(t, err)
	bin := binaryBOM(t)
	bom, err := ForImage(bin, Image{
		Name: "ghcr.io/team/server", Digest: imgDigest, OS: "linux", Arch: "arm", Variant: "v7",
		BinaryPath: "/usr/local/bin/server",
		CABundle:   &File{Path: "/etc/ssl/certs/ca-certificates.crt", SHA256: caSum},
		Base:       &Base{Name: "alpine:3.20", Digest: baseDigest, APKInstalled: apk},
	}, Options{Version: "1.2.3", Time: time.Unix(1700000000, 0)})
	require.NoError(t, err)

	img := bom.Metadata.Component
	assert.Equal(t, cdx.ComponentTypeContainer, img.Type)
	assert.Equal(t, "ghcr.io/team/server", img.Name)
	assert.Equal(t, "1.2.3", img.Version)
	assert.Equal(t, "pkg:oci/server@"+imgDigest+"?arch=arm&repository_url=ghcr.io%2Fteam%2Fserver", img.PackageURL)
	assert.Equal(t, "linux/arm/v7", props(*img)[PropPlatform])

	comps := byRef(bom)
	app, ok := comps["pkg:golang/example.com/app@v1.2.3"]
	require.True(t, ok, "the application is a component")
	assert.Equal(t, "/usr/local/bin/server", props(app)[PropImagePath])
	assert.Equal(t, "linux", props(app)[PropGOOS], "the binary's own properties stay")
	assert.NotContains(t, props(*bin.Metadata.Component), PropImagePath, "the binary BOM is not modified")
	for _, c := range *bin.Components {
		assert.Contains(t, comps, c.BOMRef, "every module of the binary is in the image")
	}

	ca := comps["file:/etc/ssl/certs/ca-certificates.crt"]
	assert.Equal(t, cdx.ComponentTypeFile, ca.Type)
	assert.Equal(t, &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: caSum}}, ca.Hashes)

	baseRef := "pkg:oci/alpine@" + baseDigest + "?arch=arm&repository_url=alpine&tag=3.20"
	base, ok := comps[baseRef]
	require.True(t, ok, "the base is a component: %v", comps)
	assert.Equal(t, "alpine:3.20", base.Name)
	assert.Equal(t, baseDigest, base.Version)

	musl, ok := comps["pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64"]
	require.True(t, ok)
	assert.Equal(t, &cdx.Licenses{{License: &cdx.License{Name: "MIT"}}}, musl.Licenses)
	assert.Equal(t, map[string]string{PropAPKOrigin: "musl", PropAPKChecksum: "Q1lWzQVBspBOcrhq5B9vfyvzL2zPE="}, props(musl))
	assert.Equal(t, []string{
		"pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64",
		"pkg:apk/alpine/ca-certificates-bundle@20240226-r0?arch=x86_64",
		"pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64",
	}, dependsOn(bom, baseRef))
	assert.Equal(t, []string{"file:/etc/ssl/certs/ca-certificates.crt", "pkg:golang/example.com/app@v1.2.3", baseRef}, dependsOn(bom, img.BOMRef))
	assert.Len(t, dependsOn(bom, app.BOMRef), 5, "the application's modules")

	// Every reference in the graph names a component (or the image).
	for _, d := range *bom.Dependencies {
		for _, r := range append([]string{d.Ref}, *d.Dependencies...) {
			if r != img.BOMRef {
				assert.Contains(t, comps, r)
			}
		}
	}
	assert.Len(t, *bom.Components, 1+5+1+1+3, "application, modules and stdlib, CA, base, packages")
}

func TestForImageScratch(t *testing.T) {
	bom, err := ForImage(binaryBOM(t), Image{
		Name: "127.0.0.1:5000/server", OS: "linux", Arch: "amd64",
		CABundle: &File{Path: "/etc/ssl/certs/ca-certificates.crt", SHA256: caSum},
		TZData:   &File{Path: "/usr/local/go/lib/time/zoneinfo.zip", SHA256: tzSum},
	}, Options{})
	require.NoError(t, err)
	assert.Equal(t, "pkg:oci/server?arch=amd64&repository_url=127.0.0.1:5000%2Fserver", bom.Metadata.Component.PackageURL, "no digest, no version")
	comps := byRef(bom)
	tz := comps["file:/usr/local/go/lib/time/zoneinfo.zip"]
	assert.Equal(t, &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: tzSum}}, tz.Hashes)
	for _, c := range comps {
		assert.NotEqual(t, cdx.ComponentTypeContainer, c.Type, "scratch has no base: %s", c.BOMRef)
	}
	app := comps["pkg:golang/example.com/app@v1.2.3"]
	assert.NotContains(t, props(app), PropImagePath, "no path given")
}

func TestForImageBaseWithoutAPK(t *testing.T) {
	bom, err := ForImage(binaryBOM(t), Image{Name: "app", OS: "linux", Arch: "amd64", Base: &Base{Name: "distroless/static", Digest: baseDigest}}, Options{})
	require.NoError(t, err)
	base := byRef(bom)["pkg:oci/static@"+baseDigest+"?arch=amd64&repository_url=distroless%2Fstatic"]
	assert.Equal(t, "distroless/static", base.Name)
}

func TestForImageReproducible(t *testing.T) {
	apk, err := os.ReadFile("testdata/apk-installed")
	require.NoError(t, err)
	build := func() []byte {
		bom, err := ForImage(binaryBOM(t), Image{
			Name: "ghcr.io/team/server", Digest: imgDigest, OS: "linux", Arch: "amd64",
			CABundle: &File{Path: "/etc/ssl/certs/ca-certificates.crt", SHA256: caSum},
			Base:     &Base{Name: "alpine:3.20", Digest: baseDigest, APKInstalled: apk},
		}, Options{Version: "1.2.3", Time: time.Unix(1700000000, 0)})
		require.NoError(t, err)
		data, err := Encode(bom)
		require.NoError(t, err)
		return data
	}
	assert.Equal(t, string(build()), string(build()))
}

func TestForImageErrors(t *testing.T) {
	bin := binaryBOM(t)
	tests := []struct {
		name string
		bin  *cdx.BOM
		img  Image
		want string
	}{
		{"no binary BOM", nil, Image{Name: "app"}, "no binary SBOM"},
		{"binary BOM without application", &cdx.BOM{}, Image{Name: "app"}, "no binary SBOM"},
		{"no name", bin, Image{}, "no image name"},
		{"bad digest", bin, Image{Name: "app", Digest: "sha256:abc"}, `digest "sha256:abc" is not sha256:<64 hex>`},
		{"bad base digest", bin, Image{Name: "app", Base: &Base{Name: "alpine", Digest: "latest"}}, `base digest "latest"`},
		{"base without name", bin, Image{Name: "app", Base: &Base{}}, "base image has no name"},
		{"relative file", bin, Image{Name: "app", CABundle: &File{Path: "ca.crt"}}, `file path "ca.crt" is not absolute`},
		{"bad file hash", bin, Image{Name: "app", CABundle: &File{Path: "/ca.crt", SHA256: "ABC"}}, `SHA-256 "ABC"`},
		{"broken APK database", bin, Image{Name: "app", Base: &Base{Name: "alpine", APKInstalled: []byte("garbage\n")}}, "base alpine: APK database: line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ForImage(tt.bin, tt.img, Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
