package engine

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// saveManifest is one entry of a docker-save tarball's manifest.json.
type saveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// writeSave writes img as the docker-save tarball the Engine API's image
// load reads: the config blob, every layer as a plain tar, and
// manifest.json naming them and the tag. The engine takes a layer plain or
// compressed, and checks it against the config's DiffIDs either way, so the
// image ID (the config digest) is the one a registry would show; sending
// the layers plain saves compressing them, which costs more than the load
// itself. A layer whose size is not known without reading it (a base read
// from the engine) goes through a temporary file first, since a tar entry
// states its size up front.
func writeSave(w io.Writer, tag name.Tag, img v1.Image) error {
	cfgName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("config digest: %w", err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("layers: %w", err)
	}
	tw := tar.NewWriter(w)
	m := saveManifest{Config: cfgName.Hex + ".json", RepoTags: []string{tag.String()}}
	if err := writeEntry(tw, m.Config, int64(len(raw)), bytes.NewReader(raw)); err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return fmt.Errorf("layer %d: diff ID: %w", i, err)
		}
		file := diffID.Hex + ".tar"
		m.Layers = append(m.Layers, file)
		if seen[file] {
			continue
		}
		seen[file] = true
		if err := writeLayer(tw, file, l); err != nil {
			return fmt.Errorf("layer %d (%s): %w", i, diffID, err)
		}
	}
	mb, err := json.Marshal([]saveManifest{m})
	if err != nil {
		return err
	}
	if err := writeEntry(tw, "manifest.json", int64(len(mb)), bytes.NewReader(mb)); err != nil {
		return err
	}
	return tw.Close()
}

// writeLayer writes l's uncompressed tar as the entry file.
func writeLayer(tw *tar.Writer, file string, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if sized, ok := l.(interface{ UncompressedSize() (int64, error) }); ok {
		if n, err := sized.UncompressedSize(); err == nil {
			return writeEntry(tw, file, n, rc)
		}
	}
	spool, err := os.CreateTemp("", "magepack-layer-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	n, err := io.Copy(spool, rc)
	if err != nil {
		return err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return writeEntry(tw, file, n, spool)
}

// writeEntry writes one regular file of size bytes from r, and fails if r
// holds another number of bytes.
func writeEntry(tw *tar.Writer, file string, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: file, Size: size, Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: %d bytes, %d announced", file, n, size)
	}
	return nil
}
