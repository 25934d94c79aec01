package sbom

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sumA is a go.sum-shaped hash ("h1:" and the base64 of 32 bytes)
// and sumAHex its SHA-256 in hex.
const (
	sumA    = "h1:Uf1ESmL6NxlKJvv59KvIa14xA96+4oMlLXb5mC3hrgo="
	sumAHex = "51fd444a62fa37194a26fbf9f4abc86b5e3103debee283252d76f9982de1ae0a"
)

func testInfo() *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "example.com/app/cmd/server",
		Main:      debug.Module{Path: "example.com/app", Version: "v1.2.3"},
		Deps: []*debug.Module{
			{Path: "github.com/Masterminds/semver/v3", Version: "v3.5.0", Sum: sumA},
			{Path: "github.com/old/lib", Version: "v1.0.0", Replace: &debug.Module{Path: "github.com/fork/lib", Version: "v1.0.1", Sum: sumA}},
			{Path: "example.com/local", Version: "v0.1.0", Replace: &debug.Module{Path: "../local", Version: "(devel)"}},
			{Path: "github.com/docker/cli", Version: "v29.7.2+incompatible", Sum: sumA},
		},
		Settings: []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "-ldflags", Value: "-s -w -X main.version=1.2.3"},
			{Key: "-trimpath", Value: "true"},
			{Key: "CGO_ENABLED", Value: "0"},
			{Key: "GOARCH", Value: "arm64"},
			{Key: "GOOS", Value: "linux"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.modified", Value: "false"},
		},
	}
}

func props(c cdx.Component) map[string]string {
	m := map[string]string{}
	if c.Properties != nil {
		for _, p := range *c.Properties {
			m[p.Name] = p.Value
		}
	}
	return m
}

func TestFromBuildInfo(t *testing.T) {
	when := time.Date(2024, 5, 6, 7, 8, 9, 500, time.FixedZone("CEST", 2*3600))
	bom, err := FromBuildInfo(testInfo(), strings.Repeat("ab", 32), Options{Version: "1.2.3", Time: when})
	require.NoError(t, err)

	assert.Equal(t, "2024-05-06T05:08:09Z", bom.Metadata.Timestamp, "UTC, whole seconds")
	app := bom.Metadata.Component
	require.NotNil(t, app)
	assert.Equal(t, cdx.ComponentTypeApplication, app.Type)
	assert.Equal(t, "server", app.Name, "last element of the main package")
	assert.Equal(t, "1.2.3", app.Version)
	assert.Equal(t, "pkg:golang/example.com/app@v1.2.3", app.PackageURL)
	assert.Equal(t, &[]cdx.Hash{{Algorithm: cdx.HashAlgoSHA256, Value: strings.Repeat("ab", 32)}}, app.Hashes)
	assert.Equal(t, map[string]string{
		PropGoVersion:                    "go1.26.8",
		PropGOOS:                         "linux",
		PropGOARCH:                       "arm64",
		PropCGOEnabled:                   "0",
		PropPackage:                      "example.com/app/cmd/server",
		PropBuildPrefix + "-buildmode":   "exe",
		PropBuildPrefix + "-ldflags":     "-s -w -X main.version=1.2.3",
		PropBuildPrefix + "-trimpath":    "true",
		PropBuildPrefix + "vcs":          "git",
		PropBuildPrefix + "vcs.revision": "0123456789abcdef0123456789abcdef01234567",
		PropBuildPrefix + "vcs.modified": "false",
	}, props(*app))

	type comp struct {
		Name, Version, PURL, Hash string
		Props                     map[string]string
	}
	var got []comp
	for _, c := range *bom.Components {
		h := ""
		if c.Hashes != nil {
			h = (*c.Hashes)[0].Value
		}
		assert.Equal(t, c.PackageURL, c.BOMRef)
		assert.Equal(t, cdx.ComponentTypeLibrary, c.Type)
		got = append(got, comp{c.Name, c.Version, c.PackageURL, h, props(c)})
	}
	assert.Equal(t, []comp{
		{"example.com/local", "(devel)", "pkg:golang/example.com/local", "", map[string]string{PropReplacedBy: "../local"}},
		{"github.com/Masterminds/semver/v3", "v3.5.0", "pkg:golang/github.com/Masterminds/semver/v3@v3.5.0", sumAHex, map[string]string{PropModuleSum: sumA}},
		{"github.com/docker/cli", "v29.7.2+incompatible", "pkg:golang/github.com/docker/cli@v29.7.2%2Bincompatible", sumAHex, map[string]string{PropModuleSum: sumA}},
		{"github.com/fork/lib", "v1.0.1", "pkg:golang/github.com/fork/lib@v1.0.1", sumAHex, map[string]string{PropModuleSum: sumA, PropReplaces: "github.com/old/lib@v1.0.0"}},
		{"stdlib", "1.26.8", "pkg:golang/stdlib@1.26.8", "", map[string]string{}},
	}, got)

	require.NotNil(t, bom.Dependencies)
	require.Len(t, *bom.Dependencies, 1)
	d := (*bom.Dependencies)[0]
	assert.Equal(t, app.BOMRef, d.Ref)
	assert.Len(t, *d.Dependencies, 5, "the application depends on every module and stdlib")
}

