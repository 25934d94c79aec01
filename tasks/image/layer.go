package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// file is one entry of the added layer. name is absolute, as seen inside
// the image.
type file struct {
	name     string
	dir      bool
	linkname string // a symlink when set
	mode     int64
	uid, gid int
	data     []byte
}

// newLayer writes files, their parent directories (0755, root) and nothing
// else into a tar with fixed owners and times, sorted by name, and returns
// it as a layer of media type mt. The same files give the same bytes, so the
// same digests. The tar stays in memory: its DiffID is computed at once,
// while the gzip stream that registries and layouts need (and the digest
// naming it) is made on first use, once (see lazyLayer).
func newLayer(files []file, mtime time.Time, mt types.MediaType) (v1.Layer, error) {
	entries := map[string]file{}
	for _, f := range files {
		name := strings.TrimPrefix(path.Clean("/"+f.name), "/")
		if name == "" {
			continue
		}
		if prev, ok := entries[name]; ok && !(prev.dir && f.dir) {
			return nil, fmt.Errorf("two layer entries for /%s", name)
		}
		f.name = name
		entries[name] = f
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = file{name: d, dir: true, mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)

	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, n := range names {
		f := entries[n]
		h := &tar.Header{
			Name:    f.name,
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.gid,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		switch {
		case f.dir:
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		case f.linkname != "":
			h.Typeflag = tar.TypeSymlink
			h.Linkname = f.linkname
		default:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("write /%s: %w", f.name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.data); err != nil {
				return nil, fmt.Errorf("write /%s: %w", f.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}

	return newLazyLayer(tarBuf.Bytes(), mt), nil
}

// lazyLayer is a layer held as its uncompressed tar. Compressing is most of
// what assembling an image costs (gzip of a 6.5 MB binary takes longer
// than everything else together) and an engine load does not need it, so
// the gzip stream is made only when something asks for the compressed form
// or its digest or size (a push, an OCI layout, the manifest digest), once,
// at the default level with no header name or time, so the bytes never
// change. The compressor is github.com/klauspost/compress's gzip: for a
// 6.5 MB Go binary it is 2.7 times as fast as the standard library's at the
// same level (0.14 s against 0.38 s here) for 2% more bytes, and still
// smaller than the standard library's fastest level, which ko uses.
type lazyLayer struct {
	tar    []byte
	diffID v1.Hash
	mt     types.MediaType

	once   sync.Once
	gz     []byte
	digest v1.Hash
	err    error
}

func newLazyLayer(data []byte, mt types.MediaType) *lazyLayer {
	sum := sha256.Sum256(data)
	return &lazyLayer{
		tar:    data,
		diffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		mt:     mt,
	}
}

// compress makes the gzip stream and its digest, once.
func (l *lazyLayer) compress() error {
	l.once.Do(func() {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		if err != nil {
			l.err = err
			return
		}
		if _, err := zw.Write(l.tar); err != nil {
			l.err = err
			return
		}
		if err := zw.Close(); err != nil {
			l.err = err
			return
		}
		l.gz = buf.Bytes()
		sum := sha256.Sum256(l.gz)
		l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	})
	return l.err
}

// Digest is the sha256 of the compressed layer (compressing it first).
func (l *lazyLayer) Digest() (v1.Hash, error) {
	if err := l.compress(); err != nil {
		return v1.Hash{}, err
	}
	return l.digest, nil
}

// DiffID is the sha256 of the uncompressed tar.
func (l *lazyLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Compressed returns the gzip stream (compressing the layer first).
func (l *lazyLayer) Compressed() (io.ReadCloser, error) {
	if err := l.compress(); err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}

// Uncompressed returns the tar.
func (l *lazyLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.tar)), nil
}

// Size is the compressed size (compressing the layer first).
func (l *lazyLayer) Size() (int64, error) {
	if err := l.compress(); err != nil {
		return 0, err
	}
	return int64(len(l.gz)), nil
}

// UncompressedSize is the size of the tar, known without compressing
// (go-containerregistry's partial.UncompressedSize asks for it).
func (l *lazyLayer) UncompressedSize() (int64, error) { return int64(len(l.tar)), nil }

// MediaType is the layer's media type (OCI or Docker gzip layer).
func (l *lazyLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// zoneInfoFiles reads time-zone data from src: a zoneinfo.zip (placed at
// ZoneInfoZip, with ZONEINFO set, which Go's time package reads first) or a
// zoneinfo directory tree (placed at ZoneInfoDir, where it looks next).
func zoneInfoFiles(src string) ([]file, []string, error) {
	fi, err := os.Stat(src)
	if err != nil {
		return nil, nil, fmt.Errorf("read time-zone data: %w: install tzdata or set the zoneinfo path in the config", err)
	}
	if fi.Mode().IsRegular() {
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, nil, fmt.Errorf("read time-zone data: %w", err)
		}
		return []file{{name: ZoneInfoZip, mode: 0o644, data: data}}, []string{"ZONEINFO=" + ZoneInfoZip}, nil
	}
	var files []file
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		name := path.Join(ZoneInfoDir, filepath.ToSlash(rel))
		switch {
		case d.IsDir():
			files = append(files, file{name: name, dir: true, mode: 0o755})
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			files = append(files, file{name: name, linkname: target, mode: 0o777})
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files = append(files, file{name: name, mode: 0o644, data: data})
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read time-zone data from %s: %w", src, err)
	}
	return files, nil, nil
}

// ReadFiles returns the contents of the regular files at paths (absolute,
// e.g. "/lib/apk/db/installed") as img's filesystem shows them, keyed by
// path: it reads the layers from the top down and honours whiteouts and
// opaque directories. A path no layer has, or one a layer deletes, is
// missing from the map. It fails when a layer cannot be read or a path is
// not a regular file (a symlink or directory).
func ReadFiles(img v1.Image, paths ...string) (map[string][]byte, error) {
	if img == nil {
		return nil, errors.New("read files of a nil image")
	}
	found, err := readImageFiles(img, paths...)
	if err != nil {
		return nil, fmt.Errorf("read %s from the image: %w", strings.Join(paths, ", "), err)
	}
	return found, nil
}

// readImageFiles returns the contents of the regular files at paths
// (absolute) as img's filesystem shows them: it reads layers from the top
// down and honours whiteouts (.wh.<name>) and opaque directories
// (.wh..wh..opq). A path that no layer has, or that a layer deletes, is
// missing from the result.
func readImageFiles(img v1.Image, paths ...string) (map[string][]byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	return readLayerFiles(layers, paths...)
}

// readLayerFiles is readImageFiles over layers, bottom first.
func readLayerFiles(layers []v1.Layer, paths ...string) (map[string][]byte, error) {
	want := map[string]bool{} // relative path -> still unresolved
	for _, p := range paths {
		want[strings.TrimPrefix(path.Clean(p), "/")] = true
	}
	found := map[string][]byte{}
	for i := len(layers) - 1; i >= 0 && len(want) > 0; i-- {
		if err := scanLayer(layers[i], want, found); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return found, nil
}

// scanLayer resolves the wanted paths that layer decides: their content if
// it holds them, or their absence if it deletes them or makes a parent
// opaque.
func scanLayer(layer v1.Layer, want map[string]bool, found map[string][]byte) error {
	rc, err := layer.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	var opaque []string
	tr := tar.NewReader(rc)
	for len(want) > 0 {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if base == ".wh..wh..opq" {
			opaque = append(opaque, dir)
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			deleted := path.Join(dir, strings.TrimPrefix(base, ".wh."))
			for w := range want {
				if w == deleted || strings.HasPrefix(w, deleted+"/") {
					delete(want, w)
				}
			}
			continue
		}
		if !want[name] {
			continue
		}
		delete(want, name)
		if h.Typeflag != tar.TypeReg {
			return fmt.Errorf("/%s is not a regular file (tar type %q): magepack reads only regular files from an image", name, h.Typeflag)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("read /%s: %w", name, err)
		}
		found["/"+name] = data
	}
	for _, d := range opaque {
		for w := range want {
			if d == "" || strings.HasPrefix(w, d+"/") {
				delete(want, w)
			}
		}
	}
	return nil
}
