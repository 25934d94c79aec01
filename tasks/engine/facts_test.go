package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
)

// fsEntryT is one tar entry of a hand-made filesystem: a regular file unless
// typ says otherwise.
type fsEntryT struct {
	name string
	typ  byte   // default tar.TypeReg
	link string // symlink or hard link target
	body string
	mode int64 // default 0644
}

// rootfsTar writes entries as a tar stream, like a container export.
func rootfsTar(t *testing.T, entries ...fsEntryT) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		require.NoError(t, tw.WriteHeader(h))
		_, err := tw.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return &buf
}

func fsDir(name string) fsEntryT          { return fsEntryT{name: name, typ: tar.TypeDir, mode: 0o755} }
func fsFile(name string) fsEntryT         { return fsEntryT{name: name, body: "x"} }
func fsSymlink(name, to string) fsEntryT  { return fsEntryT{name: name, typ: tar.TypeSymlink, link: to} }
func fsHardlink(name, to string) fsEntryT { return fsEntryT{name: name, typ: tar.TypeLink, link: to} }
func fsInitFile(name string) fsEntryT     { return fsEntryT{name: name, mode: 0o755} }
func fsEmptyFile(name string) fsEntryT    { return fsEntryT{name: name} }
func fsBody(name, body string) fsEntryT   { return fsEntryT{name: name, body: body} }

