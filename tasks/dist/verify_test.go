package dist

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/shard"
)

var (
	apiLinux   = shard.Job{Service: "api", Platform: "linux/amd64"}
	apiWindows = shard.Job{Service: "api", Platform: "windows/amd64"}
	wrkLinux   = shard.Job{Service: "worker", Platform: "linux/amd64"}
	allJobs    = []shard.Job{apiLinux, apiWindows, wrkLinux}
)

func testBuild(built ...shard.Job) Build {
	return Build{
		Commit: "0123456789abcdef0123456789abcdef01234567", Version: "1.2.3", Toolchain: "go1.26.8",
		ConfigDigest: "sha256:aaaa", Config: []string{"api: env CGO_ENABLED=0"},
		Jobs: allJobs, Built: built,
	}
}

// fileName is the binary name crossCompile gives job.
func fileName(job shard.Job) string {
	osName, arch, _ := strings.Cut(job.Platform, "/")
	name := job.Service + "_" + osName + "_" + arch
	if osName == "windows" {
		name += ".exe"
	}
	return name
}

// writeDist writes a dist folder as a build of b would leave it: a binary
// per built job (its content names the job), SHA256SUMS and artifacts.json.
func writeDist(t *testing.T, dir string, b Build) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	m := Manifest{Build: &b}
	var files []string
	for _, job := range b.Built {
		name := fileName(job)
		data := []byte("binary of " + job.String())
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o755))
		sum, err := Sum(filepath.Join(dir, name))
		require.NoError(t, err)
		osName, arch, _ := strings.Cut(job.Platform, "/")
		m.PutBinary(Binary{Service: job.Service, Path: "dist/" + name, OS: osName, Arch: arch, Size: int64(len(data)), SHA256: sum})
		files = append(files, name)
	}
	require.NoError(t, WriteChecksums(dir, files))
	require.NoError(t, WriteManifest(dir, m))
}

