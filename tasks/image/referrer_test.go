package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/sbom"
)

// emptyDigest is the sha256 of "{}", the OCI empty descriptor's content.
const emptyDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

func testAttachment(data string) Attachment {
	return Attachment{
		ArtifactType: sbom.MediaType,
		Data:         []byte(data),
		Title:        "hello.cdx.json",
		Annotations:  map[string]string{AnnotationCreated: "2024-05-06T07:08:09Z"},
	}
}

func layerData(t *testing.T, img v1.Image) []byte {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, ls, 1)
	rc, err := ls[0].Compressed()
	require.NoError(t, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	return data
}

func TestReferrer(t *testing.T) {
	subject := platformImages(t)[1]
	a, err := Referrer(subject, testAttachment(`{"bomFormat":"CycloneDX"}`))
	require.NoError(t, err)

	m, err := a.Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	assert.Equal(t, sbom.MediaType, m.ArtifactType)
	assert.Equal(t, types.OCIEmptyJSON, m.Config.MediaType)
	assert.Equal(t, emptyDigest, m.Config.Digest.String())
	assert.Equal(t, int64(2), m.Config.Size)
	require.Len(t, m.Layers, 1)
	assert.Equal(t, types.MediaType(sbom.MediaType), m.Layers[0].MediaType)
	assert.Equal(t, map[string]string{AnnotationTitle: "hello.cdx.json"}, m.Layers[0].Annotations)
	assert.Equal(t, map[string]string{AnnotationCreated: "2024-05-06T07:08:09Z"}, m.Annotations)

	sd, err := subject.Digest()
	require.NoError(t, err)
	ss, err := subject.Size()
	require.NoError(t, err)
	require.NotNil(t, m.Subject)
	assert.Equal(t, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: sd, Size: ss}, *m.Subject)

	assert.Equal(t, `{"bomFormat":"CycloneDX"}`, string(layerData(t, a)))
	raw, err := a.RawConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "{}", string(raw))

	// Reproducible, and bound to its subject and content.
	again, err := Referrer(subject, testAttachment(`{"bomFormat":"CycloneDX"}`))
	require.NoError(t, err)
	other, err := Referrer(platformImages(t)[0], testAttachment(`{"bomFormat":"CycloneDX"}`))
	require.NoError(t, err)
	changed, err := Referrer(subject, testAttachment(`{"bomFormat":"CycloneDX","version":2}`))
	require.NoError(t, err)
	d := func(img v1.Image) string {
		h, err := img.Digest()
		require.NoError(t, err)
		return h.String()
	}
	assert.Equal(t, d(a), d(again))
	assert.NotEqual(t, d(a), d(other))
	assert.NotEqual(t, d(a), d(changed))
}

func TestReferrerErrors(t *testing.T) {
	subject := platformImages(t)[0]
	tests := []struct {
		name    string
		subject v1.Image
		a       Attachment
		want    string
	}{
		{"no type", subject, Attachment{Data: []byte("x")}, "no artifact type"},
		{"no data", subject, Attachment{ArtifactType: sbom.MediaType}, "no data"},
		{"no subject", nil, Attachment{ArtifactType: sbom.MediaType, Data: []byte("x")}, "no subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s interface {
				Digest() (v1.Hash, error)
				MediaType() (types.MediaType, error)
				Size() (int64, error)
			}
			if tt.subject != nil {
				s = tt.subject
			}
			_, err := Referrer(s, tt.a)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// sbomReferrers attaches a small document to every image of idx.
func sbomReferrers(t *testing.T, idx v1.ImageIndex) []v1.Image {
	t.Helper()
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	var refs []v1.Image
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		require.NoError(t, err)
		r, err := Referrer(img, testAttachment(fmt.Sprintf(`{"bomFormat":"CycloneDX","for":%q}`, d.Platform.String())))
		require.NoError(t, err)
		refs = append(refs, r)
	}
	return refs
}

func TestWriteLayoutReferrers(t *testing.T) {
	scratch, _ := variantIndexes(t)
	refs := sbomReferrers(t, scratch)
	dir := filepath.Join(t.TempDir(), "oci")
	require.NoError(t, WriteLayout(dir, []Named{{Variant: "scratch", Index: scratch, Tags: []string{"1.2.3-scratch", "scratch"}, Referrers: refs}}))

	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	top, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := top.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 2+len(refs), "two tags, then the referrers")
	for i, r := range refs {
		d := im.Manifests[2+i]
		rd, err := r.Digest()
		require.NoError(t, err)
		assert.Equal(t, rd, d.Digest)
		assert.Equal(t, sbom.MediaType, d.ArtifactType)
		assert.NotContains(t, d.Annotations, RefNameAnnotation, "a referrer is not a tag")

		back, err := top.Image(d.Digest)
		require.NoError(t, err)
		m, err := back.Manifest()
		require.NoError(t, err)
		require.NotNil(t, m.Subject)
		subject, err := scratch.Image(m.Subject.Digest)
		require.NoError(t, err, "the subject is in the layout")
		_, err = subject.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, string(layerData(t, r)), string(layerData(t, back)))
	}
}

