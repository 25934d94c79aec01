package tasks

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/sbom"
)

// pubAppName is the binary name of the module pubModule writes.
const pubAppName = "pubapp"

// pubModule writes a consumer module (example.com/pubapp, the fixture
// service at the root) into a new git repository, committed at
// fixture.CommitTime and tagged v1.2.3. It returns the repository's folder.
func pubModule(t *testing.T) string {
	t.Helper()
	return fixture.NewModule(t, fixture.Module{Path: "example.com/" + pubAppName, Files: map[string]string{"main.go": fixture.ServiceMain}, GitIgnore: "/dist/\n", Tag: "v1.2.3"})
}

// pubLinuxRun resolves cfg (over the defaults, no environment but env) for
// the module in dir and builds its Linux binaries, the ones publish puts
// into images.
func pubLinuxRun(t *testing.T, dir string, cfg Config, env ...map[string]string) *run {
	t.Helper()
	var e map[string]string
	if len(env) > 0 {
		e = env[0]
	}
	r := mustRun(t, dir, cfg, e)
	var linux []job
	for _, j := range r.p.jobs() {
		if j.pl.OS == "linux" {
			linux = append(linux, j)
		}
	}
	_, err := r.compile(context.Background(), linux)
	require.NoError(t, err)
	return r
}