func TestManifestBuildRecord(t *testing.T) {
	dir := t.TempDir()
	b := testBuild(wrkLinux, apiWindows, apiLinux, apiLinux)
	b.Shard = "1/2"
	b.Jobs = []shard.Job{wrkLinux, apiWindows, apiLinux}
	require.NoError(t, WriteManifest(dir, Manifest{Build: &b}))
	assert.Equal(t, []shard.Job{wrkLinux, apiWindows, apiLinux}, b.Jobs, "writing does not reorder the caller's record")
	m, err := ReadManifest(dir)
	require.NoError(t, err)
	require.NotNil(t, m.Build)
	assert.Equal(t, []shard.Job{apiLinux, wrkLinux, apiWindows}, m.Build.Jobs, "jobs by platform, then service")
	assert.Equal(t, []shard.Job{apiLinux, wrkLinux, apiWindows}, m.Build.Built, "deduplicated")
	assert.Equal(t, "1/2", m.Build.Shard)
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	require.NoError(t, err)
	for _, key := range []string{`"build": {`, `"shard": "1/2"`, `"commit"`, `"toolchain": "go1.26.8"`, `"config_digest": "sha256:aaaa"`, `"jobs": [`, `"built": [`, `"platform": "windows/amd64"`} {
		assert.Contains(t, string(data), key)
	}

	t.Run("folders from before the record read without one", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"schema_version": 2, "binaries": []}`), 0o644))
		m, err := ReadManifest(dir)
		require.NoError(t, err)
		assert.Nil(t, m.Build)
		data, err := EncodeManifest(m)
		require.NoError(t, err)
		assert.NotContains(t, string(data), `"build"`)
	})
}

func TestDifferences(t *testing.T) {
	want := testBuild()
	have := want
	have.Shard, have.Built = "2/3", []shard.Job{apiLinux}
	assert.Empty(t, Differences(have, want), "shard and built jobs are not differences")
	have.Commit, have.ConfigDigest = "fedcba", "sha256:bbbb"
	assert.Equal(t, []Difference{
		{Field: "commit", Have: "fedcba", Want: want.Commit},
		{Field: "config_digest", Have: "sha256:bbbb", Want: "sha256:aaaa"},
	}, Differences(have, want))
}

func TestFormatChecksumsIsWhatWriteChecksumsWrites(t *testing.T) {
	dir := t.TempDir()
	writeDist(t, dir, testBuild(allJobs...))
	written, err := os.ReadFile(filepath.Join(dir, ChecksumsFile))
	require.NoError(t, err)
	sums, err := ParseChecksums(written)
	require.NoError(t, err)
	assert.Len(t, sums, 3)
	assert.Equal(t, string(written), string(FormatChecksums(sums)))
}

func TestParseChecksums(t *testing.T) {
	const h = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	tests := []struct {
		name string
		in   string
		want map[string]string
		err  string
	}{
		{name: "text mode", in: h + "  app_linux_amd64\n", want: map[string]string{"app_linux_amd64": h}},
		{name: "binary mode, CRLF, blank line", in: h + " *app.exe\r\n\n", want: map[string]string{"app.exe": h}},
		{name: "spaces in name", in: h + "  name with spaces\n", want: map[string]string{"name with spaces": h}},
		{name: "empty", in: "", want: map[string]string{}},
		{name: "one space", in: h + " app\n", err: `line 1 "` + h + ` app" is not`},
		{name: "short sum", in: "abc  app\n", err: "line 1"},
		{name: "upper-case sum", in: strings.ToUpper(h) + "  app\n", err: "line 1"},
		{name: "no name", in: h + "  \n", err: "line 1"},
		{name: "path", in: h + "  sub/app\n", err: `names "sub/app", not a plain file name`},
		{name: "escaped name", in: `\` + h + "  a\\nb\n", err: "line 1"},
		{name: "duplicate", in: h + "  app\n" + h + "  app\n", err: `line 2 lists "app" a second time`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseChecksums([]byte(tc.in))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func FuzzParseChecksums(f *testing.F) {
	f.Add([]byte("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  app\n"))
	f.Add([]byte("x *y\r\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sums, err := ParseChecksums(data)
		if err != nil {
			return
		}
		// What parses formats back to something that parses to the same.
		again, err := ParseChecksums(FormatChecksums(sums))
		if err != nil {
			t.Fatalf("formatted sums do not parse: %v", err)
		}
		if len(again) != len(sums) {
			t.Fatalf("roundtrip lost entries: %v vs %v", sums, again)
		}
		for k, v := range sums {
			if again[k] != v {
				t.Fatalf("roundtrip changed %q", k)
			}
		}
	})
}

func TestVerifyChecksums(t *testing.T) {
	dir := t.TempDir()
	writeDist(t, dir, testBuild(allJobs...))
	sums, err := VerifyChecksums(dir)
	require.NoError(t, err)
	assert.Len(t, sums, 3)

	original, err := Sum(filepath.Join(dir, fileName(apiLinux)))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, fileName(apiLinux)), []byte("tampered"), 0o755))
	require.NoError(t, os.Remove(filepath.Join(dir, fileName(wrkLinux))))
	sums, err = VerifyChecksums(dir)
	require.Error(t, err)
	assert.Equal(t, []string{fileName(apiWindows)}, keys(sums), "the good file still verifies")
	var ce *ChecksumError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, fileName(apiLinux), ce.File)
	assert.Equal(t, original, ce.Want)
	tamperedSum, _ := Sum(filepath.Join(dir, fileName(apiLinux)))
	assert.Equal(t, tamperedSum, ce.Got)
	assert.Contains(t, err.Error(), filepath.Join(dir, fileName(apiLinux))+" has sha256 "+tamperedSum+", but SHA256SUMS says "+original)
	assert.Contains(t, err.Error(), filepath.Join(dir, fileName(wrkLinux))+" is listed in SHA256SUMS")
	assert.ErrorIs(t, err, fs.ErrNotExist)

	require.NoError(t, os.Remove(filepath.Join(dir, ChecksumsFile)))
	_, err = VerifyChecksums(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, ChecksumsFile))
}

func keys(m map[string]string) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name  string
		build Build
		spoil func(t *testing.T, dir string)
		ok    []shard.Job // verified binaries
		errs  []string    // each must appear; none when empty
		is    error
	}{
		{name: "whole run", build: testBuild(allJobs...), ok: []shard.Job{apiLinux, wrkLinux, apiWindows}},
		{name: "a shard", build: testBuild(apiWindows), ok: []shard.Job{apiWindows}},
		{name: "a shard that took nothing", build: testBuild(), ok: nil},
		{
			name: "no artifacts.json", build: testBuild(apiLinux),
			spoil: func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, ManifestFile))) },
			errs:  []string{"has no artifacts.json: it is not the dist folder of a magepack build"}, is: ErrNoRecord,
		},
		{
			name: "no build record", build: testBuild(apiLinux),
			spoil: func(t *testing.T, dir string) {
				require.NoError(t, Update(dir, func(m *Manifest) error { m.Build = nil; return nil }))
			},
			errs: []string{"has no build record in its artifacts.json"}, is: ErrNoRecord,
		},
		{
			name: "tampered binary", build: testBuild(apiLinux, apiWindows),
			spoil: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, fileName(apiLinux)), []byte("evil"), 0o755))
			},
			ok: []shard.Job{apiWindows}, errs: []string{fileName(apiLinux) + " has sha256 ", "but SHA256SUMS says"},
		},
		{
			name: "artifacts.json disagrees with SHA256SUMS", build: testBuild(apiLinux),
			spoil: func(t *testing.T, dir string) {
				require.NoError(t, Update(dir, func(m *Manifest) error { m.Binaries[0].SHA256 = strings.Repeat("0", 64); return nil }))
			},
			errs: []string{"but artifacts.json says " + strings.Repeat("0", 64)},
		},
		{
			name: "binary not in SHA256SUMS", build: testBuild(apiLinux, apiWindows),
			spoil: func(t *testing.T, dir string) {
				require.NoError(t, WriteChecksums(dir, []string{fileName(apiWindows)}))
			},
			ok: []shard.Job{apiWindows}, errs: []string{"records api linux/amd64 as built, but its binary api_linux_amd64 is not in SHA256SUMS"},
		},
		{
			name: "no binary entry", build: testBuild(apiLinux, apiWindows),
			spoil: func(t *testing.T, dir string) {
				require.NoError(t, Update(dir, func(m *Manifest) error { m.Binaries = m.Binaries[:1]; return nil }))
			},
			ok: []shard.Job{apiLinux}, errs: []string{"records api windows/amd64 as built, but artifacts.json lists no binary for it"},
		},
		{
			name: "no SHA256SUMS", build: testBuild(apiLinux),
			spoil: func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, ChecksumsFile))) },
			errs:  []string{ChecksumsFile + ": open"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "dist-1")
			writeDist(t, dir, tc.build)
			if tc.spoil != nil {
				tc.spoil(t, dir)
			}
			v, err := Verify(dir)
			var got []shard.Job
			for _, b := range v.Binaries {
				got = append(got, b.Job)
				assert.Equal(t, filepath.Join(dir, fileName(b.Job)), b.File)
				assert.Equal(t, b.Job.Service, b.Binary.Service)
			}
			assert.Equal(t, tc.ok, got)
			if len(tc.errs) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, e := range tc.errs {
				assert.Contains(t, err.Error(), e)
			}
			assert.Contains(t, err.Error(), dir, "names the folder")
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
		})
	}
}

func TestFindPrebuilt(t *testing.T) {
	want := testBuild()
	tests := []struct {
		name    string
		build   Build
		spoil   func(t *testing.T, dir string)
		present []shard.Job
		missing []shard.Job
		other   string // an *OtherBuildError with this text
		changed string // a *ChecksumError with this text
	}{
		{name: "everything", build: testBuild(allJobs...), present: []shard.Job{apiLinux, wrkLinux, apiWindows}},
		{name: "merged record of shards", build: func() Build { b := testBuild(allJobs...); b.Shard = ""; return b }(), present: []shard.Job{apiLinux, wrkLinux, apiWindows}},
		{name: "some", build: testBuild(apiWindows), present: []shard.Job{apiWindows}, missing: []shard.Job{apiLinux, wrkLinux}},
		{
			name: "another commit", build: func() Build { b := testBuild(allJobs...); b.Commit = "fedcba"; return b }(),
			missing: []shard.Job{apiLinux, wrkLinux, apiWindows}, other: `holds binaries of another build: commit "fedcba" (this build's is "0123456789abcdef0123456789abcdef01234567")`,
		},
		{
			name: "other flags", build: func() Build { b := testBuild(allJobs...); b.ConfigDigest = "sha256:bbbb"; return b }(),
			missing: []shard.Job{apiLinux, wrkLinux, apiWindows}, other: `config_digest "sha256:bbbb" (this build's is "sha256:aaaa")`,
		},
		{
			name: "another toolchain", build: func() Build { b := testBuild(allJobs...); b.Toolchain = "go1.25.4"; return b }(),
			missing: []shard.Job{apiLinux, wrkLinux, apiWindows}, other: `toolchain "go1.25.4"`,
		},
		{
			name: "no record", build: testBuild(allJobs...),
			spoil: func(t *testing.T, dir string) {
				require.NoError(t, Update(dir, func(m *Manifest) error { m.Build = nil; return nil }))
			},
			missing: []shard.Job{apiLinux, wrkLinux, apiWindows}, other: "records no build",
		},
		{
			name: "changed binary", build: testBuild(allJobs...),
			spoil: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, fileName(wrkLinux)), []byte("rebuilt by hand"), 0o755))
			},
			present: []shard.Job{apiLinux, apiWindows}, missing: []shard.Job{wrkLinux}, changed: fileName(wrkLinux) + " has sha256",
		},
		{
			name: "deleted binary", build: testBuild(allJobs...),
			spoil:   func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, fileName(wrkLinux)))) },
			present: []shard.Job{apiLinux, apiWindows}, missing: []shard.Job{wrkLinux},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "dist")
			writeDist(t, dir, tc.build)
			if tc.spoil != nil {
				tc.spoil(t, dir)
			}
			p, err := FindPrebuilt(dir, want)
			if tc.other != "records no build" {
				require.NotNil(t, p.Build, "the folder's record")
				assert.Equal(t, tc.build.Commit, p.Build.Commit)
			}
			var present []shard.Job
			for _, b := range p.Present {
				present = append(present, b.Job)
			}
			assert.Equal(t, tc.present, present)
			assert.Equal(t, tc.missing, p.Missing)
			switch {
			case tc.other != "":
				require.ErrorIs(t, err, ErrOtherBuild)
				assert.Contains(t, err.Error(), tc.other)
			case tc.changed != "":
				var ce *ChecksumError
				require.True(t, errors.As(err, &ce), "a *ChecksumError: %v", err)
				assert.Contains(t, err.Error(), tc.changed)
				assert.NotErrorIs(t, err, ErrOtherBuild)
			default:
				require.NoError(t, err)
			}
		})
	}
}