// pushIndexAndReferrers pushes idx under tag and its referrers, and
// returns what PushReferrers returned.
func pushIndexAndReferrers(t *testing.T, repo string, idx v1.ImageIndex, refs []v1.Image, opts ...Option) ([]PushedReferrer, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Push(ctx, repo, idx, []string{"scratch"}, opts...)
	require.NoError(t, err)
	return PushReferrers(ctx, repo, refs, opts...)
}

// assertFindable checks that every referrer in refs is found from its
// subject's digest with remote.Referrers, with its artifact type (when
// checkType: go-containerregistry's in-memory registry reports the config
// media type instead) and its content.
func assertFindable(t *testing.T, repo string, refs []v1.Image, checkType bool, opts ...remote.Option) {
	t.Helper()
	for _, r := range refs {
		m, err := r.Manifest()
		require.NoError(t, err)
		rd, err := r.Digest()
		require.NoError(t, err)
		sub, err := name.NewDigest(repo + "@" + m.Subject.Digest.String())
		require.NoError(t, err)
		found, err := remote.Referrers(sub, opts...)
		require.NoError(t, err)
		fm, err := found.IndexManifest()
		require.NoError(t, err)
		require.Len(t, fm.Manifests, 1, "one SBOM for %s", sub)
		assert.Equal(t, rd, fm.Manifests[0].Digest)
		if checkType {
			assert.Equal(t, sbom.MediaType, fm.Manifests[0].ArtifactType)
		}

		got, err := remote.Image(sub.Context().Digest(rd.String()), opts...)
		require.NoError(t, err)
		assert.Equal(t, string(layerData(t, r)), string(layerData(t, got)))
	}
}

func TestPushReferrersInMemory(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(api)))
			t.Cleanup(srv.Close)
			repo := strings.TrimPrefix(srv.URL, "http://") + "/hello"
			idx := testIndex(t)
			refs := sbomReferrers(t, idx)
			var lines []string
			pushed, err := pushIndexAndReferrers(t, repo, idx, refs, anonymous, WithLog(func(s string) { lines = append(lines, s) }))
			require.NoError(t, err)
			require.Len(t, pushed, len(refs))
			for i, p := range pushed {
				m, err := refs[i].Manifest()
				require.NoError(t, err)
				assert.Equal(t, m.Subject.Digest.String(), p.Subject)
				assert.Equal(t, sbom.MediaType, p.ArtifactType)
				assert.Equal(t, repo+"@"+p.Digest, p.Reference)
			}
			assert.Contains(t, strings.Join(lines, "\n"), "("+sbom.MediaType+" for sha256:")
			assertFindable(t, repo, refs, !api)

			if !api {
				// Without the API, the referrers tag lists them.
				m, err := refs[0].Manifest()
				require.NoError(t, err)
				tag, err := name.NewTag(repo + ":" + strings.Replace(m.Subject.Digest.String(), ":", "-", 1))
				require.NoError(t, err)
				_, err = remote.Index(tag)
				assert.NoError(t, err, "the fallback tag exists")
			}
		})
	}
}