func TestReadRootfs(t *testing.T) {
	tests := []struct {
		name    string
		entries []fsEntryT
		want    ImageFacts
	}{
		{
			name: "alpine-like: busybox shell, musl loader, apk, CA bundle",
			entries: []fsEntryT{
				fsDir("bin/"), fsFile("bin/busybox"), fsSymlink("bin/sh", "busybox"),
				fsDir("lib/"), fsFile("lib/ld-musl-x86_64.so.1"), fsSymlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
				fsDir("sbin/"), fsFile("sbin/apk"),
				fsDir("etc/"), fsDir("etc/ssl/"), fsDir("etc/ssl/certs/"), fsFile("etc/ssl/certs/ca-certificates.crt"),
			},
			want: ImageFacts{Shell: true, PackageManager: true, CABundle: true, Libc: LibcMusl, Files: 4},
		},
		{
			name: "debian-like usr-merge: symlinked /bin and /lib, absolute CA symlink, dpkg",
			entries: []fsEntryT{
				fsSymlink("bin", "usr/bin"), fsSymlink("lib", "usr/lib"), fsSymlink("lib64", "usr/lib64"),
				fsDir("usr/"), fsDir("usr/bin/"), fsFile("usr/bin/dash"), fsSymlink("usr/bin/sh", "dash"), fsFile("usr/bin/dpkg"),
				fsDir("usr/lib/"), fsDir("usr/lib/x86_64-linux-gnu/"), fsFile("usr/lib/x86_64-linux-gnu/libc.so.6"),
				fsDir("usr/lib64/"), fsSymlink("usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
				fsDir("usr/share/"), fsDir("usr/share/ca/"), fsFile("usr/share/ca/bundle.crt"),
				fsDir("etc/"), fsDir("etc/ssl/"), fsDir("etc/ssl/certs/"), fsSymlink("etc/ssl/certs/ca-certificates.crt", "/usr/share/ca/bundle.crt"),
			},
			want: ImageFacts{Shell: true, PackageManager: true, CABundle: true, Libc: LibcGlibc, Files: 4},
		},
		{
			name: "scratch image as magepack builds it",
			entries: []fsEntryT{
				fsDir("etc/"), fsFile("etc/passwd"), fsFile("etc/group"), fsDir("etc/ssl/"), fsDir("etc/ssl/certs/"), fsFile("etc/ssl/certs/ca-certificates.crt"),
				fsDir("home/"), fsDir("home/nonroot/"), fsDir("usr/"), fsDir("usr/local/"), fsDir("usr/local/bin/"), fsEntryT{name: "usr/local/bin/app", body: "\x7fELF", mode: 0o755},
			},
			want: ImageFacts{CABundle: true, Libc: LibcNone, Files: 4},
		},
		{
			name: "engine's init files are not counted, the image's own are",
			entries: []fsEntryT{
				fsInitFile(".dockerenv"), fsDir("dev/"), fsInitFile("dev/console"), fsDir("dev/pts/"), fsDir("proc/"),
				fsDir("etc/"), fsInitFile("etc/hosts"), fsInitFile("etc/resolv.conf"), fsSymlink("etc/mtab", "/proc/mounts"),
				fsBody("etc/hostname", "box\n"), fsEmptyFile("etc/os-release"),
			},
			want: ImageFacts{Libc: LibcNone, Files: 2},
		},
		{
			name:    "hard links count as files, folders and symlinks do not",
			entries: []fsEntryT{fsDir("data/"), fsFile("data/a"), fsHardlink("data/b", "data/a"), fsSymlink("data/c", "a"), fsDir("data/d/")},
			want:    ImageFacts{Libc: LibcNone, Files: 2},
		},
		{
			name:    "dangling /bin/sh, looping musl loader: neither counts",
			entries: []fsEntryT{fsDir("bin/"), fsSymlink("bin/sh", "/bin/bash"), fsDir("lib/"), fsSymlink("lib/ld-musl-x86_64.so.1", "ld-musl-x86_64.so.1")},
			want:    ImageFacts{Libc: LibcNone},
		},
		{
			name:    "a folder named /bin/sh is not a shell; a file used as a folder resolves to nothing",
			entries: []fsEntryT{fsDir("bin/sh/"), fsFile("etc"), fsSymlink("lib", "etc/lib")},
			want:    ImageFacts{Libc: LibcNone, Files: 1},
		},
		{
			name:    "./ prefixes and missing parent folders; .. in a symlink",
			entries: []fsEntryT{fsFile("./bin/busybox"), fsSymlink("./usr/bin/sh", "../../bin/busybox"), fsSymlink("./bin/sh", "/usr/bin/sh")},
			want:    ImageFacts{Shell: true, Libc: LibcNone, Files: 1},
		},
		{
			name:    "glibc and Debian's musl package together: glibc",
			entries: []fsEntryT{fsFile("lib/x86_64-linux-gnu/libc.so.6"), fsFile("usr/lib/x86_64-linux-musl/libc.so"), fsSymlink("lib/ld-musl-x86_64.so.1", "/usr/lib/x86_64-linux-musl/libc.so")},
			want:    ImageFacts{Libc: LibcGlibc, Files: 2},
		},
		{
			name:    "musl with gcompat's glibc loader name: musl",
			entries: []fsEntryT{fsFile("lib/ld-musl-aarch64.so.1"), fsSymlink("lib/ld-linux-aarch64.so.1", "ld-musl-aarch64.so.1"), fsFile("usr/lib/libgcompat.so.0")},
			want:    ImageFacts{Libc: LibcMusl, Files: 2},
		},
		{
			name:    "package manager found in /usr/bin too",
			entries: []fsEntryT{fsFile("usr/bin/apk")},
			want:    ImageFacts{PackageManager: true, Libc: LibcNone, Files: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fsys, err := readRootfs(rootfsTar(t, tc.entries...))
			require.NoError(t, err)
			var got ImageFacts
			fsys.fill(&got)
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("truncated stream is an error", func(t *testing.T) {
		buf := rootfsTar(t, fsBody("a", "0123456789"))
		_, err := readRootfs(io.LimitReader(buf, 520))
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
}

// factsScratchImage is a scratch image of the smoke server for arch, as
// image.Build makes it: the binary, a CA bundle, /etc/passwd and /etc/group.
func factsScratchImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	bin := smokeServerBinary(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o644))
	img, err := image.Build(image.Spec{
		Name: "factsapp", Binary: bin, OS: "linux", Arch: arch, CABundle: ca, Port: 8080,
		Created: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
	})
	require.NoError(t, err)
	return img
}

// regularFiles counts the regular files in img's layers.
func regularFiles(t *testing.T, img v1.Image) int {
	t.Helper()
	n := 0
	fixture.EachEntry(t, img, func(h *tar.Header, _ io.Reader) {
		if h.Typeflag == tar.TypeReg {
			n++
		}
	})
	return n
}

// inspectContainers lists the containers (of any state) Facts left for image id.
func inspectContainers(t *testing.T, e *Engine, id string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", InspectLabel+"=1"),
	})
	require.NoError(t, err)
	var left []string
	for _, c := range list.Items {
		if c.ImageID == id {
			left = append(left, c.ID)
		}
	}
	return left
}

func TestFactsEngine(t *testing.T) {
	e := smokeTestEngine(t)
	ctx := context.Background()
	alpine := fixture.AlpineBase(t)
	foreign := "arm64"
	if runtime.GOARCH == "arm64" {
		foreign = "amd64"
	}

	load := func(t *testing.T, arch string) (string, int) {
		img := factsScratchImage(t, arch)
		ref := "magepack-test/engine-facts:scratch-" + arch
		_, err := e.Load(ctx, img, []string{ref}, nil)
		require.NoError(t, err)
		t.Cleanup(func() { removeTestImage(t, e, ref) })
		files := regularFiles(t, img)
		require.Positive(t, files)
		return ref, files
	}

	tests := []struct {
		name string
		ref  func(t *testing.T) (ref string, files int) // files -1: more than 3
		want ImageFacts
	}{
		{
			name: "alpine-like fixture base",
			ref:  func(*testing.T) (string, int) { return alpine, -1 },
			want: ImageFacts{Shell: true, CABundle: true, Libc: LibcMusl, Layers: 1},
		},
		{
			name: "scratch image for the engine's architecture",
			ref:  func(t *testing.T) (string, int) { return load(t, runtime.GOARCH) },
			want: ImageFacts{CABundle: true, Libc: LibcNone, User: "65532:65532", Layers: 1},
		},
		{
			name: "scratch image for a foreign architecture",
			ref:  func(t *testing.T) (string, int) { return load(t, foreign) },
			want: ImageFacts{CABundle: true, Libc: LibcNone, User: "65532:65532", Layers: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, files := tc.ref(t)
			info, err := e.Inspect(ctx, ref)
			require.NoError(t, err)

			got, err := e.Facts(ctx, ref)
			require.NoError(t, err)

			if files < 0 {
				assert.Greater(t, got.Files, 3)
			} else {
				assert.Equal(t, files, got.Files, "regular files in the image's layer")
			}
			assert.Equal(t, info.ID, got.ID)
			assert.Equal(t, info.Size, got.Size)
			assert.Positive(t, got.Size)
			want := tc.want
			want.ID, want.Size, want.Files = got.ID, got.Size, got.Files
			assert.Equal(t, want, got)
			assert.Empty(t, inspectContainers(t, e, info.ID), "Facts removed its container")
		})
	}
}

func TestFactsCancelledEngine(t *testing.T) {
	e := smokeTestEngine(t)
	alpine := fixture.AlpineBase(t)
	info, err := e.Inspect(context.Background(), alpine)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var created string
	_, err = e.facts(ctx, alpine, func(id string) {
		created = id
		cancel() // as Ctrl-C right after the container exists
	})
	require.NotEmpty(t, created, "the container was created before the cancel")
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, inspectContainers(t, e, info.ID), created, "the container is removed despite the cancelled context")
}

func TestFactsMissingImageEngine(t *testing.T) {
	e := smokeTestEngine(t)
	_, err := e.Facts(context.Background(), "magepack-test/engine-facts:does-not-exist")
	assert.ErrorIs(t, err, ErrImageNotFound)
	assert.ErrorContains(t, err, "magepack-test/engine-facts:does-not-exist")
}
