package verify

import (
	"errors"
	"io/fs"
	"os"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/sbom"
)

// BundleSuffix is the file a binary's signed provenance is written to,
// beside it: dist/app_linux_amd64.sigstore.json.
const BundleSuffix = ".sigstore.json"

// Binary verifies the binary at path against its signed provenance, the
// Sigstore bundle at path+BundleSuffix: signed by the key, naming the
// binary's SHA-256, the SBOM beside it (when it names one) and
// (WithCommit) the commit. It returns a *Failure
// naming the check that failed.
func Binary(path string, key any, opts ...Option) (Verdict, error) {
	v := Verdict{Artifact: path}
	o, err := makeOptions(key, opts)
	if err != nil {
		return v, err
	}
	fail := func(c Check, format string, args ...any) (Verdict, error) {
		return v, failure(path, c, format, args...)
	}
	data, err := os.ReadFile(path + BundleSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return fail(CheckProvenance, "no %s beside it: crossCompile writes it when a signing key is set", path+BundleSuffix)
	}
	if err != nil {
		return fail(CheckRead, "%w", err)
	}
	sum, err := dist.Sum(path)
	if err != nil {
		return fail(CheckRead, "%w", err)
	}
	v.Unverified = o.unverified
	st, err := o.open(data)
	if errors.Is(err, attest.ErrBadSignature) {
		return fail(CheckSignature, "%s is not signed by the key", path+BundleSuffix)
	}
	if err != nil {
		return fail(CheckRead, "%s: %w", path+BundleSuffix, err)
	}
	named := false
	for _, s := range st.Subject {
		named = named || s.Digest["sha256"] == sum
	}
	if !named {
		return fail(CheckSubject, "the provenance names %s, but the binary's SHA-256 is %s: the binary was replaced, or the provenance is another binary's", subjects(st), sum)
	}
	prov, err := attest.ReadProvenance(st)
	if err != nil {
		return fail(CheckProvenance, "%v", err)
	}
	v.Commit, v.Provenance = prov.Commit(), prov
	if o.commit != "" && v.Commit != o.commit {
		return fail(CheckCommit, "the provenance names commit %s, want %s", v.Commit, o.commit)
	}
	if v.SBOM = prov.SBOMDigest(); v.SBOM != "" {
		bom := sbom.FileName(path)
		got, err := dist.Sum(bom)
		if errors.Is(err, fs.ErrNotExist) {
			return fail(CheckSBOM, "the provenance names SBOM sha256:%s, but there is no %s beside the binary", short(v.SBOM), bom)
		}
		if err != nil {
			return fail(CheckRead, "%w", err)
		}
		if got != v.SBOM {
			return fail(CheckSBOM, "the provenance names SBOM sha256:%s, but %s is sha256:%s: it was replaced after signing", short(v.SBOM), bom, short(got))
		}
	}
	return v, nil
}
