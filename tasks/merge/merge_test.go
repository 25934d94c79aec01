package merge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/atomicfile"
	"github.com/magepack/magepack/tasks/shard"
)

var runJobs = shard.Sort([]shard.Job{
	{Service: "api", Platform: "linux/amd64"}, {Service: "api", Platform: "linux/arm64"}, {Service: "api", Platform: "windows/amd64"},
	{Service: "worker", Platform: "linux/amd64"}, {Service: "worker", Platform: "linux/arm64"},
})

func record(spec shard.Spec) dist.Build {
	return dist.Build{
		Shard: spec.String(), Commit: "0123456789abcdef0123456789abcdef01234567", Version: "1.2.3", Toolchain: "go1.26.8",
		ConfigDigest: "sha256:1111", Config: []string{"api: env CGO_ENABLED=0", "api: go build -trimpath ./cmd/api", "worker: env CGO_ENABLED=0", "worker: go build -trimpath ./cmd/worker"},
		Jobs: runJobs, Built: shard.Select(spec, runJobs).Taken,
	}
}

func fileName(job shard.Job) string {
	osName, arch, _ := strings.Cut(job.Platform, "/")
	name := job.Service + "_" + osName + "_" + arch
	if osName == "windows" {
		name += ".exe"
	}
	return name
}

// content is the bytes a part holds for job: the same in every part, as a
// reproducible build gives.
func content(job shard.Job) []byte {
	return []byte("binary of " + job.String() + strings.Repeat(".", 1000))
}

// writePart writes dir as a shard's crossCompile leaves its dist folder:
// its binaries, SHA256SUMS over them and artifacts.json with the build
// record, binary paths as the shard named them ("dist/<name>").
func writePart(t *testing.T, dir string, b dist.Build) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	m := dist.Manifest{Build: &b}
	var files []string
	for _, job := range b.Built {
		name := fileName(job)
		data := content(job)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o755))
		sum, err := dist.Sum(filepath.Join(dir, name))
		require.NoError(t, err)
		osName, arch, _ := strings.Cut(job.Platform, "/")
		m.PutBinary(dist.Binary{Service: job.Service, Path: "dist/" + name, OS: osName, Arch: arch, Size: int64(len(data)), SHA256: sum, Linkage: "static"})
		m.PutCheck(dist.Check{Service: job.Service, Name: "scratch", Subject: "dist/" + name, OK: true})
		files = append(files, name)
	}
	require.NoError(t, dist.WriteChecksums(dir, files))
	require.NoError(t, dist.WriteManifest(dir, m))
}

// threeShards writes the parts dist-1..dist-3 of a run split three ways
// into root and returns their folders.
func threeShards(t *testing.T, root string) []string {
	var dirs []string
	for k := 1; k <= 3; k++ {
		d := filepath.Join(root, "dist-"+string(rune('0'+k)))
		writePart(t, d, record(shard.Spec{K: k, N: 3}))
		dirs = append(dirs, d)
	}
	return dirs
}

// snapshot returns every file under dir with its content, for "nothing
// changed" checks.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		files[p] = string(data)
		return nil
	})
	return files
}

