package tasks

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/rebuild"
	"github.com/magepack/magepack/tasks/verify"
)

// Rebuild rebuilds what was published from its own provenance, in a temporary checkout of the recorded commit, and compares it byte for byte: the image MAGEPACK_REBUILD_REF names, else the images in dist/oci, else the binaries in dist/.
//
// Each artifact's SLSA provenance is verified against
// MAGEPACK_VERIFY_KEY when it is set, else read and said to be
// unverified. The rebuild runs in a temporary checkout of the recorded
// commit, with the recorded toolchain and settings, into a temporary
// dist; nothing in the working tree or dist/ changes but
// the report, dist/rebuild.json and dist/rebuild.md. One line per
// artifact says identical, or the first level that differs (binary,
// layer, config, manifest, index) and why: the build setting, module or
// -X value of a binary, the file of a layer, the field of a config. Any
// difference exits 9. A commit the repository lacks is a configuration
// error (exit 2) that says what to fetch.
func Rebuild(ctx context.Context) error { return target(ctx, (*run).rebuild) }

// rebuildSubject is one published artifact to rebuild: an index, or a
// binary in dist/.
type rebuildSubject struct {
	name   string // as printed and reported
	prov   attest.Provenance
	index  v1.ImageIndex // nil for a binary
	tag    string        // the tag the rebuilt layout holds the index under
	binary string        // a binary's path
}

func (r *run) rebuild(ctx context.Context) error {
	pk, verified, err := r.provenanceReader()
	if err != nil {
		return err
	}
	subjects, err := r.rebuildSubjects(ctx, pk)
	if err != nil {
		return err
	}
	if !verified {
		r.log.printf("rebuild", "MAGEPACK_VERIFY_KEY is not set: the provenance is read as it is, unverified")
	}
	rep := rebuild.Report{Verified: verified}
	groups, err := groupRebuilds(subjects)
	if err != nil {
		return err
	}
	var commits, toolchains []string
	for _, g := range groups {
		results, err := r.rebuildGroup(ctx, g)
		if err != nil {
			return err
		}
		rep.Results = append(rep.Results, results...)
		commits = appendNew(commits, g.commit)
		toolchains = appendNew(toolchains, g.settings["MAGEPACK_TOOLCHAIN"])
	}
	rep.Commit, rep.Toolchain = strings.Join(commits, ", "), strings.Join(toolchains, ", ")
	rep.Sort()
	if err := r.writeRebuildReport(ctx, rep); err != nil {
		return err
	}
	return rep.Err()
}

func appendNew(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// provenanceKey is how provenance is read: the key verify checks it
// against, or none and verify.Unverified.
type provenanceKey struct {
	key  any
	opts []verify.Option
}

// provenanceReader is MAGEPACK_VERIFY_KEY's key, or an unverified read
// without it, and whether it verifies.
func (r *run) provenanceReader() (provenanceKey, bool, error) {
	if r.p.opts.verifyKey == "" {
		return provenanceKey{opts: []verify.Option{verify.Unverified()}}, false, nil
	}
	key, err := r.verifyKey()
	if err != nil {
		return provenanceKey{}, false, err
	}
	return provenanceKey{key: key}, true, nil
}

// rebuildSubjects reads what to rebuild and its provenance: the image
// MAGEPACK_REBUILD_REF names, else every index in dist/oci, else every
// binary in dist/. A verification failure is returned as it is (exit 9).
func (r *run) rebuildSubjects(ctx context.Context, pk provenanceKey) ([]rebuildSubject, error) {
	p := r.p
	if ref := p.opts.RebuildRef; ref != "" {
		s, err := remoteSubject(ctx, ref, pk)
		return []rebuildSubject{s}, err
	}
	dir := filepath.Join(p.Dist, "oci")
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err == nil {
		return layoutSubjects(ctx, dir, filepath.ToSlash(p.rel(dir)), pk)
	}
	subjects, err := r.binarySubjects(pk)
	if err != nil {
		return nil, err
	}
	if len(subjects) == 0 {
		return nil, plan.Bad("MAGEPACK_REBUILD_REF", fmt.Errorf("nothing to rebuild: no MAGEPACK_REBUILD_REF, no %s, no binary with its provenance in %s; set MAGEPACK_REBUILD_REF to a published image, or run publish or crossCompile with MAGEPACK_SIGN_KEY set first", p.rel(dir), p.rel(p.Dist)))
	}
	return subjects, nil
}

// remoteSubject reads the index ref names in its registry and its
// provenance.
func remoteSubject(ctx context.Context, ref string, pk provenanceKey) (rebuildSubject, error) {
	s := rebuildSubject{name: ref}
	vs, err := verify.Image(ctx, ref, pk.key, pk.opts...)
	if err != nil {
		return s, err
	}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return s, plan.Bad("MAGEPACK_REBUILD_REF", fmt.Errorf("MAGEPACK_REBUILD_REF=%q: %w", ref, err))
	}
	if s.index, err = remote.Index(parsed, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
		return s, plan.Bad("MAGEPACK_REBUILD_REF", fmt.Errorf("MAGEPACK_REBUILD_REF=%q: %w; name an index publish pushed (repo:tag or repo@sha256:…)", ref, err))
	}
	return s, s.fromVerdicts(vs)
}

