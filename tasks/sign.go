package tasks

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/verify"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// loadSignKey reads MAGEPACK_SIGN_KEY (and COSIGN_PASSWORD for an
// encrypted cosign key) before any work starts; "" signs nothing.
func loadSignKey(spec string, lookup func(string) (string, bool)) (attest.Signer, error) {
	if spec == "" {
		return nil, nil
	}
	var password []byte
	if pw, ok := lookup("COSIGN_PASSWORD"); ok {
		password = []byte(pw)
	}
	s, err := attest.LoadSigner(spec, password)
	if err != nil {
		return nil, plan.Bad("MAGEPACK_SIGN_KEY", err)
	}
	return s, nil
}

// keyFix names the password variable when an encrypted key could not be
// opened.
func keyFix(err error) string {
	var e *attest.KeyError
	errors.As(err, &e)
	switch e.Problem {
	case attest.KeyNoPassword:
		return "set COSIGN_PASSWORD to its password"
	case attest.KeyWrongPassword:
		return "check COSIGN_PASSWORD"
	}
	return ""
}

// builderDefault is the builder id of a run outside CI.
const builderDefault = "https://github.com/magepack/magepack/builders/local"

// builder is who builds: the GitHub Actions workflow (its file at its
// ref, and the run as invocation) when GITHUB_ACTIONS is set, else a
// local id; and magepack's own version.
func (r *run) builder() (id, invocation string, version map[string]string) {
	id = builderDefault
	if r.getenv("GITHUB_ACTIONS") == "true" {
		server := r.getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		if ref := r.getenv("GITHUB_WORKFLOW_REF"); ref != "" {
			id = server + "/" + ref
		}
		if repo, runID := r.getenv("GITHUB_REPOSITORY"), r.getenv("GITHUB_RUN_ID"); repo != "" && runID != "" {
			invocation = fmt.Sprintf("%s/%s/actions/runs/%s/attempts/%s", server, repo, runID, r.getenv("GITHUB_RUN_ATTEMPT"))
		}
	}
	return id, invocation, map[string]string{"magepack": magepackVersion()}
}

// magepackVersion is the version of this module in the running program.
func magepackVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	const self = "github.com/magepack/magepack"
	if info.Main.Path == self {
		return info.Main.Version
	}
	for _, m := range info.Deps {
		if m.Path == self {
			return m.Version
		}
	}
	return "unknown"
}

// provenance is what a statement of buildType says of s's binary at bin:
// the settings that change the output (plus external), the commit, the
// builder, and the toolchain, modules and build settings the binary
// records.
func (r *run) provenance(s *service, bin, buildType string, external map[string]any) (attest.Build, error) {
	p := r.p
	info, err := r.once.buildInfo.do(bin, func() (*debug.BuildInfo, error) { return buildinfo.ReadFile(bin) })
	if err != nil {
		return attest.Build{}, fmt.Errorf("provenance of %s: %w", p.rel(bin), err)
	}
	ext := map[string]any{
		"service": s.name, "main": s.main, "version": p.versionString(),
		"cgo": p.opts.CGO, "ldflags": p.opts.Ldflags,
	}
	for k, v := range r.rebuildParameters(s) {
		ext[k] = v
	}
	for k, v := range external {
		ext[k] = v
	}
	b := attest.Build{
		BuildType: attest.BuildTypePrefix + buildType,
		External:  ext,
		Source:    attest.Source{URL: plan.SourceURL(p.ModulePath), Commit: p.Version.Commit},
	}
	b.FromBuildInfo(info)
	b.BuilderID, b.InvocationID, b.BuilderVersion = r.builder()
	return b, nil
}

// rebuildParameters are the settings beyond the ones every provenance
// has always named that a rebuild needs to give the same bytes: the
// image time, the exposed port, static cgo, the build tags and the -X
// variables when not the defaults. A setting left at its zero value is
// left out.
func (r *run) rebuildParameters(s *service) map[string]any {
	o := r.p.opts
	ext := map[string]any{"created": r.p.createdStamp(), "port": s.smoke.Port}
	set := func(key, v string) {
		if v != "" {
			ext[key] = v
		}
	}
	set("buildTags", strings.Join(o.Tags, ","))
	set("versionVar", o.Vars.Version)
	set("commitVar", o.Vars.Commit)
	set("dateVar", o.Vars.Date)
	if o.CGOStatic {
		ext["cgoStatic"] = true
	}
	return ext
}

// createdStamp is the time every attestation's referrer carries: the
// image's, never the clock.
func (p *project) createdStamp() string { return p.Created.UTC().Format(time.RFC3339) }