// pubWithoutEngine runs fn with DOCKER_HOST pointing at a socket that does
// not exist, after checking that no engine is reachable that way.
func pubWithoutEngine(t *testing.T, fn func()) {
	t.Helper()
	old, had := os.LookupEnv("DOCKER_HOST")
	require.NoError(t, os.Setenv("DOCKER_HOST", "unix:///nonexistent.sock"))
	defer func() {
		if had {
			os.Setenv("DOCKER_HOST", old)
		} else {
			os.Unsetenv("DOCKER_HOST")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := engine.Connect(ctx)
	require.ErrorIs(t, err, engine.ErrNoEngine, "DOCKER_HOST=unix:///nonexistent.sock must leave no engine reachable")
	fn()
}

// pubLayoutDigests maps each tag in the OCI layout at dir to its digest.
func pubLayoutDigests(t *testing.T, dir string) map[string]string {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	tags := map[string]string{}
	for _, d := range im.Manifests {
		if d.ArtifactType == sbom.MediaType {
			continue // an SBOM, found by its subject, not by a tag
		}
		tag := d.Annotations[image.RefNameAnnotation]
		require.NotEmpty(t, tag, "layout descriptor %s has no %s", d.Digest, image.RefNameAnnotation)
		tags[tag] = d.Digest.String()
	}
	return tags
}

// pubTags are the tags DESIGN.md gives a stable release 1.2.3.
func pubTags(variant string) []string {
	return []string{"1.2.3-" + variant, variant, "1.2-" + variant, "1-" + variant}
}

// pubBinaryMachine reads /usr/local/bin/<name> from img's layers (the last
// one holding it wins) and returns its ELF machine.
func pubBinaryMachine(t *testing.T, img v1.Image, name string) elf.Machine {
	t.Helper()
	var data []byte
	fixture.EachEntry(t, img, func(h *tar.Header, r io.Reader) {
		if strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/") == "usr/local/bin/"+name {
			var err error
			data, err = io.ReadAll(r)
			require.NoError(t, err)
		}
	})
	require.NotEmpty(t, data, "no /usr/local/bin/%s in the image", name)
	f, err := elf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	return f.Machine
}

// pubMachines are the ELF machines of each Linux GOARCH the tests publish.
var pubMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func TestPublishRegistryIntegration(t *testing.T) {
	slow(t, "a registry")
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	alpine := fixture.PushAlpineIndex(t, reg)
	alpineIdx, err := remote.Index(pubRef(t, alpine))
	require.NoError(t, err)

	dir := pubModule(t)
	repo := reg.Host + "/example-app-ish"
	cfg := Config{
		Platforms: "linux/amd64,linux/arm64,darwin/arm64", Image: repo, AlpineBase: alpine, Smoke: "/healthz",
	}
	start := time.Now()
	ghOutput := filepath.Join(t.TempDir(), "github-output")
	r0 := pubLinuxRun(t, dir, cfg, map[string]string{"GITHUB_OUTPUT": ghOutput})
	p := r0.p
	require.Equal(t, "1.2.3", p.versionString())
	buf := output(r0)
	t.Logf("compile linux/amd64,linux/arm64: %s", time.Since(start).Round(time.Millisecond))

	var cold, warm time.Duration
	var coldOut, warmOut string
	pubWithoutEngine(t, func() {
		buf.Reset()
		start := time.Now()
		require.NoError(t, r0.publishIndexes(ctx), "cold publish")
		cold, coldOut = time.Since(start), buf.String()
		buf.Reset()
		start = time.Now()
		require.NoError(t, r0.publishIndexes(ctx), "publish with nothing changed")
		warm, warmOut = time.Since(start), buf.String()
	})
	t.Logf("publish 2 platforms x 2 variants to %s: cold %s, nothing changed %s", reg.Host, cold.Round(time.Millisecond), warm.Round(time.Millisecond))
	t.Logf("cold run:\n%s\nnothing changed:\n%s", coldOut, warmOut)

	// What the registry holds, per variant: the index digest behind each tag.
	reg2, err := name.NewRepository(repo)
	require.NoError(t, err)
	pushed := map[string]string{} // tag -> digest
	for _, variant := range []string{"scratch", "alpine"} {
		for _, tag := range pubTags(variant) {
			desc, err := remote.Head(reg2.Tag(tag))
			require.NoError(t, err, "tag %s", tag)
			pushed[tag] = desc.Digest.String()
		}
	}

	t.Run("tags", func(t *testing.T) {
		tags, err := remote.List(reg2)
		require.NoError(t, err)
		want := append(pubTags("scratch"), pubTags("alpine")...)
		// This registry has no referrers API: each platform image's SBOM
		// is found through the fallback tag sha256-<image digest>.
		for _, variant := range []string{"scratch", "alpine"} {
			idx, err := remote.Index(reg2.Tag(variant))
			require.NoError(t, err)
			im, err := idx.IndexManifest()
			require.NoError(t, err)
			for _, d := range im.Manifests {
				want = append(want, "sha256-"+d.Digest.Hex)
			}
		}
		assert.ElementsMatch(t, want, tags)
		for _, variant := range []string{"scratch", "alpine"} {
			tags := pubTags(variant)
			for _, tag := range tags[1:] {
				assert.Equal(t, pushed[tags[0]], pushed[tag], "%s and %s are one index", tags[0], tag)
			}
		}
		assert.NotEqual(t, pushed["scratch"], pushed["alpine"])
	})

	t.Run("index lists exactly the Linux platforms, each with its own binary", func(t *testing.T) {
		for _, variant := range []string{"scratch", "alpine"} {
			idx, err := remote.Index(reg2.Tag(variant))
			require.NoError(t, err)
			im, err := idx.IndexManifest()
			require.NoError(t, err)
			var plats []string
			for _, d := range im.Manifests {
				require.NotNil(t, d.Platform, "%s: descriptor %s has no platform", variant, d.Digest)
				plats = append(plats, d.Platform.String())
				img, err := idx.Image(d.Digest)
				require.NoError(t, err)
				cfg, err := img.ConfigFile()
				require.NoError(t, err)
				assert.Equal(t, d.Platform.Architecture, cfg.Architecture, "%s %s config", variant, d.Platform)
				assert.Equal(t, "65532:65532", cfg.Config.User, "%s %s runs as", variant, d.Platform)
				assert.Equal(t, pubMachines[d.Platform.Architecture], pubBinaryMachine(t, img, pubAppName), "%s %s binary", variant, d.Platform)
				layers, err := img.Layers()
				require.NoError(t, err)
				if variant == "scratch" {
					assert.Len(t, layers, 1, "scratch %s: only magepack's layer", d.Platform)
					continue
				}
				// The alpine image sits on the base for its own platform.
				base, err := alpineIdx.Image(pubPlatformDigest(t, alpineIdx, *d.Platform))
				require.NoError(t, err)
				baseLayers, err := base.Layers()
				require.NoError(t, err)
				require.Len(t, layers, len(baseLayers)+1)
				want, err := baseLayers[0].Digest()
				require.NoError(t, err)
				got, err := layers[0].Digest()
				require.NoError(t, err)
				assert.Equal(t, want, got, "alpine %s base layer", d.Platform)
			}
			assert.Equal(t, []string{"linux/amd64", "linux/arm64"}, plats, "%s index platforms", variant)
		}
	})

	t.Run("nothing changed uploads no blob again", func(t *testing.T) {
		for _, variant := range []string{"scratch", "alpine"} {
			assert.Regexp(t, `(?m)^\[`+variant+`\] pushed \S+:1\.2\.3-`+variant+` sha256:[0-9a-f]+ [1-9][0-9.]* [kM]?B in`, coldOut, "cold run uploads the blobs")
			assert.Regexp(t, `(?m)^\[`+variant+`\] pushed \S+:1\.2\.3-`+variant+` sha256:[0-9a-f]+ 0 B in`, warmOut, "second run uploads nothing")
		}
	})

	t.Run("annotations on the index and every manifest", func(t *testing.T) {
		head := git(t, dir, "rev-parse", "HEAD")
		for _, variant := range []string{"scratch", "alpine"} {
			idx, err := remote.Index(reg2.Tag(variant))
			require.NoError(t, err)
			im, err := idx.IndexManifest()
			require.NoError(t, err)
			want := map[string]string{
				"org.opencontainers.image.title":    pubAppName,
				"org.opencontainers.image.version":  "1.2.3",
				"org.opencontainers.image.revision": head,
				"org.opencontainers.image.created":  "2024-05-06T07:08:09Z",
				"org.opencontainers.image.source":   "https://example.com/" + pubAppName,
			}
			check := func(what string, got map[string]string) {
				for k, v := range want {
					assert.Equal(t, v, got[k], "%s %s: %s", variant, what, k)
				}
				if variant == "alpine" {
					assert.Equal(t, alpine, got["org.opencontainers.image.base.name"], "%s %s", variant, what)
					assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, got["org.opencontainers.image.base.digest"], "%s %s", variant, what)
				} else {
					assert.NotContains(t, got, "org.opencontainers.image.base.name", "%s %s", variant, what)
				}
			}
			check("index", im.Annotations)
			alpineDigest, err := remote.Head(pubRef(t, alpine))
			require.NoError(t, err)
			if variant == "alpine" {
				assert.Equal(t, alpineDigest.Digest.String(), im.Annotations["org.opencontainers.image.base.digest"], "the index names the base's index")
			}
			for _, d := range im.Manifests {
				img, err := idx.Image(d.Digest)
				require.NoError(t, err)
				m, err := img.Manifest()
				require.NoError(t, err)
				check(d.Platform.String(), m.Annotations)
				if variant == "alpine" {
					assert.Equal(t, pubPlatformDigest(t, alpineIdx, *d.Platform).String(), m.Annotations["org.opencontainers.image.base.digest"], "%s names its platform's base", d.Platform)
				}
			}
		}
	})

	t.Run("every platform image has its SBOM as a referrer", func(t *testing.T) {
		for _, variant := range []string{"scratch", "alpine"} {
			idx, err := remote.Index(reg2.Tag(variant))
			require.NoError(t, err)
			im, err := idx.IndexManifest()
			require.NoError(t, err)
			for _, d := range im.Manifests {
				refs, err := remote.Referrers(reg2.Digest(d.Digest.String()))
				require.NoError(t, err, "%s %s", variant, d.Platform)
				rm, err := refs.IndexManifest()
				require.NoError(t, err)
				require.Len(t, rm.Manifests, 1, "%s %s: one SBOM", variant, d.Platform)
				assert.Equal(t, sbom.MediaType, rm.Manifests[0].ArtifactType)
				_, data := layerOf(t, reg2, rm.Manifests[0].Digest)
				bom, err := sbom.Decode(data)
				require.NoError(t, err, "%s %s: a CycloneDX document", variant, d.Platform)
				require.NotNil(t, bom.Metadata)
				require.NotNil(t, bom.Metadata.Component)
				assert.Contains(t, bom.Metadata.Component.PackageURL, d.Digest.Hex, "%s %s: the SBOM describes this image", variant, d.Platform)
				assert.Contains(t, string(data), "ca-certificates.crt", "the CA bundle the image adds")
				if variant == "alpine" {
					assert.Contains(t, string(data), alpine, "the base by name")
				}
			}
		}
	})

	t.Run("CI gets the registry's digests", func(t *testing.T) {
		out, err := os.ReadFile(ghOutput)
		require.NoError(t, err)
		for _, variant := range []string{"scratch", "alpine"} {
			assert.Contains(t, string(out), "digest-"+variant+"<<", "a multi-line output per variant")
			assert.Contains(t, string(out), "\n"+pushed[variant]+"\n", "the %s index's digest as the registry has it", variant)
		}
		assert.Contains(t, string(out), "version<<")
		assert.Contains(t, string(out), "\n1.2.3\n")
		digests, err := os.ReadFile(filepath.Join(p.Dist, "digests.txt"))
		require.NoError(t, err)
		for tag, d := range pushed {
			assert.Contains(t, string(digests), strings.TrimPrefix(d, "sha256:")+"  "+repo+":"+tag+"\n")
		}
	})

	t.Run("darwin skipped with a line", func(t *testing.T) {
		assert.Contains(t, coldOut, "[darwin/arm64] skipped: images are Linux only\n")
	})

	t.Run("pushed digests equal the layout's", func(t *testing.T) {
		assert.Equal(t, pushed, pubLayoutDigests(t, filepath.Join(p.Dist, "oci")))
	})

	t.Run("pushed references printed last, one per line", func(t *testing.T) {
		var want []string
		for tag, d := range pushed {
			want = append(want, repo+":"+tag+"@"+d)
		}
		for name, output := range map[string]string{"cold": coldOut, "nothing changed": warmOut} {
			lines := strings.Split(strings.TrimSuffix(output, "\n"), "\n")
			require.GreaterOrEqual(t, len(lines), len(want), name)
			assert.ElementsMatch(t, want, lines[len(lines)-len(want):], "%s: last lines", name)
		}
	})

	t.Run("artifacts.json records pushed references and digests", func(t *testing.T) {
		m, err := dist.ReadManifest(p.Dist)
		require.NoError(t, err)
		got := map[string]string{}
		for _, ps := range m.Pushed {
			got[ps.Reference] = ps.Digest
		}
		want := map[string]string{}
		for tag, d := range pushed {
			want[repo+":"+tag] = d
		}
		assert.Equal(t, want, got)
		var variants []string
		for _, im := range m.Images {
			if strings.HasPrefix(im.Reference, "oci:") {
				variants = append(variants, im.Variant)
				assert.Equal(t, "linux/amd64,linux/arm64", im.Platform, im.Reference)
				assert.Equal(t, pushed[im.Variant], im.ManifestDigest, im.Reference)
			}
		}
		assert.ElementsMatch(t, []string{"scratch", "alpine"}, variants)
	})

	t.Run("same commit in another clone gives the same digests", func(t *testing.T) {
		clone := filepath.Join(t.TempDir(), "clone")
		git(t, dir, "clone", "-q", dir, clone)
		c := cfg
		c.Push = "never"
		r2 := pubLinuxRun(t, clone, c)
		p2 := r2.p
		pubWithoutEngine(t, func() { require.NoError(t, r2.publishIndexes(ctx)) })
		assert.Contains(t, output(r2).String(), "not pushing: MAGEPACK_PUSH=never")
		assert.Equal(t, pushed, pubLayoutDigests(t, filepath.Join(p2.Dist, "oci")))
		a, err := os.ReadFile(filepath.Join(p.Dist, "oci", "index.json"))
		require.NoError(t, err)
		b, err := os.ReadFile(filepath.Join(p2.Dist, "oci", "index.json"))
		require.NoError(t, err)
		assert.Equal(t, string(a), string(b), "index.json of the two clones")
	})

	t.Run("engine pulls the image from the registry and it answers /healthz", func(t *testing.T) {
		fixture.Engine(t)
		eng, err := engine.Connect(ctx)
		require.NoError(t, err)
		goos, arch, _, err := eng.Platform(ctx)
		require.NoError(t, err)
		for _, variant := range []string{"scratch", "alpine"} {
			ref := repo + ":1.2.3-" + variant
			t.Cleanup(func() { _ = eng.Remove(context.Background(), ref) })
			require.NoError(t, eng.EnsureImage(ctx, ref, engine.PullAlways), ref)
			info, err := eng.Inspect(ctx, ref)
			require.NoError(t, err)
			assert.Equal(t, goos+"/"+arch, info.Os+"/"+info.Architecture, "pulled %s", ref)
			res, err := eng.Smoke(ctx, ref, engine.SmokeOptions{Mode: engine.SmokeHTTP, Path: "/healthz", Port: 8080})
			require.NoError(t, err, "smoke %s: %s", ref, res.Logs)
			assert.Equal(t, http.StatusOK, res.Status)
		}
	})

	t.Run("registry dying mid-push fails clearly and leaves dist/oci as it was", func(t *testing.T) {
		target := fixture.StartRegistry(t)
		proxy := pubDyingProxy(t, target, 2)
		c := cfg
		c.Image = proxy + "/example-app-ish"
		c.Version = "1.2.4" // other tags and labels: a layout that differs from the one in dist/oci
		r3 := mustRun(t, dir, c, nil)
		before := pubTree(t, filepath.Join(p.Dist, "oci"))
		manifestBefore, err := os.ReadFile(filepath.Join(p.Dist, dist.ManifestFile))
		require.NoError(t, err)

		var err2 error
		pubWithoutEngine(t, func() { err2 = r3.publishIndexes(ctx) })
		require.Error(t, err2)
		step, ok := failedStep(err2)
		assert.True(t, ok && step == pushing, "a failure of a push step, got %v", step)
		assert.Equal(t, ExitPush, exitCode(err2))
		assert.Contains(t, err2.Error(), proxy+"/example-app-ish:1.2.4-scratch")
		assert.Contains(t, err2.Error(), "not reachable")
		t.Logf("error: %v", err2)
		assert.Equal(t, before, pubTree(t, filepath.Join(p.Dist, "oci")), "dist/oci after a failed push")
		manifestAfter, err := os.ReadFile(filepath.Join(p.Dist, dist.ManifestFile))
		require.NoError(t, err)
		assert.Equal(t, string(manifestBefore), string(manifestAfter), "artifacts.json after a failed push")
	})

	t.Run("a later publish replaces the records of the last one", func(t *testing.T) {
		c := cfg
		c.Version, c.Push = "1.2.5", "never"
		r4 := mustRun(t, dir, c, nil)
		pubWithoutEngine(t, func() { require.NoError(t, r4.publishIndexes(ctx)) })
		m, err := dist.ReadManifest(p.Dist)
		require.NoError(t, err)
		var oci []string
		for _, im := range m.Images {
			if strings.HasPrefix(im.Reference, "oci:") {
				oci = append(oci, im.Reference)
			}
		}
		assert.ElementsMatch(t, []string{"oci:dist/oci:1.2.5-scratch", "oci:dist/oci:1.2.5-alpine"}, oci, "only the layout now in dist/oci")
		assert.Empty(t, m.Pushed, "this run pushed nothing; the 1.2.3 pushes are not its results")
		assert.ElementsMatch(t, append(pubTags125("scratch"), pubTags125("alpine")...), pubKeys(pubLayoutDigests(t, filepath.Join(p.Dist, "oci"))))
	})
}