// refusing wraps h and answers 400 MANIFEST_INVALID to a manifest PUT
// that refuse selects.
func refusing(h http.Handler, refuse func(r *http.Request, body []byte) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if refuse(r, body) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "MANIFEST_INVALID", "message": "artifacts are not accepted here"}}})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func TestPushReferrersRefused(t *testing.T) {
	tests := []struct {
		name   string
		refuse func(r *http.Request, body []byte) bool
	}{
		{"artifact manifest refused", func(_ *http.Request, body []byte) bool { return bytes.Contains(body, []byte(`"subject"`)) }},
		{"referrers tag refused", func(r *http.Request, _ []byte) bool { return strings.Contains(r.URL.Path, "/manifests/sha256-") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(refusing(registry.New(registry.Logger(log.New(io.Discard, "", 0))), tt.refuse))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			repo := host + "/hello"
			idx := testIndex(t)
			refs := sbomReferrers(t, idx)
			pushed, err := pushIndexAndReferrers(t, repo, idx, refs, anonymous)
			require.Error(t, err)
			assert.Empty(t, pushed, "nothing claimed as pushed")

			var re *ReferrerError
			require.ErrorAs(t, err, &re)
			m, err2 := refs[0].Manifest()
			require.NoError(t, err2)
			rd, err2 := refs[0].Digest()
			require.NoError(t, err2)
			assert.Equal(t, repo, re.Repo)
			assert.Equal(t, sbom.MediaType, re.ArtifactType)
			assert.Equal(t, m.Subject.Digest.String(), re.Subject)
			assert.Equal(t, rd.String(), re.Digest)
			msg := err.Error()
			assert.Contains(t, msg, "attach "+sbom.MediaType+" to "+repo+"@"+m.Subject.Digest.String())
			assert.Contains(t, msg, "MANIFEST_INVALID")
			assert.Contains(t, msg, "the image is pushed but has no "+sbom.MediaType+" attached")
			assert.Contains(t, msg, "sha256-"+m.Subject.Digest.Hex)
			var ae *AuthError
			assert.NotErrorAs(t, err, &ae)
		})
	}
}

func TestPushReferrersInvalidInput(t *testing.T) {
	ctx := context.Background()
	_, err := PushReferrers(ctx, "Not A Repo", nil, anonymous)
	assert.ErrorContains(t, err, `repository "Not A Repo" is not valid`)
	_, err = PushReferrers(ctx, "127.0.0.1:1/hello", []v1.Image{platformImages(t)[0]}, anonymous)
	assert.ErrorContains(t, err, "artifact 0 has no subject: make it with Referrer")
	_, err = PushReferrers(ctx, "127.0.0.1:1/hello", []v1.Image{nil}, anonymous)
	assert.ErrorContains(t, err, "artifact 0 is nil")
}