// attestImage signs img (the planned image ip, with the SBOM bom attached
// and the OpenVEX document vex, nil for none) and returns its referrers:
// the signature of its digest, its SLSA provenance naming the SBOM (and
// VEX) as byproducts, and the SBOM (and VEX) as signed attestations, each
// a Sigstore bundle as cosign v3 attaches them.
func (r *run) attestImage(ctx context.Context, ip imagePlan, img v1.Image, bom, vex []byte, baseDigest string) ([]v1.Image, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	ext := map[string]any{"platform": ip.pl.String(), "variant": ip.variant, "tzdata": ip.spec.TZData}
	if ip.base != "" {
		ext["base"] = ip.base
	}
	b, err := r.provenance(ip.svc, ip.spec.Binary, "image/v1", ext)
	if err != nil {
		return nil, err
	}
	if ip.base != "" {
		b.Base = &attest.ResourceDescriptor{URI: "oci://" + ip.base, Digest: attest.DigestSet(baseDigest)}
	}
	ip.from.record(&b, ip.svc.image)
	b.Byproducts = []attest.ResourceDescriptor{{Name: attest.ByproductSBOM, MediaType: sbom.MediaType, Digest: attest.DigestSet(sha256Hex(bom))}}
	if vex != nil {
		b.Byproducts = append(b.Byproducts, attest.ResourceDescriptor{Name: attest.ByproductVEX, MediaType: vulncheck.MediaType, Digest: attest.DigestSet(sha256Hex(vex))})
	}
	pred, err := b.Predicate()
	if err != nil {
		return nil, err
	}
	preds := []predicate{{attest.PredicateSign, nil}, {attest.PredicateSLSA, pred}, {attest.PredicateCycloneDX, json.RawMessage(bom)}}
	if vex != nil {
		preds = append(preds, predicate{attest.PredicateOpenVEX, json.RawMessage(vex)})
	}
	return r.signReferrers(ctx, img, attest.Subject(ip.svc.image, digest.String()), preds)
}

// attestIndex signs a published index: the signature of its digest and a
// provenance naming the commit, the toolchain, the build settings its
// platforms' binaries share and the base index.
func (r *run) attestIndex(ctx context.Context, ip indexPlan, idx v1.ImageIndex, baseIndexDigest string) ([]v1.Image, error) {
	digest, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	plats := make([]string, len(ip.images))
	for i, im := range ip.images {
		plats[i] = im.pl.String()
	}
	ext := map[string]any{"platforms": strings.Join(plats, ","), "variant": ip.variant, "tags": strings.Join(ip.tags, ","), "tzdata": r.p.opts.TZData}
	b, err := r.provenance(ip.svc, ip.images[0].spec.Binary, "index/v1", ext)
	if err != nil {
		return nil, err
	}
	// The index holds every platform's binary: its internal parameters
	// are the build settings they all share (not one platform's GOARCH).
	for _, im := range ip.images[1:] {
		o, err := r.provenance(ip.svc, im.spec.Binary, "index/v1", nil)
		if err != nil {
			return nil, err
		}
		for k, v := range b.Internal {
			if o.Internal[k] != v {
				delete(b.Internal, k)
			}
		}
	}
	if ip.variant == variantAlpine {
		b.Base = &attest.ResourceDescriptor{URI: "oci://" + r.p.opts.AlpineBase, Digest: attest.DigestSet(baseIndexDigest)}
	}
	ip.from.record(&b, ip.svc.image)
	pred, err := b.Predicate()
	if err != nil {
		return nil, err
	}
	return r.signReferrers(ctx, idx, attest.Subject(ip.svc.image, digest.String()), []predicate{{attest.PredicateSign, nil}, {attest.PredicateSLSA, pred}})
}

// predicate is one statement to sign: its type and body (nil: {}).
type predicate struct {
	typ  string
	body any
}

// signReferrers signs one statement per predicate about subject and makes
// each an OCI 1.1 referrer of target.
func (r *run) signReferrers(ctx context.Context, target partial.Describable, subject attest.ResourceDescriptor, preds []predicate) ([]v1.Image, error) {
	out := make([]v1.Image, 0, len(preds))
	for _, pr := range preds {
		st, err := attest.NewStatement(pr.typ, pr.body, subject)
		if err != nil {
			return nil, err
		}
		signed, err := attest.Sign(ctx, r.p.opts.signer, st)
		if err != nil {
			return nil, err
		}
		ref, err := image.Referrer(target, image.Attachment{
			ArtifactType: attest.BundleMediaType, Data: signed,
			Annotations: attest.Annotations(st, r.p.createdStamp()),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ref)
	}
	return out, nil
}

// writeBinaryProvenance signs the provenance of the binary res built for
// j, naming its SBOM at bom as a byproduct, and writes it beside the
// binary as a Sigstore bundle (<bin>.sigstore.json, what `cosign
// verify-blob-attestation --bundle` reads). It returns the path.
func (r *run) writeBinaryProvenance(ctx context.Context, j job, res gobuild.Result, bom string) (string, error) {
	p := r.p
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("provenance of %s: %w", p.rel(res.Path), err)
	}
	b, err := r.provenance(j.svc, res.Path, "binary/v1", map[string]any{"platform": j.pl.String()})
	if err != nil {
		return fail(err)
	}
	bomData, err := os.ReadFile(bom)
	if err != nil {
		return fail(err)
	}
	b.Byproducts = []attest.ResourceDescriptor{{Name: attest.ByproductSBOM, URI: filepath.Base(bom), MediaType: sbom.MediaType, Digest: attest.DigestSet(sha256Hex(bomData))}}
	pred, err := b.Predicate()
	if err != nil {
		return fail(err)
	}
	st, err := attest.NewStatement(attest.PredicateSLSA, pred, attest.Subject(filepath.Base(res.Path), res.SHA256))
	if err != nil {
		return fail(err)
	}
	signed, err := attest.Sign(ctx, p.opts.signer, st)
	if err != nil {
		return fail(err)
	}
	path := res.Path + verify.BundleSuffix
	if err := dist.WriteFile(path, signed, 0o644); err != nil {
		return fail(err)
	}
	return path, nil
}