// pubTags125 are the tags of the stable release 1.2.5.
func pubTags125(variant string) []string {
	return []string{"1.2.5-" + variant, variant, "1.2-" + variant, "1-" + variant}
}

// pubKeys returns m's keys.
func pubKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// pubRef parses a reference or fails the test.
func pubRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	return r
}

// pubPlatformDigest finds the manifest for pl in idx.
func pubPlatformDigest(t *testing.T, idx v1.ImageIndex, pl v1.Platform) v1.Hash {
	t.Helper()
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == pl.OS && d.Platform.Architecture == pl.Architecture {
			return d.Digest
		}
	}
	t.Fatalf("no %s in the index", pl)
	return v1.Hash{}
}

// pubTree maps every file under dir to the SHA-256 of its contents, for
// before/after comparisons.
func pubTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		sum, err := dist.Sum(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[rel] = sum
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files, "%s is empty", dir)
	return files
}

// pubDyingProxy serves reg through a reverse proxy on another loopback
// port that, on the dieAt-th blob upload, kills the registry, drops the
// connection and stops listening: a registry that dies mid-push. It
// returns the proxy's host:port.
func pubDyingProxy(t *testing.T, reg *fixture.Registry, dieAt int32) string {
	t.Helper()
	backend, err := url.Parse("http://" + reg.Host)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(backend)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var uploads atomic.Int32
	srv := &http.Server{}
	var once sync.Once
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") && uploads.Add(1) >= dieAt {
			once.Do(func() {
				reg.Stop()
				go srv.Close()
			})
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	})
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestPublishRefusesIntegration(t *testing.T) {
	slow(t, "a registry")
	ctx := context.Background()
	reg := fixture.StartRegistry(t)
	amd64Only := fixture.PushAlpine(t, reg, "amd64only", "amd64")
	dir := pubModule(t)

	tests := []struct {
		name     string
		cfg      Config
		code     int
		contains []string
		check    func(t *testing.T, err error)
	}{
		{
			name: "no Linux platform",
			cfg:  Config{Platforms: "darwin/arm64,windows/amd64", Image: reg.Host + "/app"},
			code: ExitConfig, contains: []string{`no Linux platform in MAGEPACK_PLATFORMS="darwin/arm64,windows/amd64"`, "linux/amd64"},
			check: func(t *testing.T, err error) {
				var ce *plan.Error
				assert.ErrorAs(t, err, &ce)
			},
		},
		{
			name: "base lacks a platform",
			cfg:  Config{Platforms: "linux/amd64,linux/arm64", Image: reg.Host + "/app", Variants: "alpine", AlpineBase: amd64Only},
			code: ExitImage, contains: []string{amd64Only, "has no linux/arm64 image", "it has linux/amd64", "MAGEPACK_ALPINE_BASE"},
			check: func(t *testing.T, err error) {
				var mp *image.MissingPlatformError
				require.ErrorAs(t, err, &mp)
				assert.Equal(t, "linux/arm64", mp.Platform)
				assert.Equal(t, []string{"linux/amd64"}, mp.Available)
			},
		},
		{
			name: "base missing",
			cfg:  Config{Platforms: "linux/amd64", Image: reg.Host + "/app", Variants: "alpine", AlpineBase: reg.Host + "/alpine:nope"},
			code: ExitImage, contains: []string{reg.Host + "/alpine:nope", "MAGEPACK_ALPINE_BASE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRun(t, dir, tt.cfg, nil)
			p := r.p
			var err error
			pubWithoutEngine(t, func() { err = r.publishIndexes(ctx) })
			require.Error(t, err)
			t.Logf("error: %v", err)
			assert.Equal(t, tt.code, exitCode(err))
			for _, s := range tt.contains {
				assert.Contains(t, err.Error(), s)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
			assert.NoDirExists(t, filepath.Join(p.Dist, "oci"), "nothing written")
			tags, lerr := remote.List(pubRepo(t, reg.Host+"/app"))
			assert.True(t, lerr != nil || len(tags) == 0, "nothing pushed, got tags %v", tags)
		})
	}
}

// pubRepo parses a repository or fails the test.
func pubRepo(t *testing.T, repo string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(repo)
	require.NoError(t, err)
	return r
}

func TestPublishBasicAuthIntegration(t *testing.T) {
	slow(t, "a registry")
	ctx := context.Background()
	open := fixture.StartRegistry(t)
	alpine := fixture.PushAlpineIndex(t, open)
	reg := fixture.StartRegistry(t, fixture.WithBasicAuth("ci", "s3cret"))
	repo := reg.Host + "/team/app"
	dir := pubModule(t)
	run := pubLinuxRun(t, dir, Config{Platforms: "linux/amd64", Image: repo, AlpineBase: alpine})
	p, buf := run.p, output(run)
	r := pubRepo(t, repo)
	goodAuth := remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"})

	for _, tt := range []struct{ name, user, password string }{
		{"wrong password", "ci", "wrong"},
		{"unknown user", "nobody", "s3cret"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fixture.DockerConfig(t, reg.Host, tt.user, tt.password)
			var err error
			pubWithoutEngine(t, func() { err = run.publishIndexes(ctx) })
			require.Error(t, err)
			t.Logf("error: %v", err)
			var ae *image.AuthError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, reg.Host, ae.Host)
			assert.Equal(t, ExitPush, exitCode(err))
			assert.Contains(t, err.Error(), "authentication to "+reg.Host+" failed")
			assert.Contains(t, err.Error(), "docker login "+reg.Host)
			assert.Contains(t, err.Error(), "DOCKER_CONFIG")
			_, herr := remote.Head(r.Tag("1.2.3-scratch"), goodAuth)
			assert.Error(t, herr, "nothing pushed under the tag")
		})
	}

	t.Run("credentials from DOCKER_CONFIG", func(t *testing.T) {
		fixture.DockerConfig(t, reg.Host, "ci", "s3cret")
		buf.Reset()
		pubWithoutEngine(t, func() { require.NoError(t, run.publishIndexes(ctx)) })
		all, err := remote.List(r, goodAuth)
		require.NoError(t, err)
		var tags []string
		fallbacks := 0
		for _, tag := range all {
			if strings.HasPrefix(tag, "sha256-") {
				fallbacks++ // the SBOMs' referrers tags
				continue
			}
			tags = append(tags, tag)
		}
		assert.Equal(t, 2, fallbacks, "one referrers tag per platform image (scratch and alpine, linux/amd64)")
		sort.Strings(tags)
		want := append(pubTags("scratch"), pubTags("alpine")...)
		sort.Strings(want)
		assert.Equal(t, want, tags)
		layoutDigests := pubLayoutDigests(t, filepath.Join(p.Dist, "oci"))
		for _, tag := range want {
			desc, err := remote.Head(r.Tag(tag), goodAuth)
			require.NoError(t, err)
			assert.Equal(t, layoutDigests[tag], desc.Digest.String(), tag)
			assert.Contains(t, buf.String(), fmt.Sprintf("%s:%s@%s\n", repo, tag, desc.Digest))
		}
	})
}