func TestMerge(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	parts := threeShards(t, root)
	dest := filepath.Join(root, "dist")
	plan, err := Merge(ctx, parts, dest, "dist")
	require.NoError(t, err)
	assert.Equal(t, "5 jobs from 3 parts: "+parts[0]+" (shard 1/3, 2 jobs), "+parts[1]+" (shard 2/3, 2 jobs), "+parts[2]+" (shard 3/3, 1 job)", plan.String())

	var names []string
	for _, job := range runJobs {
		name := fileName(job)
		names = append(names, name)
		data, err := os.ReadFile(filepath.Join(dest, name))
		require.NoError(t, err)
		assert.Equal(t, string(content(job)), string(data))
		fi, err := os.Stat(filepath.Join(dest, name))
		require.NoError(t, err)
		if runtime.GOOS != "windows" {
			assert.Equal(t, os.FileMode(0o755), fi.Mode().Perm(), name)
		}
	}

	// SHA256SUMS: the bytes WriteChecksums (what crossCompile calls) gives
	// for the same binaries.
	merged, err := os.ReadFile(filepath.Join(dest, dist.ChecksumsFile))
	require.NoError(t, err)
	single := filepath.Join(root, "single")
	require.NoError(t, os.MkdirAll(single, 0o755))
	for _, job := range runJobs {
		require.NoError(t, os.WriteFile(filepath.Join(single, fileName(job)), content(job), 0o755))
	}
	require.NoError(t, dist.WriteChecksums(single, names))
	want, err := os.ReadFile(filepath.Join(single, dist.ChecksumsFile))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(merged))

	m, err := dist.ReadManifest(dest)
	require.NoError(t, err)
	require.NotNil(t, m.Build)
	whole := record(shard.Spec{})
	whole.Merged = []string{"1/3", "2/3", "3/3"}
	assert.Equal(t, whole, *m.Build, "the record of a whole run (no shard, every job built), merged from three shards")
	require.Len(t, m.Binaries, 5)
	for _, b := range m.Binaries {
		assert.True(t, strings.HasPrefix(b.Path, "dist/"), b.Path)
		assert.NotEmpty(t, b.Service)
		assert.Equal(t, "static", b.Linkage, "the parts' entries are kept")
	}
	assert.Empty(t, m.Checks, "checks of the parts are not carried over")

	v, err := dist.Verify(dest)
	require.NoError(t, err, "the merged folder verifies")
	assert.Len(t, v.Binaries, 5)
	p, err := dist.FindPrebuilt(dest, record(shard.Spec{}))
	require.NoError(t, err)
	require.NotNil(t, p.Build)
	assert.Equal(t, whole.Merged, p.Build.Merged, "a caller can tell merged binaries")
	assert.Len(t, p.Present, 5)
	assert.Empty(t, p.Missing)
	assert.Empty(t, tempFiles(t, dest))

	t.Run("again gives the same bytes", func(t *testing.T) {
		before := snapshot(t, dest)
		_, err := Merge(ctx, parts, dest, "dist")
		require.NoError(t, err)
		assert.Equal(t, before, snapshot(t, dest))
	})
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, atomicfile.TempPrefix+"*"))
	require.NoError(t, err)
	return m
}

