package rebuild

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Index compares a published multi-platform index with its rebuild,
// named artifact: each platform image (Image), in the published index's
// order, then the index's own manifest. The first platform that differs
// gives the result; an error only when either cannot be read.
func Index(artifact string, published, rebuilt v1.ImageIndex, opts ...Option) (Result, error) {
	res := Result{Artifact: artifact}
	pd, err := published.Digest()
	if err != nil {
		return res, fmt.Errorf("read the published %s: %w", artifact, err)
	}
	rd, err := rebuilt.Digest()
	if err != nil {
		return res, fmt.Errorf("read the rebuilt %s: %w", artifact, err)
	}
	res.Published, res.Rebuilt = pd.String(), rd.String()
	if res.Identical = pd == rd; res.Identical {
		return res, nil
	}
	pm, err := published.IndexManifest()
	if err != nil {
		return res, err
	}
	rm, err := rebuilt.IndexManifest()
	if err != nil {
		return res, err
	}
	for _, d := range pm.Manifests {
		if d.Platform == nil || !d.MediaType.IsImage() {
			continue
		}
		plat := d.Platform.String()
		rdesc, ok := findPlatform(rm.Manifests, *d.Platform)
		if !ok {
			res.Level, res.Platform = LevelMissing, plat
			res.Differences = []Difference{{What: "platform " + plat, How: "missing", Published: d.Digest.String()}}
			return res, nil
		}
		if rdesc.Digest == d.Digest {
			continue
		}
		pi, err := published.Image(d.Digest)
		if err != nil {
			return res, err
		}
		ri, err := rebuilt.Image(rdesc.Digest)
		if err != nil {
			return res, err
		}
		sub, err := Image(artifact, pi, ri, opts...)
		if err != nil {
			return res, fmt.Errorf("%s: %w", plat, err)
		}
		sub.Published, sub.Rebuilt, sub.Platform = res.Published, res.Rebuilt, plat
		return sub, nil
	}
	if len(rm.Manifests) != len(pm.Manifests) {
		res.Level = LevelIndex
		res.Differences = []Difference{{What: "manifests", Published: fmt.Sprint(len(pm.Manifests)), Rebuilt: fmt.Sprint(len(rm.Manifests))}}
		return res, nil
	}
	pr, err := published.RawManifest()
	if err != nil {
		return res, err
	}
	rr, err := rebuilt.RawManifest()
	if err != nil {
		return res, err
	}
	res.Level, res.Differences = LevelIndex, JSON("", pr, rr)
	return res, nil
}

func findPlatform(ds []v1.Descriptor, p v1.Platform) (v1.Descriptor, bool) {
	for _, d := range ds {
		if d.Platform != nil && d.Platform.Equals(p) {
			return d, true
		}
	}
	return v1.Descriptor{}, false
}

