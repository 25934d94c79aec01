package sbom

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAPKInstalled(t *testing.T) {
	alpine, err := os.ReadFile("testdata/apk-installed")
	require.NoError(t, err)
	tests := []struct {
		name string
		data string
		want []APKPackage
	}{
		{
			name: "an Alpine database",
			data: string(alpine),
			want: []APKPackage{
				{Name: "musl", Version: "1.2.5-r0", Arch: "x86_64", License: "MIT", Origin: "musl", URL: "https://musl.libc.org/", Checksum: "Q1lWzQVBspBOcrhq5B9vfyvzL2zPE="},
				{Name: "busybox", Version: "1.36.1-r29", Arch: "x86_64", License: "GPL-2.0-only", Origin: "busybox", URL: "https://busybox.net/", Checksum: "Q1/Jyzkd/RMymqCs8+yTfmRLXgV14="},
				{Name: "ca-certificates-bundle", Version: "20240226-r0", Arch: "x86_64", License: "MPL-2.0 AND MIT", Origin: "ca-certificates", URL: "https://www.mozilla.org/en-US/about/governance/policies/security-group/certs/", Checksum: "Q1yB3ChjvzMn0A6uFhHQ5rFO0ATZo="},
			},
		},
		{name: "empty", data: "", want: nil},
		{name: "only blank lines", data: "\n\n  \n", want: nil},
		{name: "no trailing blank line", data: "P:a\nV:1", want: []APKPackage{{Name: "a", Version: "1"}}},
		{name: "several blank lines between", data: "P:a\nV:1\n\n\n\nP:b\nV:2\n", want: []APKPackage{{Name: "a", Version: "1"}, {Name: "b", Version: "2"}}},
		{name: "CRLF line ends", data: "P:a\r\nV:1\r\nA:aarch64\r\n\r\n", want: []APKPackage{{Name: "a", Version: "1", Arch: "aarch64"}}},
		{name: "value with colons", data: "P:a\nV:1\np:so:libc.musl-x86_64.so.1=1\nL:MIT\n", want: []APKPackage{{Name: "a", Version: "1", License: "MIT"}}},
		{name: "later field wins", data: "P:a\nP:b\nV:1\n", want: []APKPackage{{Name: "b", Version: "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAPKInstalled([]byte(tt.data))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseAPKInstalledErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"no version", "P:a\nA:x86_64\n\nP:b\nV:1\n", "package at line 1 has no name (P:) or version (V:)"},
		{"no name", "P:a\nV:1\n\nV:2\nA:x86_64\n", "package at line 4 has no name"},
		{"not key:value", "P:a\nV:1\nnot a field\n", `line 3 is not <key>:<value>: "not a field"`},
		{"long key", "Pkg:a\n", `line 1 is not <key>:<value>`},
		{"a text file", "hello\n", `line 1 is not <key>:<value>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAPKInstalled([]byte(tt.data))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