// TestMergeRefuses covers every reason to refuse: each names what is wrong
// and nothing is written to the destination.
func TestMergeRefuses(t *testing.T) {
	ctx := context.Background()
	other := func(k int, change func(*dist.Build)) func(t *testing.T, parts []string) {
		return func(t *testing.T, parts []string) {
			b := record(shard.Spec{K: k, N: 3})
			change(&b)
			require.NoError(t, os.RemoveAll(parts[k-1]))
			writePart(t, parts[k-1], b)
		}
	}
	tests := []struct {
		name  string
		spoil func(t *testing.T, parts []string)
		as    any // a pointer to the error type expected among the problems
		want  []string
	}{
		{
			name: "a tampered binary",
			spoil: func(t *testing.T, parts []string) {
				require.NoError(t, os.WriteFile(filepath.Join(parts[1], "api_linux_arm64"), []byte("evil"), 0o755))
			},
			as:   new(*dist.ChecksumError),
			want: []string{"dist-2/api_linux_arm64 has sha256 ", ", but SHA256SUMS says "},
		},
		{
			name:  "a part from another commit",
			spoil: other(3, func(b *dist.Build) { b.Commit = "fedcba9876543210fedcba9876543210fedcba98" }),
			as:    new(*MismatchError),
			want:  []string{"the parts come from different commits: 0123456789abcdef0123456789abcdef01234567 (", "dist-1, ", "dist-2) vs fedcba9876543210fedcba9876543210fedcba98 (", "dist-3)"},
		},
		{
			name:  "a part with another version",
			spoil: other(1, func(b *dist.Build) { b.Version = "1.2.4" }),
			as:    new(*MismatchError),
			want:  []string{"different versions: 1.2.4 (", "dist-1) vs 1.2.3 (", "dist-2, "},
		},
		{
			name:  "a part built by another toolchain",
			spoil: other(2, func(b *dist.Build) { b.Toolchain = "go1.25.4" }),
			as:    new(*MismatchError),
			want:  []string{"different Go toolchains: go1.26.8 (", "dist-1, ", "dist-3) vs go1.25.4 (", "dist-2)"},
		},
		{
			name: "a part built with other flags",
			spoil: other(3, func(b *dist.Build) {
				b.ConfigDigest = "sha256:2222"
				b.Config = append(b.Config[:len(b.Config):len(b.Config)], "api: env GOAMD64=v3")
			}),
			as:   new(*MismatchError),
			want: []string{"different build configurations: sha256:1111 (", "dist-2) vs sha256:2222 (", "only in " + "", "dist-3: api: env GOAMD64=v3"},
		},
		{
			name: "a missing shard",
			spoil: func(t *testing.T, parts []string) {
				require.NoError(t, os.RemoveAll(parts[1]))
			},
			as: new(*GapError),
			want: []string{
				"2 jobs of the run are in no part: api linux/arm64 (shard 2/3 should have built it), worker linux/arm64 (shard 2/3 should have built it)",
				"no part of shard 2/3 was given",
			},
		},
		{
			name: "a shard whose build lost a binary",
			spoil: func(t *testing.T, parts []string) {
				require.NoError(t, dist.Update(parts[2], func(m *dist.Manifest) error {
					m.Build.Built = nil
					return nil
				}))
			},
			as:   new(*GapError),
			want: []string{"1 job of the run is in no part: api windows/amd64 (shard 3/3 should have built it); run the shard that should have built them again"},
		},
		{
			name: "the same job with different bytes",
			spoil: func(t *testing.T, parts []string) {
				// A fourth part, a whole run whose api linux/amd64 differs.
				whole := filepath.Join(filepath.Dir(parts[0]), "dist-4")
				writePart(t, whole, record(shard.Spec{}))
				require.NoError(t, os.WriteFile(filepath.Join(whole, "api_linux_amd64"), []byte("other bytes"), 0o755))
				require.NoError(t, dist.WriteChecksums(whole, []string{"api_linux_amd64", "api_linux_arm64", "api_windows_amd64.exe", "worker_linux_amd64", "worker_linux_arm64"}))
				require.NoError(t, dist.Update(whole, func(m *dist.Manifest) error {
					sum, err := dist.Sum(filepath.Join(whole, "api_linux_amd64"))
					for i := range m.Binaries {
						if m.Binaries[i].Path == "dist/api_linux_amd64" {
							m.Binaries[i].SHA256 = sum
						}
					}
					return err
				}))
			},
			as:   new(*ConflictError),
			want: []string{"job api linux/amd64 was built by more than one part with different bytes: sha256 ", "dist-1 vs sha256 ", "dist-4"},
		},
		{
			name: "a part without a build record",
			spoil: func(t *testing.T, parts []string) {
				require.NoError(t, dist.Update(parts[0], func(m *dist.Manifest) error { m.Build = nil; return nil }))
			},
			as:   new(*dist.NoRecordError),
			want: []string{"dist-1 has no build record", "records no build, so nothing in it can fill them"},
		},
		{
			name: "a folder that is no part",
			spoil: func(t *testing.T, parts []string) {
				require.NoError(t, os.Remove(filepath.Join(parts[0], dist.ManifestFile)))
			},
			as:   new(*dist.NoRecordError),
			want: []string{"dist-1 has no artifacts.json"},
		},
		{
			name: "a part of another run",
			spoil: other(2, func(b *dist.Build) {
				b.Jobs = append(shard.Sort(b.Jobs), shard.Job{Service: "api", Platform: "darwin/arm64"})
			}),
			as:   new(*MismatchError),
			want: []string{"different runs (job lists): 5 jobs (", "dist-3) vs 6 jobs (", "only in ", "dist-2: api darwin/arm64"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			parts := threeShards(t, root)
			tc.spoil(t, parts)
			dest := filepath.Join(root, "dist")
			require.NoError(t, os.MkdirAll(dest, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dest, dist.ChecksumsFile), []byte("previous good\n"), 0o644))
			before := snapshot(t, dest)

			given, err := Expand("dist-*", root)
			require.NoError(t, err)
			_, err = Merge(ctx, given, dest, "dist")
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrRefused)
			var re *RefusedError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, given, re.Parts)
			require.True(t, errors.As(err, tc.as), "%T among the problems: %v", tc.as, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			t.Log(err)
			assert.Contains(t, err.Error(), "nothing written")
			for _, p := range re.Problems {
				assert.ErrorIs(t, p, ErrRefused, "every problem is a refusal: %v", p)
			}
			assert.Equal(t, before, snapshot(t, dest), "nothing written to the destination")
		})
	}
}