// TestPublishMageEndToEndIntegration runs `go tool mage publish` twice in a
// fresh clone of this repository (example-app, two platforms, two
// variants) against a test registry with no engine reachable, and checks
// both runs push the same digests. The clone holds the working tree as it
// is (fixture.CloneWorkingTree), so the code under edit is what runs.
func TestPublishMageEndToEndIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: compiles the magefile and runs publish twice")
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	repo := filepath.Dir(wd) // tests run in <repo>/tasks
	reg := fixture.StartRegistry(t)
	alpine := fixture.PushAlpineIndex(t, reg)
	clone := filepath.Join(t.TempDir(), "magepack")
	fixture.CloneWorkingTree(t, repo, clone)

	image := reg.Host + "/example-app"
	env := fixture.MageEnv("publish-e2e",
		"MAGEPACK_IMAGE="+image,
		"MAGEPACK_PLATFORMS=linux/amd64,linux/arm64",
		"MAGEPACK_ALPINE_BASE="+alpine,
		"DOCKER_HOST=unix:///nonexistent.sock",
		"GOPROXY=off",
	)
	var runs [2][]string
	for i := range runs {
		cmd := exec.Command("go", "tool", "mage", "publish")
		cmd.Dir, cmd.Env = clone, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		require.NoError(t, err, "go tool mage publish (run %d)\nstdout:\n%s\nstderr:\n%s", i+1, stdout.String(), stderr.String())
		t.Logf("run %d: go tool mage publish took %s\n%s", i+1, took.Round(time.Millisecond), stdout.String())
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			if strings.HasPrefix(line, image+":") {
				runs[i] = append(runs[i], line)
			}
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		require.NotEmpty(t, runs[i], "run %d printed the pushed references", i+1)
		assert.Equal(t, runs[i], lines[len(lines)-len(runs[i]):], "pushed references are the last lines")
	}
	assert.Len(t, runs[0], 4, "two variants, each <version>-<variant> and <variant>: %v", runs[0])
	assert.Equal(t, runs[0], runs[1], "publish twice gives the same digests")

	reg2 := pubRepo(t, image)
	for _, variant := range []string{"scratch", "alpine"} {
		idx, err := remote.Index(reg2.Tag(variant))
		require.NoError(t, err)
		im, err := idx.IndexManifest()
		require.NoError(t, err)
		var plats []string
		for _, d := range im.Manifests {
			plats = append(plats, d.Platform.String())
		}
		assert.Equal(t, []string{"linux/amd64", "linux/arm64"}, plats, variant)
	}
}