// Image compares a published image with its rebuild, named artifact: each
// layer by digest (for the first that differs, its first differing file),
// then the config (its first differing field), then the manifest. An
// error only when either cannot be read.
func Image(artifact string, published, rebuilt v1.Image, opts ...Option) (Result, error) {
	res := Result{Artifact: artifact}
	pd, err := published.Digest()
	if err != nil {
		return res, err
	}
	rd, err := rebuilt.Digest()
	if err != nil {
		return res, err
	}
	res.Published, res.Rebuilt = pd.String(), rd.String()
	if res.Identical = pd == rd; res.Identical {
		return res, nil
	}
	pls, err := published.Layers()
	if err != nil {
		return res, err
	}
	rls, err := rebuilt.Layers()
	if err != nil {
		return res, err
	}
	for i := 0; i < max(len(pls), len(rls)); i++ {
		if i >= len(pls) || i >= len(rls) {
			res.Level, res.Part = LevelLayer, fmt.Sprintf("%d", i+1)
			res.Differences = []Difference{{What: "layers", Published: fmt.Sprint(len(pls)), Rebuilt: fmt.Sprint(len(rls))}}
			return res, nil
		}
		pld, err := pls[i].Digest()
		if err != nil {
			return res, err
		}
		rld, err := rls[i].Digest()
		if err != nil {
			return res, err
		}
		if pld == rld {
			continue
		}
		res.Level, res.Part = LevelLayer, fmt.Sprintf("%d (%s)", i+1, short(pld.String()))
		if res.Differences, err = Layer(pls[i], rls[i], opts...); err != nil {
			return res, fmt.Errorf("layer %d: %w", i+1, err)
		}
		return res, nil
	}
	pc, err := published.RawConfigFile()
	if err != nil {
		return res, err
	}
	rc, err := rebuilt.RawConfigFile()
	if err != nil {
		return res, err
	}
	if d := JSON("", pc, rc); len(d) > 0 {
		res.Level, res.Differences = LevelConfig, d
		return res, nil
	}
	pm, err := published.RawManifest()
	if err != nil {
		return res, err
	}
	rm, err := rebuilt.RawManifest()
	if err != nil {
		return res, err
	}
	res.Level, res.Differences = LevelManifest, JSON("", pm, rm)
	return res, nil
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

// entry is one file of a layer: its header and its content's SHA-256,
// and its content when it may be a Go binary.
type entry struct {
	hdr  *tar.Header
	sum  string
	data []byte
}

// Layer says how two layers differ: the first file, by path, that one
// has and the other has not, or whose content, mode, owner or
// modification time differs. A Go binary whose content differs is
// explained by its build information (BinaryBytes), each difference
// named after the file.
func Layer(published, rebuilt v1.Layer, opts ...Option) ([]Difference, error) {
	pe, err := entries(published)
	if err != nil {
		return nil, fmt.Errorf("read the published layer: %w", err)
	}
	re, err := entries(rebuilt)
	if err != nil {
		return nil, fmt.Errorf("read the rebuilt layer: %w", err)
	}
	for _, n := range unionKeys(pe, re) {
		p, pok := pe[n]
		r, rok := re[n]
		switch {
		case !rok:
			return []Difference{{What: n, How: "missing", Published: p.sum}}, nil
		case !pok:
			return []Difference{{What: n, How: "missing", Rebuilt: r.sum}}, nil
		case p.sum != r.sum:
			return fileContent(n, p, r, opts), nil
		case p.hdr.Mode != r.hdr.Mode:
			return []Difference{{What: n, How: "mode", Published: fmt.Sprintf("%04o", p.hdr.Mode), Rebuilt: fmt.Sprintf("%04o", r.hdr.Mode)}}, nil
		case owner(p.hdr) != owner(r.hdr):
			return []Difference{{What: n, How: "owner", Published: owner(p.hdr), Rebuilt: owner(r.hdr)}}, nil
		case !p.hdr.ModTime.Equal(r.hdr.ModTime):
			return []Difference{{What: n, How: "mtime", Published: p.hdr.ModTime.UTC().Format("2006-01-02T15:04:05Z"), Rebuilt: r.hdr.ModTime.UTC().Format("2006-01-02T15:04:05Z")}}, nil
		}
	}
	// Same files, same headers as read: the archives differ in what tar
	// readers do not show (order, padding, compression).
	return []Difference{{What: "archive", How: "bytes"}}, nil
}

// fileContent names a file whose content differs; a Go binary's build
// information says how.
func fileContent(name string, p, r entry, opts []Option) []Difference {
	if p.data != nil && r.data != nil {
		ds := BinaryBytes(p.data, r.data, opts...)
		if ds[0].What != "bytes" {
			for i := range ds {
				ds[i].What = name + ": " + ds[i].What
			}
			return ds
		}
	}
	return []Difference{{What: name, How: "content", Published: p.sum, Rebuilt: r.sum}}
}

func owner(h *tar.Header) string {
	return fmt.Sprintf("%d:%d", h.Uid, h.Gid)
}

// executableMagic are the first bytes of the binaries whose build
// information is read: ELF.
var executableMagic = []byte("\x7fELF")

func entries(l v1.Layer) (map[string]entry, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
			data = []byte("-> " + h.Linkname)
		}
		sum := sha256.Sum256(data)
		e := entry{hdr: h, sum: "sha256:" + hex.EncodeToString(sum[:])}
		if len(data) > 4 && string(data[:4]) == string(executableMagic) {
			e.data = data
		}
		out["/"+strings.TrimPrefix(path.Clean("/"+h.Name), "/")] = e
	}
}

// JSON says where two JSON documents first differ, as a path from the
// root (prefix, then .key or ["key.with.dots"] or [i], keys in sorted
// order): one Difference, or none when they are equal as JSON.
func JSON(prefix string, published, rebuilt []byte) []Difference {
	var p, r any
	if json.Unmarshal(published, &p) != nil || json.Unmarshal(rebuilt, &r) != nil {
		if string(published) == string(rebuilt) {
			return nil
		}
		return []Difference{{What: prefix + "(not JSON)", How: "bytes"}}
	}
	if d, ok := firstDiff(prefix, p, r); ok {
		return []Difference{d}
	}
	return nil
}

func firstDiff(at string, p, r any) (Difference, bool) {
	pm, pok := p.(map[string]any)
	rm, rok := r.(map[string]any)
	if pok && rok {
		var keys []string
		for k := range pm {
			keys = append(keys, k)
		}
		for k := range rm {
			if _, ok := pm[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			pv, pin := pm[k]
			rv, rin := rm[k]
			child := jsonKey(at, k)
			if !pin || !rin {
				return Difference{What: child, Published: jsonValue(pv, pin), Rebuilt: jsonValue(rv, rin)}, true
			}
			if d, ok := firstDiff(child, pv, rv); ok {
				return d, true
			}
		}
		return Difference{}, false
	}
	pa, pok := p.([]any)
	ra, rok := r.([]any)
	if pok && rok && len(pa) == len(ra) {
		for i := range pa {
			if d, ok := firstDiff(fmt.Sprintf("%s[%d]", at, i), pa[i], ra[i]); ok {
				return d, true
			}
		}
		return Difference{}, false
	}
	pj, _ := json.Marshal(p)
	rj, _ := json.Marshal(r)
	if string(pj) == string(rj) {
		return Difference{}, false
	}
	if at == "" {
		at = "."
	}
	return Difference{What: at, Published: jsonValue(p, true), Rebuilt: jsonValue(r, true)}, true
}

func jsonKey(at, k string) string {
	if strings.ContainsAny(k, ".[]\" ") || k == "" {
		return fmt.Sprintf("%s[%q]", at, k)
	}
	if at == "" {
		return k
	}
	return at + "." + k
}

// jsonValue shows a value: a string as it is, anything else as JSON, ""
// for absent.
func jsonValue(v any, present bool) string {
	if !present {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