func TestMergeAccepts(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		specs  []shard.Spec
		merged []string
	}{
		{name: "one whole run", specs: []shard.Spec{{}}, merged: []string{"all"}},
		{name: "two of two", specs: []shard.Spec{{K: 2, N: 2}, {K: 1, N: 2}}, merged: []string{"1/2", "2/2"}},
		{name: "a shard again and the whole run: same bytes", specs: []shard.Spec{{K: 1, N: 2}, {}, {K: 1, N: 2}}, merged: []string{"all", "1/2"}},
		{name: "splits of different sizes that cover the run", specs: []shard.Spec{{K: 1, N: 2}, {K: 3, N: 3}, {K: 2, N: 3}}, merged: []string{"1/2", "2/3", "3/3"}},
		{name: "more shards than jobs", specs: []shard.Spec{{K: 1, N: 6}, {K: 2, N: 6}, {K: 3, N: 6}, {K: 4, N: 6}, {K: 5, N: 6}, {K: 6, N: 6}}, merged: []string{"1/6", "2/6", "3/6", "4/6", "5/6", "6/6"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var dirs []string
			for i, s := range tc.specs {
				d := filepath.Join(root, "part"+string(rune('a'+i)))
				writePart(t, d, record(s))
				dirs = append(dirs, d)
			}
			dest := filepath.Join(root, "out")
			plan, err := Merge(ctx, dirs, dest, "")
			require.NoError(t, err)
			assert.Len(t, plan.Binaries, len(runJobs))
			m, err := dist.ReadManifest(dest)
			require.NoError(t, err)
			assert.Equal(t, filepath.ToSlash(dest)+"/api_linux_amd64", m.Binaries[0].Path, "no prefix: the folder as given")
			assert.Equal(t, tc.merged, m.Build.Merged)
			_, err = dist.Verify(dest)
			require.NoError(t, err)
		})
	}
}

func TestMergeIntoAPart(t *testing.T) {
	root := t.TempDir()
	parts := threeShards(t, root)
	before := snapshot(t, root)
	_, err := Merge(context.Background(), parts, parts[1], "dist")
	require.ErrorIs(t, err, ErrDestIsPart)
	assert.Contains(t, err.Error(), parts[1])
	assert.Equal(t, before, snapshot(t, root), "no lock file, nothing")
}

// TestWritePartChangedAfterDecide changes a part between the checks and
// the write: the copy is re-hashed, the write refused, nothing renamed.
func TestWritePartChangedAfterDecide(t *testing.T) {
	root := t.TempDir()
	parts := threeShards(t, root)
	plan, err := Decide(Read(parts))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(parts[2], "api_windows_amd64.exe"), []byte("swapped"), 0o755))
	dest := filepath.Join(root, "dist")
	err = Write(context.Background(), plan, dest, "dist")
	require.ErrorIs(t, err, ErrRefused)
	var ce *dist.ChecksumError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "api_windows_amd64.exe", ce.File)
	entries, err := os.ReadDir(dest)
	require.NoError(t, err)
	assert.Empty(t, entries, "no binary, no temporary file")
}

func TestWriteCancelled(t *testing.T) {
	root := t.TempDir()
	plan, err := Decide(Read(threeShards(t, root)))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dest := filepath.Join(root, "dist")
	err = Write(ctx, plan, dest, "dist")
	require.ErrorIs(t, err, context.Canceled)
	entries, err := os.ReadDir(dest)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestDecideNoParts(t *testing.T) {
	_, err := Decide(nil)
	require.EqualError(t, err, "no parts to merge")
}

func TestCheckFits(t *testing.T) {
	plan, err := Decide(Read(threeShards(t, t.TempDir())))
	require.NoError(t, err)
	want := record(shard.Spec{})
	require.NoError(t, CheckFits(plan, want))
	want.Toolchain, want.Commit = "go1.25.4", "fedcba"
	err = CheckFits(plan, want)
	require.ErrorIs(t, err, ErrRefused)
	var ce *CheckoutError
	require.ErrorAs(t, err, &ce)
	assert.Len(t, ce.Differences, 2)
	assert.Contains(t, err.Error(), `commit "0123456789abcdef0123456789abcdef01234567" (this checkout: "fedcba"), toolchain "go1.26.8" (this checkout: "go1.25.4")`)
}
