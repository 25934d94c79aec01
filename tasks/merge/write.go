package merge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/atomicfile"
)

// Write writes plan into the folder dir (created if missing): each binary
// (mode 0755), SHA256SUMS (the bytes a single-machine build writes for the
// same binaries) and artifacts.json with the binaries' entries, paths
// recorded as pathPrefix + "/" + name (pathPrefix "" records dir itself,
// slash-separated), and the merged build record. It replaces
// artifacts.json as a whole: images, checks and pushes recorded there
// before belong to other binaries. Other files in dir are left alone.
//
// Everything is first written to temporary files in dir, each binary
// re-hashed as it is copied, and only then renamed into place, binaries
// first and artifacts.json last; a copy whose bytes are not the verified
// ones (the part changed since Read) fails the whole write with a
// *RefusedError and nothing renamed. Hold dir's dist.Lock while calling
// it. It returns an error wrapping ErrDestIsPart when dir is one of the
// parts, and errors naming the file for I/O failures.
func Write(ctx context.Context, plan Plan, dir, pathPrefix string) (err error) {
	if err := checkDest(plan, dir); err != nil {
		return err
	}
	if pathPrefix == "" {
		pathPrefix = filepath.ToSlash(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("merge into %q: %w", dir, err)
	}
	var staged []*atomicfile.Pending
	defer func() {
		for _, p := range staged {
			_ = p.Discard()
		}
	}()
	stage := func(name string, write func(io.Writer) error) error {
		p, err := atomicfile.New(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		staged = append(staged, p)
		f, err := os.OpenFile(p.Path, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return fmt.Errorf("write %s: %w", p.Target, err)
		}
		if err := write(f); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", p.Target, err)
		}
		return nil
	}

	m := dist.Manifest{Build: &plan.Build}
	sums := map[string]string{}
	var changed []error
	var perms []os.FileMode // of each staged file, in order
	copyVerified := func(part, src, want string, perm os.FileMode) (string, error) {
		name := filepath.Base(src)
		err := stage(name, func(w io.Writer) error {
			sum, err := copyHashed(w, src)
			if err != nil {
				return err
			}
			if sum != want {
				changed = append(changed, &dist.ChecksumError{Dir: part, File: name, Listed: dist.ChecksumsFile, Want: want, Got: sum})
			}
			return nil
		})
		perms = append(perms, perm)
		sums[name] = want
		return name, err
	}
	for _, s := range plan.Binaries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("merge into %q: %w", dir, err)
		}
		name, err := copyVerified(s.Part, s.File, s.Binary.SHA256, 0o755)
		if err != nil {
			return fmt.Errorf("merge into %q: %w", dir, err)
		}
		b := s.Binary
		b.Path = pathPrefix + "/" + name
		if s.SBOM != "" {
			bom, err := copyVerified(s.Part, s.SBOM, s.SBOMSHA256, 0o644)
			if err != nil {
				return fmt.Errorf("merge into %q: %w", dir, err)
			}
			b.SBOM = pathPrefix + "/" + bom
		}
		b.Provenance = ""
		if s.Provenance != "" {
			prov, err := copyVerified(s.Part, s.Provenance, s.ProvenanceSHA256, 0o644)
			if err != nil {
				return fmt.Errorf("merge into %q: %w", dir, err)
			}
			b.Provenance = pathPrefix + "/" + prov
		}
		m.PutBinary(b)
	}
	if len(changed) > 0 {
		return &RefusedError{Parts: partDirs(plan), Problems: wrapAll(changed)}
	}
	manifest, err := dist.EncodeManifest(m)
	if err != nil {
		return fmt.Errorf("merge into %q: %w", dir, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{dist.ChecksumsFile, dist.FormatChecksums(sums)}, {dist.ManifestFile, manifest}} {
		if err := stage(f.name, func(w io.Writer) error { _, err := w.Write(f.data); return err }); err != nil {
			return fmt.Errorf("merge into %q: %w", dir, err)
		}
		perms = append(perms, 0o644)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("merge into %q: %w", dir, err)
	}
	for i, p := range staged {
		if err := p.Commit(perms[i]); err != nil {
			return fmt.Errorf("merge into %q: %w", dir, err)
		}
	}
	return nil
}

// checkDest refuses a destination that is one of the parts.
func checkDest(plan Plan, dir string) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("merge into %q: %w", dir, err)
	}
	for _, p := range plan.Parts {
		if abs, err := filepath.Abs(p.Dir); err == nil && abs == absDir {
			return fmt.Errorf("merge into %q: %w; merge the parts into another folder (e.g. dist from dist-*)", dir, ErrDestIsPart)
		}
	}
	return nil
}

// copyHashed copies the file at src to w and returns its SHA-256.
func copyHashed(w io.Writer, src string) (string, error) {
	f, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), f); err != nil {
		return "", fmt.Errorf("copy %s: %w", src, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func partDirs(plan Plan) []string {
	dirs := make([]string, len(plan.Parts))
	for i, p := range plan.Parts {
		dirs[i] = p.Dir
	}
	return dirs
}

func wrapAll(errs []error) []error {
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = &partError{e}
	}
	return out
}
