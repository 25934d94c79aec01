package dist

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadManifestMissingIsEmpty(t *testing.T) {
	m, err := ReadManifest(t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, Manifest{SchemaVersion: SchemaVersion}, m)
}

func TestManifestRoundtrip(t *testing.T) {
	dir := t.TempDir()
	want := Manifest{
		SchemaVersion: SchemaVersion,
		Binaries: []Binary{
			{Path: "dist/app_linux_amd64", OS: "linux", Arch: "amd64", Size: 123, SHA256: "ab", Linkage: "static", Libc: "none", GoVersion: "go1.26.8", CGO: "0", BuildMode: "exe", SBOM: "dist/app_linux_amd64.cdx.json"},
			{Path: "dist/app_linux_arm64", OS: "linux", Arch: "arm64", Size: 456, SHA256: "cd", Linkage: "dynamic", Interpreter: "/lib/ld-musl-aarch64.so.1", Needed: []string{"libc.musl-aarch64.so.1"}, Libc: "musl"},
		},
		Images: []Image{{Reference: "app:1.2.3-scratch", Variant: "scratch", Platform: "linux/amd64", ID: "sha256:11", ConfigDigest: "sha256:22", ManifestDigest: "sha256:33", Size: 789, Tags: []string{"app:scratch"}}},
		Checks: []Check{{Name: "scratch", Subject: "dist/app_linux_amd64", OK: true}},
		Pushed: []Pushed{{Reference: "registry.example/app:1.2.3-scratch", Digest: "sha256:44"}},
	}
	require.NoError(t, WriteManifest(dir, want))
	got, err := ReadManifest(dir)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	require.NoError(t, err)
	for _, key := range []string{`"schema_version": 2`, `"service"`, `"go_version"`, `"build_mode"`, `"config_digest"`, `"manifest_digest"`, `"interpreter"`, `"sbom": "dist/app_linux_amd64.cdx.json"`} {
		assert.Contains(t, string(data), key, "lower_snake JSON names")
	}
}

func TestUpdate(t *testing.T) {
	dir := t.TempDir()
	put := func(m *Manifest) error {
		m.PutBinary(Binary{Path: "dist/b", SHA256: "1"})
		m.PutBinary(Binary{Path: "dist/a", SHA256: "1"})
		m.PutImage(Image{Reference: "app:z"})
		m.PutImage(Image{Reference: "app:a"})
		m.PutCheck(Check{Name: "scratch", Subject: "dist/b"})
		m.PutCheck(Check{Name: "alpine", Subject: "dist/b"})
		m.PutCheck(Check{Name: "scratch", Subject: "dist/a"})
		m.PutPushed(Pushed{Reference: "r/app:2", Digest: "d1"})
		m.PutPushed(Pushed{Reference: "r/app:1", Digest: "d1"})
		return nil
	}
	require.NoError(t, Update(dir, put))
	first, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	require.NoError(t, err)

	// Upserts replace by key instead of appending.
	require.NoError(t, Update(dir, func(m *Manifest) error {
		m.PutBinary(Binary{Path: "dist/a", SHA256: "2"})
		m.PutImage(Image{Reference: "app:a", ID: "sha256:new"})
		m.PutCheck(Check{Name: "scratch", Subject: "dist/a", OK: true})
		m.PutPushed(Pushed{Reference: "r/app:1", Digest: "d2"})
		return nil
	}))
	m, err := ReadManifest(dir)
	require.NoError(t, err)
	assert.Equal(t, []Binary{{Path: "dist/a", SHA256: "2"}, {Path: "dist/b", SHA256: "1"}}, m.Binaries)
	assert.Equal(t, []Image{{Reference: "app:a", ID: "sha256:new"}, {Reference: "app:z"}}, m.Images)
	assert.Equal(t, []Check{{Name: "scratch", Subject: "dist/a", OK: true}, {Name: "alpine", Subject: "dist/b"}, {Name: "scratch", Subject: "dist/b"}}, m.Checks)
	assert.Equal(t, []Pushed{{Reference: "r/app:1", Digest: "d2"}, {Reference: "r/app:2", Digest: "d1"}}, m.Pushed)

	// Same content, any insertion order: the same bytes.
	other := t.TempDir()
	require.NoError(t, Update(other, func(m *Manifest) error {
		m.PutPushed(Pushed{Reference: "r/app:1", Digest: "d1"})
		m.PutCheck(Check{Name: "scratch", Subject: "dist/a"})
		m.PutImage(Image{Reference: "app:a"})
		m.PutBinary(Binary{Path: "dist/a", SHA256: "1"})
		return put(m)
	}))
	second, err := os.ReadFile(filepath.Join(other, ManifestFile))
	require.NoError(t, err)
	assert.Equal(t, string(first), string(second))

	t.Run("fn error leaves the file alone", func(t *testing.T) {
		before, err := os.ReadFile(filepath.Join(dir, ManifestFile))
		require.NoError(t, err)
		boom := errors.New("boom")
		err = Update(dir, func(m *Manifest) error {
			m.Binaries = nil
			return boom
		})
		require.ErrorIs(t, err, boom)
		after, err := os.ReadFile(filepath.Join(dir, ManifestFile))
		require.NoError(t, err)
		assert.Equal(t, string(before), string(after))
	})
}

func TestReadManifestErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string
	}{
		{name: "not JSON", data: "{not json", want: "remove the file, the next run writes it again"},
		{name: "newer schema", data: `{"schema_version": 99}`, want: "schema_version 99 is newer than this magepack reads (2)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ManifestFile)
			require.NoError(t, os.WriteFile(path, []byte(tc.data), 0o644))
			_, err := ReadManifest(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), path)
			err = Update(dir, func(*Manifest) error { return nil })
			require.Error(t, err, "Update refuses to overwrite a manifest it cannot read")
		})
	}
}

func TestSetWarnings(t *testing.T) {
	dir := t.TempDir()
	cgo := func(subject string) Warning {
		return Warning{Service: "notes", Name: "cgo", Subject: subject, Message: subject + " has C code"}
	}
	glibc := Warning{Service: "notes", Name: "static-glibc", Subject: "dist/notes_linux_arm64", Message: "dlopen"}
	require.NoError(t, Update(dir, func(m *Manifest) error {
		m.SetWarnings("static-glibc", func(Warning) bool { return true }, []Warning{glibc})
		m.SetWarnings("cgo", func(Warning) bool { return true }, []Warning{cgo("z.example/b"), cgo("a.example/a")})
		return nil
	}))
	m, err := ReadManifest(dir)
	require.NoError(t, err)
	assert.Equal(t, []Warning{cgo("a.example/a"), cgo("z.example/b"), glibc}, m.Warnings, "sorted by kind, then subject")

	// A later build's verdict replaces the warnings of its kind it covers,
	// and leaves the others.
	require.NoError(t, Update(dir, func(m *Manifest) error {
		m.SetWarnings("cgo", func(w Warning) bool { return w.Subject == "z.example/b" }, nil)
		return nil
	}))
	m, err = ReadManifest(dir)
	require.NoError(t, err)
	assert.Equal(t, []Warning{cgo("a.example/a"), glibc}, m.Warnings)

	require.NoError(t, Update(dir, func(m *Manifest) error {
		m.SetWarnings("cgo", func(Warning) bool { return true }, nil)
		m.SetWarnings("static-glibc", func(Warning) bool { return true }, nil)
		return nil
	}))
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	require.NoError(t, err)
	assert.NotContains(t, string(data), `"warnings"`, "omitted when there are none")
}
