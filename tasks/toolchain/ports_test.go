package toolchain

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/platform"
)

// marker is a port no toolchain has: finding it proves a list came from the
// cache file, not from the command.
var marker = platform.Port{GOOS: "magepack", GOARCH: "cached"}

func TestPortsCache(t *testing.T) {
	requireGo(t)
	info, err := Probe(t.Context(), t.TempDir())
	require.NoError(t, err)
	real, err := info.Ports(t.Context(), WithoutCache())
	require.NoError(t, err)

	// cacheWith writes a cache file derived from the real one by edit.
	cacheWith := func(t *testing.T, path string, edit func(c *cacheFile)) {
		t.Helper()
		var c cacheFile
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &c))
		edit(&c)
		b, err = json.Marshal(c)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, b, 0o644))
	}
	addMarker := func(c *cacheFile) { c.Ports = append(c.Ports, marker) }

	tests := []struct {
		name       string
		prepare    func(t *testing.T, path string) // the cache file after a first, filling call
		wantMarker bool                            // the list comes from the file
	}{
		{name: "cache hit", prepare: func(t *testing.T, path string) { cacheWith(t, path, addMarker) }, wantMarker: true},
		{name: "corrupt file", prepare: func(t *testing.T, path string) {
			require.NoError(t, os.WriteFile(path, []byte(`{"goroot": "/x", "ports": [`), 0o644))
		}},
		{name: "other GOVERSION", prepare: func(t *testing.T, path string) {
			cacheWith(t, path, func(c *cacheFile) { addMarker(c); c.GOVERSION = "go1.0" })
		}},
		{name: "other GOROOT", prepare: func(t *testing.T, path string) {
			cacheWith(t, path, func(c *cacheFile) { addMarker(c); c.GOROOT = "/elsewhere" })
		}},
		{name: "go rebuilt in place", prepare: func(t *testing.T, path string) {
			cacheWith(t, path, func(c *cacheFile) { addMarker(c); c.Stamp = "1-2" })
		}},
		{name: "host port missing", prepare: func(t *testing.T, path string) {
			cacheWith(t, path, func(c *cacheFile) { c.Ports = []platform.Port{marker} })
		}},
		{name: "unreadable file", prepare: func(t *testing.T, path string) {
			require.NoError(t, os.Remove(path))
			require.NoError(t, os.Mkdir(path, 0o755)) // a folder where the file should be
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := info.Ports(t.Context(), WithCacheDir(dir))
			require.NoError(t, err)
			assert.Equal(t, real, first, "the first call runs go tool dist list -json")
			files, err := filepath.Glob(filepath.Join(dir, "toolchain", "ports-*.json"))
			require.NoError(t, err)
			require.Len(t, files, 1, "the first call writes one cache file")
			var c cacheFile
			b, err := os.ReadFile(files[0])
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(b, &c))
			assert.Equal(t, info.GOROOT, c.GOROOT)
			assert.Equal(t, info.GOVERSION, c.GOVERSION)
			assert.Equal(t, real, c.Ports)

			tt.prepare(t, files[0])
			got, err := info.Ports(t.Context(), WithCacheDir(dir))
			require.NoError(t, err)
			if tt.wantMarker {
				assert.Contains(t, got, marker)
				return
			}
			assert.Equal(t, real, got, "a cache file that cannot be trusted is ignored")
			if fi, err := os.Stat(files[0]); err == nil && fi.Mode().IsRegular() {
				b, err := os.ReadFile(files[0])
				require.NoError(t, err)
				var again cacheFile
				require.NoError(t, json.Unmarshal(b, &again), "the file is written again, whole")
				assert.Equal(t, real, again.Ports)
				assert.Equal(t, info.GOVERSION, again.GOVERSION)
			}
		})
	}
}

func TestPortsWithoutCache(t *testing.T) {
	requireGo(t)
	info, err := Probe(t.Context(), t.TempDir())
	require.NoError(t, err)

	// No cache folder can be made: the list still comes, nothing is written.
	blocked := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocked, nil, 0o644))
	ports, err := info.Ports(t.Context(), WithCacheDir(blocked))
	require.NoError(t, err)
	assert.NotEmpty(t, ports)

	dir := t.TempDir()
	ports, err = info.Ports(t.Context(), WithCacheDir(dir), WithoutCache())
	require.NoError(t, err)
	assert.NotEmpty(t, ports)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "WithoutCache writes nothing")

}

func TestPortsCommandFails(t *testing.T) {
	requireGo(t)
	info, err := Probe(t.Context(), t.TempDir())
	require.NoError(t, err)
	fake := filepath.Join(t.TempDir(), "go")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\necho '[]'\n"), 0o755))
	broken := *info
	broken.Go = fake
	_, err = broken.Ports(t.Context(), WithoutCache())
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "listed no ports")
}

// TestPortsRealToolchain checks the real toolchain's list: linux/amd64 is
// there, first-class and with cgo, and magepack's default platforms all
// parse against it.
func TestPortsRealToolchain(t *testing.T) {
	requireGo(t)
	info, err := Probe(t.Context(), t.TempDir())
	require.NoError(t, err)
	ports, err := info.Ports(t.Context(), WithoutCache())
	require.NoError(t, err)
	i := slices.IndexFunc(ports, func(p platform.Port) bool { return p.String() == "linux/amd64" })
	require.GreaterOrEqual(t, i, 0, "linux/amd64 missing from %v", ports)
	assert.True(t, ports[i].FirstClass, "linux/amd64 should be first-class")
	assert.True(t, ports[i].CgoSupported, "linux/amd64 should support cgo")
	got, err := platform.Parse("", ports, info.GOVERSION)
	require.NoError(t, err, "the default platforms must exist in the real toolchain")
	assert.Len(t, got, 5)
}
