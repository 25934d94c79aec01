package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/internal/joined"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/verify"
)

// Verify checks the signatures and attestations of what this checkout shipped against MAGEPACK_VERIFY_KEY (default: the public half of MAGEPACK_SIGN_KEY): the images in dist/oci, the images publish pushed, and the binaries in dist/.
//
// Every image and index must carry a signature of its digest and a SLSA
// provenance signed by the key, every statement signed by the key must
// name the digest it is attached to, the SBOM the provenance names must be
// the one attached, and the provenance must name HEAD's commit. Each
// binary must have its signed provenance beside it
// (dist/<binary>.sigstore.json) naming its SHA-256 and the SBOM beside it. One line per image or
// binary says the verdict; any failure exits 9, naming the check and the
// artifact. A magefile checks any other image reference with
// verify.Image (package tasks/verify).
func Verify(ctx context.Context) error { return target(ctx, (*run).verify) }

// verifyKey reads MAGEPACK_VERIFY_KEY; without it, a run that signs
// checks with its own key's public half.
func (r *run) verifyKey() (any, error) {
	spec := r.p.opts.verifyKey
	if spec == "" {
		if pub := attest.PublicKey(r.p.opts.signer); pub != nil {
			r.log.printf("verify", "checking with the public half of MAGEPACK_SIGN_KEY (MAGEPACK_VERIFY_KEY is not set)")
			return pub, nil
		}
		return nil, plan.Bad("MAGEPACK_VERIFY_KEY", errors.New("no public key to verify with: set MAGEPACK_VERIFY_KEY to the path of cosign.pub (or the PEM itself)"))
	}
	key, err := attest.LoadPublicKey(spec)
	if err != nil {
		return nil, plan.Bad("MAGEPACK_VERIFY_KEY", err)
	}
	return key, nil
}

func (r *run) verify(ctx context.Context) error {
	p := r.p
	key, err := r.verifyKey()
	if err != nil {
		return err
	}
	opts := []verify.Option{verify.WithCommit(p.Version.Commit)}
	m, err := dist.ReadManifest(p.Dist)
	if err != nil {
		return plan.Bad("MAGEPACK_DIST", err)
	}
	var errs []error
	checked := 0
	for _, b := range m.Binaries {
		path := filepath.Join(p.Root, filepath.FromSlash(b.Path))
		if _, err := os.Stat(path); err != nil {
			continue
		}
		v, err := verify.Binary(path, key, opts...)
		var vs []verify.Verdict
		if err == nil {
			v.Artifact = p.rel(path)
			vs = append(vs, v)
		}
		errs = append(errs, r.verdicts(vs, relFailure(p, err)))
		checked++
	}
	layout := filepath.Join(p.Dist, "oci")
	if _, err := os.Stat(filepath.Join(layout, "index.json")); err == nil {
		vs, err := verify.Layout(ctx, layout, key, opts...)
		// Name the layout as the user knows it: dist/oci.
		abs, rel := filepath.ToSlash(layout), filepath.ToSlash(p.rel(layout))
		for i := range vs {
			vs[i].Artifact = rel + strings.TrimPrefix(vs[i].Artifact, abs)
		}
		for _, e := range joined.Errors(err) {
			var f *verify.Failure
			if errors.As(e, &f) {
				f.Artifact = rel + strings.TrimPrefix(f.Artifact, abs)
			}
		}
		errs = append(errs, r.verdicts(vs, err))
		checked++
	}
	seen := map[string]bool{}
	for _, ps := range m.Pushed {
		ref := ps.Reference
		if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
			ref = ref[:i]
		}
		ref += "@" + ps.Digest
		if seen[ref] {
			continue
		}
		seen[ref] = true
		vs, err := verify.Image(ctx, ref, key, opts...)
		errs = append(errs, r.verdicts(vs, err))
		checked++
	}
	if checked == 0 {
		return plan.Bad("", fmt.Errorf("nothing to verify in %s: run crossCompile or publish with MAGEPACK_SIGN_KEY set first", p.rel(p.Dist)))
	}
	return errors.Join(errs...)
}

// relFailure names a binary by its path relative to the module root.
func relFailure(p *project, err error) error {
	var f *verify.Failure
	if errors.As(err, &f) {
		f.Artifact = p.rel(f.Artifact)
	}
	return err
}

// verdicts prints one line per artifact, passed or failed, and returns
// the failures.
func (r *run) verdicts(vs []verify.Verdict, err error) error {
	for _, v := range vs {
		if v.Artifact == "" {
			continue
		}
		what := v.Artifact
		if v.Platform != "" {
			what += " (" + v.Platform + ")"
		}
		r.log.printf("verify", "%s: %s", what, v)
	}
	for _, e := range joined.Errors(err) {
		var f *verify.Failure
		if errors.As(e, &f) {
			r.log.printf("verify", "%s: FAILED %s check: %s", f.Artifact, f.Check, f.Detail)
		}
	}
	return err
}
