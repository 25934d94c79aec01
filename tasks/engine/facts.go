package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// InspectLabel marks every container Facts creates (value "1"), so
// leftovers of a killed process can be found and removed. Such containers
// are never started.
const InspectLabel = "magepack.inspect"

// The C libraries Facts tells apart (ImageFacts.Libc).
const (
	LibcGlibc = "glibc"
	LibcMusl  = "musl"
	LibcNone  = "none"
)

// ImageFacts are what Facts measured about an image.
type ImageFacts struct {
	// ID is the engine's image ID ("sha256:…").
	ID string
	// Size is the image size in bytes, as the engine reports it (what
	// `docker images` shows).
	Size int64
	// Layers is the number of filesystem layers (the config's rootfs diff IDs).
	Layers int
	// Shell reports whether /bin/sh exists and, following symlinks, is a
	// file.
	Shell bool
	// PackageManager reports whether a package manager is installed: apk,
	// apt/dpkg, or dnf/microdnf/yum/rpm (see packageManagers).
	PackageManager bool
	// CABundle reports whether /etc/ssl/certs/ca-certificates.crt exists
	// and, following symlinks, is a file.
	CABundle bool
	// Libc is the C library the image provides: LibcGlibc (a libc.so.6 in
	// a lib folder), LibcMusl (a /lib/ld-musl-*.so.1 loader) or LibcNone.
	// An image with both (Debian with its musl package) is LibcGlibc.
	Libc string
	// User is the user the image runs as, from its config, e.g.
	// "65532:65532"; "" means root.
	User string
	// Files is the number of regular files (hard links included) in the
	// image's filesystem; the empty files the engine adds to every
	// container (/.dockerenv, /etc/hosts, …) are not counted.
	Files int
}

// Facts measures image ref as it is in the engine, without running
// anything inside it (a scratch image has no shell to run): it reads the
// image's size, layer count and user from the engine, then creates a
// container of it that is never started (no network, labelled
// InspectLabel), exports that container's filesystem once and walks it.
// The container is always removed, also when ctx is cancelled.
//
// Facts fails with an error matching ErrImageNotFound when the engine
// lacks ref, and with a wrapped engine or context error when the container
// cannot be created, exported or removed.
func (e *Engine) Facts(ctx context.Context, ref string) (ImageFacts, error) {
	return e.facts(ctx, ref, nil)
}

// facts is Facts; afterCreate (may be nil) is called with the container's
// ID once it exists, so tests can cancel at that point.
func (e *Engine) facts(ctx context.Context, ref string, afterCreate func(id string)) (f ImageFacts, err error) {
	info, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return f, e.inspectErr(ref, err)
	}
	f = ImageFacts{ID: info.ID, Size: info.Size, Layers: len(info.RootFS.Layers)}
	if info.Config != nil {
		f.User = info.Config.User
	}

	opts := client.ContainerCreateOptions{
		Name: "magepack-inspect-" + randomHex(6),
		Config: &container.Config{
			Image: info.ID, // the ID, so a tag moved meanwhile cannot swap the image
			// Never run; set only because the engine refuses to create a
			// container of an image without entrypoint and command.
			Entrypoint:      []string{"/magepack-inspect-never-started"},
			Labels:          map[string]string{InspectLabel: "1"},
			NetworkDisabled: true,
		},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	}
	if info.Os != "" && info.Architecture != "" {
		// The image's own platform, so a foreign-architecture image is
		// taken as it is rather than judged against the engine's.
		opts.Platform = &ocispec.Platform{OS: info.Os, Architecture: info.Architecture, Variant: info.Variant}
	}
	created, err := e.cli.ContainerCreate(ctx, opts)
	if err != nil {
		return f, fmt.Errorf("facts of image %s: create a container to read its filesystem: %w", ref, err)
	}
	defer func() {
		// A fresh context: Ctrl-C (a cancelled ctx) must still remove it.
		rmCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, rmErr := e.cli.ContainerRemove(rmCtx, created.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("facts of image %s: remove container %s: %w; remove it with docker rm -f %s", ref, opts.Name, rmErr, opts.Name))
		}
	}()
	if afterCreate != nil {
		afterCreate(created.ID)
	}

	export, err := e.cli.ContainerExport(ctx, created.ID, client.ContainerExportOptions{})
	if err != nil {
		return f, fmt.Errorf("facts of image %s: export the filesystem of container %s: %w", ref, opts.Name, err)
	}
	defer export.Close()
	fsys, err := readRootfs(export)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return f, fmt.Errorf("facts of image %s: read the filesystem of container %s: %w", ref, opts.Name, err)
	}
	fsys.fill(&f)
	return f, nil
}

// packageManagers are the paths whose presence means a package manager is
// installed.
var packageManagers = []string{
	"sbin/apk", "usr/sbin/apk", "usr/bin/apk", "sbin/apk.static",
	"usr/bin/apt-get", "usr/bin/apt", "usr/bin/dpkg",
	"usr/bin/dnf", "usr/bin/microdnf", "usr/bin/yum", "usr/bin/rpm",
}