func TestFromBuildInfoDefaults(t *testing.T) {
	info := testInfo()
	info.Main.Version = "(devel)"
	info.GoVersion = "go1.26.8 X:boringcrypto"
	bom, err := FromBuildInfo(info, "", Options{})
	require.NoError(t, err)
	assert.Empty(t, bom.Metadata.Timestamp, "no time given")
	app := bom.Metadata.Component
	assert.Equal(t, "(devel)", app.Version)
	assert.Equal(t, "pkg:golang/example.com/app", app.PackageURL, "(devel) is no version")
	assert.Nil(t, app.Hashes)
	var std *cdx.Component
	for i, c := range *bom.Components {
		if c.Name == StdlibName {
			std = &(*bom.Components)[i]
		}
	}
	require.NotNil(t, std)
	assert.Equal(t, "1.26.8", std.Version, "the experiment is not part of the version")

	bom, err = FromBuildInfo(info, "", Options{Name: "api"})
	require.NoError(t, err)
	assert.Equal(t, "api", bom.Metadata.Component.Name)
}

func TestFromBuildInfoLdflagsAndRevision(t *testing.T) {
	// A -trimpath build: Go records no -ldflags.
	info := testInfo()
	var settings []debug.BuildSetting
	for _, s := range info.Settings {
		if s.Key != "-ldflags" {
			settings = append(settings, s)
		}
	}
	info.Settings = settings
	bom, err := FromBuildInfo(info, "", Options{Ldflags: "-s -w -X main.version=1.2.3", Revision: "feedface"})
	require.NoError(t, err)
	p := props(*bom.Metadata.Component)
	assert.Equal(t, "-s -w -X main.version=1.2.3", p[PropBuildPrefix+"-ldflags"], "the caller's ldflags fill the gap")
	assert.Equal(t, "feedface", p[PropRevision])
	assert.Equal(t, "0123456789abcdef0123456789abcdef01234567", p[PropBuildPrefix+"vcs.revision"], "Go's own stays")

	// What the binary records wins.
	bom, err = FromBuildInfo(testInfo(), "", Options{Ldflags: "-X other=1"})
	require.NoError(t, err)
	p = props(*bom.Metadata.Component)
	assert.Equal(t, "-s -w -X main.version=1.2.3", p[PropBuildPrefix+"-ldflags"])
	assert.NotContains(t, p, PropRevision)
}

func TestFromBuildInfoErrors(t *testing.T) {
	_, err := FromBuildInfo(nil, "", Options{})
	assert.ErrorContains(t, err, "no build information")

	info := testInfo()
	info.Deps[0].Sum = "h2:whatever"
	_, err = FromBuildInfo(info, "", Options{})
	assert.ErrorContains(t, err, `module github.com/Masterminds/semver/v3@v3.5.0: hash "h2:whatever" is not a go.sum h1: hash`)

	info.Deps[0].Sum = "h1:dG9vIHNob3J0"
	_, err = FromBuildInfo(info, "", Options{})
	assert.ErrorContains(t, err, "base64 of 32 bytes")
}

func TestIsLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"../local": true, "./x": true, "/abs/dir": true, `C:\src\x`: true, `..\x`: true, ".": true,
		"github.com/fork/lib": false, "example.com/x": false, "golang.org/x/sync": false,
	} {
		assert.Equal(t, want, isLocalPath(p), p)
	}
}

func TestEncodeSerialNumber(t *testing.T) {
	bom, err := FromBuildInfo(testInfo(), "", Options{Time: time.Unix(1700000000, 0)})
	require.NoError(t, err)
	a, err := Encode(bom)
	require.NoError(t, err)
	b, err := Encode(bom)
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b), "same BOM, same bytes")
	assert.Empty(t, bom.SerialNumber, "Encode leaves its argument alone")

	decoded, err := Decode(a)
	require.NoError(t, err)
	assert.Regexp(t, `^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, decoded.SerialNumber)
	assert.Equal(t, cdx.SpecVersion1_6, decoded.SpecVersion)
	assert.Contains(t, string(a), `"$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json"`)
	assert.Contains(t, string(a), `"timestamp": "2023-11-14T22:13:20Z"`)

	other, err := FromBuildInfo(testInfo(), "", Options{Time: time.Unix(1700000001, 0)})
	require.NoError(t, err)
	c, err := Encode(other)
	require.NoError(t, err)
	decodedC, err := Decode(c)
	require.NoError(t, err)
	assert.NotEqual(t, decoded.SerialNumber, decodedC.SerialNumber, "other content, other serial number")

	_, err = Encode(nil)
	assert.Error(t, err)
}

func TestUUIDv5(t *testing.T) {
	// Python: uuid.uuid5(uuid.NAMESPACE_URL, "magepack")
	assert.Equal(t, "3ddff13a-47ed-56b0-8025-a99f15324071", uuidV5(serialNamespace, []byte("magepack")))
}

func TestFileName(t *testing.T) {
	assert.Equal(t, "dist/app_linux_amd64.cdx.json", FileName("dist/app_linux_amd64"))
	assert.Equal(t, "dist/app_windows_amd64.exe.cdx.json", FileName("dist/app_windows_amd64.exe"))
}