// TestPublishRegistryIntegration publishes the way the publish target
// does, to Debian's docker-registry 2.8 (no referrers API): annotated
// images in an annotated index, then each platform image's SBOM as a
// referrer. The SBOMs are found from the image digests through the
// referrers tag, and the annotations are in the pushed manifests.
func TestPublishRegistryIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a registry")
	}
	reg := fixture.StartRegistry(t)
	fixture.DockerConfig(t, reg.Host, "", "")
	repo := reg.Host + "/magepack/hello"

	meta := Meta{Title: "hello", Version: "1.2.3", Revision: "0123456789abcdef", Source: "https://example.com/hello", Created: testCreated}
	var imgs []v1.Image
	for _, p := range [][2]string{{"amd64", ""}, {"arm64", ""}} {
		s := scratchSpec(t)
		s.Arch, s.Variant, s.Annotations = p[0], p[1], Annotations(meta)
		imgs = append(imgs, mustBuild(t, s))
	}
	idx, err := Index(imgs, WithIndexAnnotations(Annotations(meta)))
	require.NoError(t, err)

	bin, err := sbom.Binary(helloBin(t), sbom.Options{Version: "1.2.3", Time: testCreated})
	require.NoError(t, err)
	var refs []v1.Image
	sboms := map[string]string{}
	for _, img := range imgs {
		d, err := Digests(img)
		require.NoError(t, err)
		cfg, err := img.ConfigFile()
		require.NoError(t, err)
		files, err := ReadFiles(img, CABundlePath)
		require.NoError(t, err)
		bom, err := sbom.ForImage(bin, sbom.Image{
			Name: repo, Digest: d.ManifestDigest, OS: cfg.OS, Arch: cfg.Architecture,
			BinaryPath: "/usr/local/bin/hello",
			CABundle:   &sbom.File{Path: CABundlePath, SHA256: sha256Hex(files[CABundlePath])},
		}, sbom.Options{Version: "1.2.3", Time: testCreated})
		require.NoError(t, err)
		data, err := sbom.Encode(bom)
		require.NoError(t, err)
		sboms[d.ManifestDigest] = string(data)
		r, err := Referrer(img, Attachment{ArtifactType: sbom.MediaType, Data: data, Title: "hello.cdx.json"})
		require.NoError(t, err)
		refs = append(refs, r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pushed, err := Push(ctx, repo, idx, []string{"1.2.3-scratch", "scratch"})
	require.NoError(t, err, "registry log:\n%s", reg.Log())
	_, err = PushReferrers(ctx, repo, refs)
	require.NoError(t, err, "registry log:\n%s", reg.Log())

	// The annotations are in the pushed index and in every manifest.
	tag, err := name.NewTag(pushed[0].Reference)
	require.NoError(t, err)
	got, err := remote.Index(tag)
	require.NoError(t, err)
	gm, err := got.IndexManifest()
	require.NoError(t, err)
	assert.Equal(t, Annotations(meta), gm.Annotations)
	for _, d := range gm.Manifests {
		img, err := got.Image(d.Digest)
		require.NoError(t, err)
		m, err := img.Manifest()
		require.NoError(t, err)
		assert.Equal(t, Annotations(meta), m.Annotations, d.Platform.String())

		// From the image digest to its SBOM, through the referrers tag
		// (docker-registry 2.8 has no referrers API).
		sub, err := name.NewDigest(repo + "@" + d.Digest.String())
		require.NoError(t, err)
		found, err := remote.Referrers(sub)
		require.NoError(t, err)
		fm, err := found.IndexManifest()
		require.NoError(t, err)
		require.Len(t, fm.Manifests, 1, d.Platform.String())
		assert.Equal(t, sbom.MediaType, fm.Manifests[0].ArtifactType)
		art, err := remote.Image(sub.Context().Digest(fm.Manifests[0].Digest.String()))
		require.NoError(t, err)
		data := layerData(t, art)
		assert.Equal(t, sboms[d.Digest.String()], string(data))
		back, err := sbom.Decode(data)
		require.NoError(t, err)
		assert.Equal(t, d.Digest.String(), strings.SplitN(strings.TrimPrefix(back.Metadata.Component.PackageURL, "pkg:oci/hello@"), "?", 2)[0], "the SBOM names the image it describes")

		fallback, err := name.NewTag(repo + ":sha256-" + d.Digest.Hex)
		require.NoError(t, err)
		_, err = remote.Index(fallback)
		assert.NoError(t, err, "the referrers tag %s exists", fallback)
	}
}

func TestRemoteDigest(t *testing.T) {
	host := memRegistry(t)
	idx := testIndex(t)
	ctx := context.Background()
	_, err := Push(ctx, host+"/alpine", idx, []string{"3.20"}, anonymous)
	require.NoError(t, err)
	want, err := idx.Digest()
	require.NoError(t, err)
	got, err := RemoteDigest(ctx, host+"/alpine:3.20", anonymous)
	require.NoError(t, err)
	assert.Equal(t, want.String(), got, "a multi-platform base resolves to its index digest")

	_, err = RemoteDigest(ctx, host+"/alpine:missing", anonymous)
	assert.ErrorContains(t, err, "digest of "+host+"/alpine:missing")
	_, err = RemoteDigest(ctx, "Not A Ref", anonymous)
	assert.ErrorContains(t, err, "is not a valid reference")
}