// fromVerdicts takes the provenance of the index (the verdict with no
// platform) and the tag its rebuild gets.
func (s *rebuildSubject) fromVerdicts(vs []verify.Verdict) error {
	for _, v := range vs {
		if v.Platform == "" {
			s.prov = v.Provenance
			tags, _ := s.prov.BuildDefinition.ExternalParameters["tags"].(string)
			s.tag, _, _ = strings.Cut(tags, ",")
			if s.tag == "" {
				return plan.Bad("", fmt.Errorf("%s: its provenance names no tags: it was not published by magepack's publish", s.name))
			}
			return nil
		}
	}
	return plan.Bad("", fmt.Errorf("%s: no provenance of the index", s.name))
}

// layoutSubjects reads every tagged index in the OCI layout at dir
// (shown as rel) and its provenance.
func layoutSubjects(ctx context.Context, dir, rel string, pk provenanceKey) ([]rebuildSubject, error) {
	vs, err := verify.Layout(ctx, dir, pk.key, pk.opts...)
	if err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	var out []rebuildSubject
	for _, v := range vs {
		if v.Platform != "" {
			continue
		}
		tagDigest := strings.TrimPrefix(v.Artifact, filepath.ToSlash(dir)+":")
		tag, digest, _ := strings.Cut(tagDigest, "@")
		h, err := v1.NewHash(digest)
		if err != nil {
			return nil, err
		}
		s := rebuildSubject{name: rel + ":" + tag}
		if s.index, err = idx.ImageIndex(h); err != nil {
			return nil, err
		}
		if err := s.fromVerdicts([]verify.Verdict{v}); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// binarySubjects reads every binary artifacts.json lists that has its
// provenance beside it.
func (r *run) binarySubjects(pk provenanceKey) ([]rebuildSubject, error) {
	p := r.p
	m, err := dist.ReadManifest(p.Dist)
	if err != nil {
		return nil, plan.Bad("", err)
	}
	var out []rebuildSubject
	for _, b := range m.Binaries {
		path := filepath.Join(p.Root, filepath.FromSlash(b.Path))
		if _, err := os.Stat(path + verify.BundleSuffix); err != nil {
			continue
		}
		v, err := verify.Binary(path, pk.key, pk.opts...)
		if err != nil {
			return nil, relFailure(p, err)
		}
		out = append(out, rebuildSubject{name: p.rel(path), prov: v.Provenance, binary: path})
	}
	return out, nil
}

// rebuildGroup is the subjects one rebuild makes: the same commit and
// settings, their variants (or platforms) merged.
type rebuildGroup struct {
	commit   string
	settings map[string]string
	subjects []rebuildSubject
}

// groupRebuilds turns each subject's provenance into a rebuild's settings
// and merges those that differ only in variant (indexes) or platform
// (binaries), so each commit is built once.
func groupRebuilds(subjects []rebuildSubject) ([]*rebuildGroup, error) {
	var groups []*rebuildGroup
	for _, s := range subjects {
		settings, err := rebuildSettings(s.prov)
		if err != nil {
			return nil, plan.Bad("", fmt.Errorf("%s: %w", s.name, err))
		}
		merged := "MAGEPACK_VARIANTS"
		if s.index == nil {
			merged = "MAGEPACK_PLATFORMS"
		}
		var g *rebuildGroup
		for _, o := range groups {
			if o.commit == s.prov.Commit() && sameExcept(o.settings, settings, merged, "MAGEPACK_ALPINE_BASE") && sameBase(o.settings, settings) {
				g = o
			}
		}
		if g == nil {
			g = &rebuildGroup{commit: s.prov.Commit(), settings: settings}
			groups = append(groups, g)
		} else {
			g.settings[merged] = joinNew(g.settings[merged], settings[merged])
			if base := settings["MAGEPACK_ALPINE_BASE"]; base != "" {
				g.settings["MAGEPACK_ALPINE_BASE"] = base
			}
		}
		g.subjects = append(g.subjects, s)
	}
	return groups, nil
}

// sameExcept reports whether a and b hold the same settings but for
// the keys skip.
func sameExcept(a, b map[string]string, skip ...string) bool {
	for k, v := range a {
		if !slices.Contains(skip, k) && b[k] != v {
			return false
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && !slices.Contains(skip, k) {
			return false
		}
	}
	return true
}

// sameBase reports whether two rebuilds can share one Alpine base: a
// scratch image names none.
func sameBase(a, b map[string]string) bool {
	x, y := a["MAGEPACK_ALPINE_BASE"], b["MAGEPACK_ALPINE_BASE"]
	return x == "" || y == "" || x == y
}

// joinNew adds the comma-separated items of more to list, once each.
func joinNew(list, more string) string {
	items := strings.Split(list, ",")
	for _, m := range strings.Split(more, ",") {
		items = appendNew(items, m)
	}
	return strings.Join(items, ",")
}

// rebuildMachineSettings are the settings a rebuild takes from this
// machine rather than from the provenance: where things are here, not
// what was built.
var rebuildMachineSettings = []string{"MAGEPACK_CA_BUNDLE", "MAGEPACK_CC", "MAGEPACK_PARALLEL", "MAGEPACK_TIMINGS"}

// rebuildGroup checks the group's commit out into a temporary folder,
// rebuilds there into a temporary dist, compares, and removes both, also
// when interrupted.
func (r *run) rebuildGroup(ctx context.Context, g *rebuildGroup) ([]rebuild.Result, error) {
	co, err := rebuild.NewCheckout(ctx, r.p.Root, g.commit)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := co.Remove(); err != nil {
			r.log.printf("rebuild", "could not remove the temporary checkout: %v", err)
		}
	}()
	settings := maps.Clone(g.settings)
	settings["MAGEPACK_DIST"] = filepath.Join(filepath.Dir(co.Dir), "magepack-rebuild-dist")
	for _, k := range rebuildMachineSettings {
		if v, ok := r.lookup(k); ok {
			settings[k] = v
		}
	}
	if ca := r.p.opts.CABundle; ca != "" {
		// A magefile's Settings.CABundle too; a relative path is this
		// checkout's, not the temporary one's.
		if abs, err := filepath.Abs(ca); err == nil {
			ca = abs
		}
		settings["MAGEPACK_CA_BUNDLE"] = ca
	}
	r.log.printf("rebuild", "rebuilding commit %s with %s in a temporary checkout", short(g.commit), settings["MAGEPACK_TOOLCHAIN"])
	inner, err := newRun(ctx, Config{}, co.Dir, withSettings(r.environ, settings), io.Discard)
	if err != nil {
		return nil, fmt.Errorf("rebuild of commit %s: %w", short(g.commit), err)
	}
	if g.subjects[0].index != nil {
		err = inner.publish(ctx)
	} else {
		err = inner.crossCompile(ctx)
	}
	r.addTimings(inner)
	if err != nil {
		return nil, fmt.Errorf("rebuild of commit %s: %w", short(g.commit), err)
	}
	return r.compareRebuilt(inner, g)
}

// addTimings adds the phases o spent to r's, so MAGEPACK_TIMINGS shows

// addTimings adds the phases o spent to r's, so MAGEPACK_TIMINGS shows
// where a rebuild's time went.
func (r *run) addTimings(o *run) {
	o.times.mu.Lock()
	defer o.times.mu.Unlock()
	r.times.mu.Lock()
	defer r.times.mu.Unlock()
	if r.times.spent == nil {
		r.times.spent = map[string]time.Duration{}
	}
	for k, d := range o.times.spent {
		r.times.spent[k] += d
	}
}

// compareRebuilt compares each subject of g with what inner rebuilt, and
// prints one line for each.
func (r *run) compareRebuilt(inner *run, g *rebuildGroup) ([]rebuild.Result, error) {
	svc := inner.p.services[0]
	ldflags, err := gobuild.Ldflags(inner.p.buildConfig(svc))
	if err != nil {
		return nil, err
	}
	opt := rebuild.WithLdflags(ldflags)
	var idx v1.ImageIndex
	if g.subjects[0].index != nil {
		if idx, err = layout.ImageIndexFromPath(filepath.Join(inner.p.Dist, "oci")); err != nil {
			return nil, err
		}
	}
	var out []rebuild.Result
	for _, s := range g.subjects {
		var res rebuild.Result
		if s.index != nil {
			var rebuilt v1.ImageIndex
			if rebuilt, err = taggedIndex(idx, s.tag); err == nil {
				res, err = rebuild.Index(s.name, s.index, rebuilt, opt)
			}
		} else {
			res, err = rebuild.Binary(s.name, s.binary, filepath.Join(inner.p.Dist, filepath.Base(s.binary)), opt)
		}
		if err != nil {
			return nil, err
		}
		r.log.printf(s.name, "%s", res)
		out = append(out, res)
	}
	return out, nil
}

// taggedIndex is the index tagged tag in an OCI layout's index.
func taggedIndex(idx v1.ImageIndex, tag string) (v1.ImageIndex, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range m.Manifests {
		if d.Annotations[image.RefNameAnnotation] == tag {
			return idx.ImageIndex(d.Digest)
		}
	}
	return nil, fmt.Errorf("the rebuild made no index tagged %s: the recorded version or variant did not rebuild", tag)
}

// writeRebuildReport writes dist/rebuild.json and dist/rebuild.md.
func (r *run) writeRebuildReport(ctx context.Context, rep rebuild.Report) error {
	js, err := rep.JSON()
	if err != nil {
		return err
	}
	unlock, err := r.lockDist(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	for file, data := range map[string][]byte{"rebuild.json": js, "rebuild.md": rep.Markdown()} {
		if err := dist.WriteFile(filepath.Join(r.p.Dist, file), data, 0o644); err != nil {
			return err
		}
	}
	r.log.printf("rebuild", "wrote %s and %s", r.p.rel(filepath.Join(r.p.Dist, "rebuild.json")), r.p.rel(filepath.Join(r.p.Dist, "rebuild.md")))
	return nil
}

// rebuildSettings are the settings, as MAGEPACK_* variables (and
// SOURCE_DATE_EPOCH), that rebuild what prov describes: its recorded
// external parameters and toolchain, never pushing, never smoke-running.
// A provenance without a field magepack always records is refused.
func rebuildSettings(prov attest.Provenance) (map[string]string, error) {
	ext := prov.BuildDefinition.ExternalParameters
	str := func(k string) string {
		switch v := ext[k].(type) {
		case string:
			return v
		case bool:
			if v {
				return "1"
			}
			return "0"
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	s := map[string]string{"MAGEPACK_PUSH": "never", "MAGEPACK_SMOKE": "off"}
	for env, key := range map[string]string{
		"MAGEPACK_MAIN": "main", "MAGEPACK_NAME": "service", "MAGEPACK_VERSION": "version",
		"MAGEPACK_LDFLAGS": "ldflags", "MAGEPACK_TAGS": "buildTags", "MAGEPACK_PORT": "port",
		"MAGEPACK_VERSION_VAR": "versionVar", "MAGEPACK_COMMIT_VAR": "commitVar", "MAGEPACK_DATE_VAR": "dateVar",
		"MAGEPACK_TZDATA": "tzdata", "MAGEPACK_CGO": "cgo", "MAGEPACK_VARIANTS": "variant",
	} {
		if v := str(key); v != "" {
			s[env] = v
		}
	}
	if str("cgoStatic") == "1" {
		s["MAGEPACK_CGO"] = "static"
	}
	s["MAGEPACK_PLATFORMS"] = str("platforms")
	if s["MAGEPACK_PLATFORMS"] == "" {
		s["MAGEPACK_PLATFORMS"] = str("platform")
	}
	if base := prov.Base(); base != "" {
		s["MAGEPACK_ALPINE_BASE"] = base
	}
	if tc := prov.Toolchain(); tc != "" {
		s["MAGEPACK_TOOLCHAIN"] = tc
	}
	if created := str("created"); created != "" {
		t, err := time.Parse(time.RFC3339, created)
		if err != nil {
			return nil, fmt.Errorf("the provenance's created %q is not an RFC 3339 time", created)
		}
		s["SOURCE_DATE_EPOCH"] = strconv.FormatInt(t.Unix(), 10)
	}
	var missing []string
	for _, k := range []string{"MAGEPACK_MAIN", "MAGEPACK_VERSION", "MAGEPACK_PLATFORMS"} {
		if s[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 || prov.Commit() == "" {
		return nil, fmt.Errorf("its provenance does not say how it was built (no commit, main package, version or platforms): it was not made by magepack")
	}
	return s, nil
}