// Where the C libraries' marker files live. glibc is recognised by its
// libc.so.6 rather than its loader: Alpine's gcompat adds an
// ld-linux-*.so.2 on top of musl.
var (
	muslPatterns  = []string{"lib/ld-musl-*.so.1", "usr/lib/ld-musl-*.so.1"}
	glibcPatterns = []string{"lib*/libc.so.6", "lib*/*/libc.so.6", "usr/lib*/libc.so.6", "usr/lib*/*/libc.so.6"}
)

// initFiles are the empty files (mode 0755) the engine's init layer adds to
// every container's filesystem when the image lacks them.
var initFiles = map[string]bool{
	".dockerenv": true, "etc/hostname": true, "etc/hosts": true,
	"etc/resolv.conf": true, "dev/console": true,
}

// rootfs is a container filesystem as read from its export: every path
// (cleaned, without a leading "/") and its tar entry type.
type rootfs struct {
	entries map[string]fsEntry
	files   int
}

// fsEntry is one path of a rootfs.
type fsEntry struct {
	typ  byte   // tar.TypeReg, TypeLink (hard link), TypeSymlink, TypeDir, …
	link string // a symlink's target
}

// readRootfs reads a filesystem tar stream (a container export). Parent
// folders missing from the stream are taken as folders.
func readRootfs(r io.Reader) (*rootfs, error) {
	fsys := &rootfs{entries: map[string]fsEntry{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fsys, nil
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" {
			continue
		}
		if h.Typeflag == tar.TypeReg && h.Size == 0 && h.Mode&0o777 == 0o755 && initFiles[name] {
			continue // added by the engine, not part of the image
		}
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := fsys.entries[d]; ok {
				break
			}
			fsys.entries[d] = fsEntry{typ: tar.TypeDir}
		}
		fsys.entries[name] = fsEntry{typ: h.Typeflag, link: h.Linkname}
		if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeLink {
			fsys.files++
		}
	}
}

// fill sets f's filesystem facts.
func (fsys *rootfs) fill(f *ImageFacts) {
	f.Files = fsys.files
	f.Shell = fsys.isFile("bin/sh")
	f.CABundle = fsys.isFile("etc/ssl/certs/ca-certificates.crt")
	for _, p := range packageManagers {
		if fsys.isFile(p) {
			f.PackageManager = true
			break
		}
	}
	f.Libc = LibcNone
	switch {
	case fsys.anyFile(glibcPatterns):
		f.Libc = LibcGlibc
	case fsys.anyFile(muslPatterns):
		f.Libc = LibcMusl
	}
}

// anyFile reports whether a path matching one of patterns (path.Match,
// against the paths as stored) is, following symlinks, a file.
func (fsys *rootfs) anyFile(patterns []string) bool {
	for name := range fsys.entries {
		for _, p := range patterns {
			if ok, _ := path.Match(p, name); ok && fsys.isFile(name) {
				return true
			}
		}
	}
	return false
}

// isFile reports whether p (relative to the root) names a regular file or
// a hard link, following symlinks in every component as the kernel would
// inside the container (absolute targets start at the container's root).
func (fsys *rootfs) isFile(p string) bool {
	e, ok := fsys.lookup(p)
	return ok && (e.typ == tar.TypeReg || e.typ == tar.TypeLink)
}

// maxSymlinks is how many symlinks lookup follows before giving up, as
// Linux's ELOOP limit.
const maxSymlinks = 40

// lookup resolves p, following symlinks, and returns the entry it ends at;
// false for a missing path, a non-folder used as a folder, or a loop.
func (fsys *rootfs) lookup(p string) (fsEntry, bool) {
	todo := splitPath(p)
	cur := "" // resolved so far, "" is the root
	hops := 0
	for len(todo) > 0 {
		part := todo[0]
		todo = todo[1:]
		if part == ".." {
			if cur = path.Dir(cur); cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, part)
		e, ok := fsys.entries[next]
		if !ok {
			return fsEntry{}, false
		}
		if e.typ == tar.TypeSymlink {
			if hops++; hops > maxSymlinks {
				return fsEntry{}, false
			}
			if strings.HasPrefix(e.link, "/") {
				cur = ""
			}
			todo = append(splitPath(e.link), todo...)
			continue
		}
		if len(todo) > 0 && e.typ != tar.TypeDir {
			return fsEntry{}, false
		}
		cur = next
	}
	if cur == "" {
		return fsEntry{typ: tar.TypeDir}, true
	}
	return fsys.entries[cur], true
}

// splitPath splits p into its components, dropping empty ones and ".".
func splitPath(p string) []string {
	parts := strings.Split(p, "/")
	out := parts[:0]
	for _, s := range parts {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}
