package tasks

// The image targets' pieces against the real engine, in-process:
// resolve a real module in a real git repository, build its binary, then
// assembledImage / dockerfileImage and smoke, as dockerScratch and
// dockerAlpine do in a mage run. (Calling the exported targets twice in
// one process would meet mage's run-once state.)

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/internal/fixture"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/platform"
)

// dockerEnv is what the engine tests share: the engine, the client under
// it and the engine's platform.
type dockerEnv struct {
	cli *client.Client
	eng *engine.Engine
	pl  platform.Platform
}

// newDockerEnv connects to the engine (skipping outside CI when there is
// none, see fixture.Engine) and asks its platform.
func newDockerEnv(t *testing.T) dockerEnv {
	t.Helper()
	cli := fixture.Engine(t)
	ctx := context.Background()
	eng, err := engine.Connect(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = eng.Close() })
	goos, arch, variant, err := eng.Platform(ctx)
	require.NoError(t, err)
	require.Equal(t, "linux", goos, "the engine runs Linux containers")
	return dockerEnv{cli: cli, eng: eng, pl: platform.Platform{OS: goos, Arch: arch, Variant: variant}}
}

// testRepo returns an image repository unique to the test and removes
// every image tagged in it when the test ends.
func (d dockerEnv) testRepo(t *testing.T, what string) string {
	t.Helper()
	repo := "magepack-test/dk-" + what + "-" + randomSuffix(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, tag := range d.tags(t, repo) {
			if _, err := d.cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
				t.Errorf("clean up %s: %v", tag, err)
			}
		}
	})
	return repo
}

// tags lists the tags the engine has in repo.
func (d dockerEnv) tags(t *testing.T, repo string) []string {
	t.Helper()
	list, err := d.cli.ImageList(context.Background(), client.ImageListOptions{Filters: client.Filters{}.Add("reference", repo)})
	require.NoError(t, err)
	var tags []string
	for _, img := range list.Items {
		tags = append(tags, img.RepoTags...)
	}
	return tags
}

// run resolves cfg for the module in dir with the engine tests' defaults
// (the engine's platform only, the fixture Alpine base, no pulls, /healthz
// smoke runs) and nothing from the environment, on this test's engine.
func (d dockerEnv) run(t *testing.T, dir string, cfg Config) *run {
	t.Helper()
	if cfg.Platforms == "" {
		cfg.Platforms = d.pl.OS + "/" + d.pl.Arch
	}
	if cfg.AlpineBase == "" {
		cfg.AlpineBase = fixture.AlpineBase(t)
	}
	if cfg.Pull == "" {
		cfg.Pull = "never"
	}
	if cfg.Smoke == "" {
		cfg.Smoke = "/healthz"
	}
	r := mustRun(t, dir, cfg, nil)
	r.connect = func(context.Context) (dockerEngine, error) { return d.eng, nil }
	return r
}

// binary builds r's (only) service for the engine's platform, as the image
// targets do, and returns what its headers say.
func (d dockerEnv) binary(t *testing.T, r *run) linkage.Report {
	t.Helper()
	reports, err := r.engineBinaries(context.Background())
	require.NoError(t, err)
	return reports[r.p.services[0].name]
}

// image assembles and loads r's (only) service's variant image from its
// engine binary, as dockerScratch and dockerAlpine do before the smoke run.
func (d dockerEnv) image(t *testing.T, r *run, variant string) (dist.Image, error) {
	t.Helper()
	return r.assembledImage(context.Background(), d.eng, r.p.services[0], variant, d.binary(t, r))
}

// readFile returns the content of the file at path in image ref, read from
// a container that is created, never started, and removed.
func (d dockerEnv) readFile(t *testing.T, ref, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Image:      ref,
		Config:     &container.Config{Labels: map[string]string{engine.InspectLabel: "1"}},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	require.NoError(t, err)
	defer func() {
		rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer rcancel()
		_, err := d.cli.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true})
		assert.NoError(t, err, "remove the container")
	}()
	res, err := d.cli.CopyFromContainer(ctx, created.ID, client.CopyFromContainerOptions{SourcePath: path})
	require.NoError(t, err, "%s in %s", path, ref)
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	for {
		hdr, err := tr.Next()
		require.NoError(t, err, "%s in %s is not a regular file", path, ref)
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			return string(b)
		}
	}
}

// noContainersOf asserts that no container of an image in repo is left.
func (d dockerEnv) noContainersOf(t *testing.T, repo string) {
	t.Helper()
	list, err := d.cli.ContainerList(context.Background(), client.ContainerListOptions{All: true})
	require.NoError(t, err)
	for _, c := range list.Items {
		assert.False(t, strings.HasPrefix(c.Image, repo+":"), "container %s of %s is left behind", c.ID[:12], c.Image)
	}
}

func TestEngineScratchImage(t *testing.T) {
	slow(t, "the engine")
	d := newDockerEnv(t)
	ctx := context.Background()
	repo := d.testRepo(t, "scratch")
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")
	head := strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
	r := d.run(t, dir, Config{Image: repo})
	p := r.p
	bin := d.binary(t, r)
	buf := output(r)

	start := time.Now()
	img, err := d.image(t, r, "scratch")
	require.NoError(t, err)
	t.Logf("assembled and loaded in %s", time.Since(start).Round(time.Millisecond))
	require.NoError(t, r.smoke(ctx, d.eng, p.services[0], "scratch", img.Reference), "the image answers /healthz")
	assert.Contains(t, buf.String(), "[scratch] smoke run ok: /healthz answered 200")

	info, err := d.eng.Inspect(ctx, img.Reference)
	require.NoError(t, err)
	t.Run("config", func(t *testing.T) {
		assert.Equal(t, "65532:65532", info.Config.User)
		assert.Equal(t, []string{"/usr/local/bin/svc"}, info.Config.Entrypoint)
		assert.Equal(t, []string{"8080/tcp"}, info.Config.ExposedPorts)
		assert.Equal(t, d.pl.Arch, info.Architecture)
		assert.Equal(t, fixture.CommitTime, info.Created.UTC(), "created is the commit time")
	})
	t.Run("labels", func(t *testing.T) {
		for k, v := range map[string]string{
			"org.opencontainers.image.title":    "svc",
			"org.opencontainers.image.version":  "1.2.3",
			"org.opencontainers.image.revision": head,
			"org.opencontainers.image.created":  "2024-05-06T07:08:09Z",
			"org.opencontainers.image.source":   "https://example.com/acme/svc",
		} {
			assert.Equal(t, v, info.Config.Labels[k], k)
		}
	})
	t.Run("tags", func(t *testing.T) {
		want := []string{repo + ":1.2.3-scratch", repo + ":1.2-scratch", repo + ":1-scratch", repo + ":scratch"}
		assert.Equal(t, want, img.Tags)
		assert.ElementsMatch(t, want, info.RepoTags)
		assert.Equal(t, want[0], img.Reference)
	})
	t.Run("files", func(t *testing.T) {
		host, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
		require.NoError(t, err)
		assert.Equal(t, string(host), d.readFile(t, img.Reference, "/etc/ssl/certs/ca-certificates.crt"), "the build machine's CA bundle")
		assert.Contains(t, d.readFile(t, img.Reference, "/etc/passwd"), "nonroot:x:65532:65532:")
		assert.Contains(t, d.readFile(t, img.Reference, "/etc/group"), "nonroot:x:65532:")
		facts, err := d.eng.Facts(ctx, img.Reference)
		require.NoError(t, err)
		assert.False(t, facts.Shell, "no shell in scratch")
		assert.Equal(t, 1, facts.Layers)
		assert.Equal(t, 4, facts.Files, "binary, CA bundle, passwd, group")
	})
	t.Run("identity and size", func(t *testing.T) {
		assert.Equal(t, img.ID, info.ID)
		assert.Equal(t, img.ID, img.ConfigDigest, "a loaded image's ID is its config digest")
		assert.True(t, strings.HasPrefix(img.ManifestDigest, "sha256:"), img.ManifestDigest)
		assert.NotEqual(t, img.ConfigDigest, img.ManifestDigest)
		fi, err := os.Stat(bin.Path)
		require.NoError(t, err)
		assert.Less(t, img.Size-fi.Size(), int64(250<<10), "the scratch image (%d bytes) is within 250 KB of the binary (%d bytes)", img.Size, fi.Size())
		assert.Contains(t, buf.String(), "a registry would show the manifest digest "+short(img.ManifestDigest))
	})
	t.Run("a second build sends nothing", func(t *testing.T) {
		buf.Reset()
		again, err := d.image(t, r, "scratch")
		require.NoError(t, err)
		assert.Equal(t, img.ID, again.ID)
		assert.Contains(t, buf.String(), "unchanged, not sent")
	})
	d.noContainersOf(t, repo)
}

func TestEngineAlpineImage(t *testing.T) {
	slow(t, "the engine")
	d := newDockerEnv(t)
	ctx := context.Background()
	repo := d.testRepo(t, "alpine")
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")
	r := d.run(t, dir, Config{Image: repo})
	p := r.p
	d.binary(t, r)

	img, err := d.image(t, r, "alpine")
	require.NoError(t, err)
	require.NoError(t, r.smoke(ctx, d.eng, p.services[0], "alpine", img.Reference), "the image answers /healthz")
	assert.Equal(t, repo+":1.2.3-alpine", img.Reference)

	info, err := d.eng.Inspect(ctx, img.Reference)
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", info.Config.User)
	assert.Equal(t, "1.2.3", info.Config.Labels["org.opencontainers.image.version"])
	assert.Contains(t, info.Config.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "the base's environment is kept")

	passwd := d.readFile(t, img.Reference, "/etc/passwd")
	group := d.readFile(t, img.Reference, "/etc/group")
	for _, want := range []string{"root:x:0:0:", "daemon:x:2:2:", fixture.AlpineUser + ":x:1000:1000:", "nobody:x:65534:65534:", "nonroot:x:65532:65532:"} {
		assert.Contains(t, passwd, want, "/etc/passwd keeps the base's users and adds nonroot")
	}
	for _, want := range []string{"root:x:0:", fixture.AlpineUser + ":x:1000:", "nonroot:x:65532:"} {
		assert.Contains(t, group, want)
	}

	base, err := d.eng.Image(ctx, p.opts.AlpineBase)
	require.NoError(t, err)
	built, err := d.eng.Image(ctx, img.Reference)
	require.NoError(t, err)
	baseCfg, err := base.ConfigFile()
	require.NoError(t, err)
	builtCfg, err := built.ConfigFile()
	require.NoError(t, err)
	require.Len(t, builtCfg.RootFS.DiffIDs, len(baseCfg.RootFS.DiffIDs)+1, "the base's layers plus one")
	assert.Equal(t, baseCfg.RootFS.DiffIDs, builtCfg.RootFS.DiffIDs[:len(baseCfg.RootFS.DiffIDs)], "the base's layers unchanged")
	d.noContainersOf(t, repo)
}

func TestEngineSameImageFromTwoClones(t *testing.T) {
	slow(t, "the engine")
	d := newDockerEnv(t)
	ctx := context.Background()
	repo := d.testRepo(t, "clones")
	origin := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")

	ids := map[string][]string{}
	for i, clone := range []string{filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two", "deeper")} {
		git(t, origin, "clone", "-q", origin, clone)
		r := d.run(t, clone, Config{Image: repo})
		p := r.p
		require.Equal(t, "1.2.3", p.versionString())
		d.binary(t, r)
		for _, variant := range []string{"scratch", "alpine"} {
			buf := output(r)
			buf.Reset()
			img, err := d.image(t, r, variant)
			require.NoError(t, err, "clone %d, %s", i+1, variant)
			ids[variant] = append(ids[variant], img.ID)
			if i == 1 {
				assert.Contains(t, buf.String(), "unchanged, not sent", "the engine already had the second clone's %s image", variant)
			}
			info, err := d.eng.Inspect(ctx, img.ID)
			require.NoError(t, err)
			assert.Equal(t, fixture.CommitTime, info.Created.UTC(), "without SOURCE_DATE_EPOCH the creation time is the commit's")
		}
	}
	for variant, got := range ids {
		require.Len(t, got, 2)
		assert.Equal(t, got[0], got[1], "the %s image ID is the same from both clones", variant)
	}
	assert.NotEqual(t, ids["scratch"][0], ids["alpine"][0])
}

func TestEngineMovedTagLeavesNoDanglingImage(t *testing.T) {
	slow(t, "the engine")
	d := newDockerEnv(t)
	ctx := context.Background()
	repo := d.testRepo(t, "moved")
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "")

	// Same version (configured) and tags, different binaries: the second
	// image takes every tag from the first.
	var loaded []string
	for i, greeting := range []string{"first", "second"} {
		fixture.WriteFiles(t, dir, map[string]string{"main.go": strings.Replace(fixture.ServiceMain, `"svc", version`, `"`+greeting+`", version`, 1)})
		r := d.run(t, dir, Config{Image: repo, Version: "1.0.0"})
		d.binary(t, r)
		img, err := d.image(t, r, "scratch")
		require.NoError(t, err, "build %d", i+1)
		loaded = append(loaded, img.ID)
	}
	require.Len(t, loaded, 2)
	assert.NotEqual(t, loaded[0], loaded[1], "the binaries differ")
	_, err := d.eng.Inspect(ctx, loaded[0])
	assert.ErrorIs(t, err, engine.ErrImageNotFound, "the image %s the tags moved away from is removed", short(loaded[0]))
	info, err := d.eng.Inspect(ctx, repo+":scratch")
	require.NoError(t, err)
	assert.Equal(t, loaded[1], info.ID)
	assert.ElementsMatch(t, []string{repo + ":1.0.0-scratch", repo + ":1.0-scratch", repo + ":1-scratch", repo + ":scratch"}, info.RepoTags)

	dangling, err := d.cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("dangling", "true")})
	require.NoError(t, err)
	for _, img := range dangling.Items {
		assert.NotContains(t, loaded, img.ID, "a dangling image is left")
	}
}

func TestEngineAlpineBasePull(t *testing.T) {
	slow(t, "the engine")
	d := newDockerEnv(t)
	ctx := context.Background()
	repo := d.testRepo(t, "pull")
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")

	t.Run("never with a missing base", func(t *testing.T) {
		missing := "magepack-test/no-such-base-" + randomSuffix(t) + ":3"
		r := d.run(t, dir, Config{Image: repo, AlpineBase: missing, Pull: "never"})
		d.binary(t, r)
		_, err := d.image(t, r, "alpine")
		require.Error(t, err)
		assert.Equal(t, ExitImage, exitCode(err), "%v", err)
		assert.ErrorIs(t, err, engine.ErrImageNotFound)
		assert.Contains(t, err.Error(), `"`+missing+`"`)
		assert.Contains(t, err.Error(), "the pull policy never forbids pulling")
		assert.Contains(t, fail(err).Error(), "set MAGEPACK_PULL=missing", "the target names the setting")
		assert.Empty(t, d.tags(t, repo), "no image is made")
	})

	t.Run("missing pulls from a registry", func(t *testing.T) {
		reg := fixture.StartRegistry(t)
		ref := reg.Host + "/alpine:3"
		base, err := d.eng.Image(ctx, fixture.AlpineBase(t))
		require.NoError(t, err)
		tag, err := name.ParseReference(ref)
		require.NoError(t, err)
		require.NoError(t, remote.Write(tag, base), "push the fixture base to the registry")
		t.Cleanup(func() { _ = d.eng.Remove(context.Background(), ref) })
		_, err = d.eng.Inspect(ctx, ref)
		require.ErrorIs(t, err, engine.ErrImageNotFound, "the engine lacks %s before the run", ref)

		r := d.run(t, dir, Config{Image: repo, AlpineBase: ref, Pull: "missing"})
		p := r.p
		d.binary(t, r)
		img, err := d.image(t, r, "alpine")
		require.NoError(t, err)
		_, err = d.eng.Inspect(ctx, ref)
		assert.NoError(t, err, "the engine pulled %s", ref)
		require.NoError(t, r.smoke(ctx, d.eng, p.services[0], "alpine", img.Reference))
		assert.Contains(t, d.readFile(t, img.Reference, "/etc/passwd"), fixture.AlpineUser+":x:1000:", "built on the pulled base")
	})
}

func TestEngineLinkageRefusals(t *testing.T) {
	slow(t, "the engine")
	d := newDockerEnv(t)
	fixture.GCC(t)
	ctx := context.Background()
	repo := d.testRepo(t, "glibc")
	dir := svcRepo(t, map[string]string{"main.go": fixture.ServiceMain}, "v1.2.3")

	// A cgo build of a net/http program links glibc dynamically. The
	// Alpine base is one the engine lacks and may not pull: the check must
	// refuse before the base is even looked at.
	r := d.run(t, dir, Config{Image: repo, CGO: true, AlpineBase: "magepack-test/no-such-base-" + randomSuffix(t) + ":3", Smoke: "start"})
	p := r.p
	bin := d.binary(t, r)
	require.Equal(t, linkage.Dynamic, bin.Linkage)
	require.Equal(t, linkage.Glibc, bin.Libc)

	tests := []struct {
		variant string
		want    []string
	}{
		{"alpine", []string{bin.Path, bin.Interpreter, "CGO_ENABLED=0"}},
		{"scratch", []string{bin.Path, "dynamic", "CGO_ENABLED=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.variant+" refuses before building", func(t *testing.T) {
			_, err := d.image(t, r, tt.variant)
			require.Error(t, err)
			var v *linkage.Violation
			assert.True(t, errors.As(err, &v), "a *linkage.Violation, got %T: %v", err, err)
			assert.Equal(t, ExitCheck, exitCode(err))
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, d.tags(t, repo), "no image is made")
		})
	}

	t.Run("bypassed, the smoke run shows the failure", func(t *testing.T) {
		base, err := d.eng.Image(ctx, fixture.AlpineBase(t))
		require.NoError(t, err)
		img, err := assemble(p.planImage(p.services[0], "alpine", d.pl, bin.Path), base, "")
		require.NoError(t, err)
		refs := p.refs(p.services[0], "alpine")
		_, err = d.eng.Load(ctx, img, refs, nil)
		require.NoError(t, err)
		err = r.smoke(ctx, d.eng, p.services[0], "alpine", refs[0])
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no such file or directory", "a glibc binary cannot start on Alpine: its loader is not there")
		assert.Equal(t, ExitImage, exitCode(err))
		d.noContainersOf(t, repo)
	})
}

// removeBuildLeftovers removes the untagged images a Dockerfile build left
// (the legacy builder keeps each build stage's image) whose history holds
// marker, with their untagged parents. Nothing is forced: an image another
// build still uses stays.
func (d dockerEnv) removeBuildLeftovers(t *testing.T, marker string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := d.cli.ImageList(ctx, client.ImageListOptions{Filters: client.Filters{}.Add("dangling", "true")})
	if err != nil {
		t.Logf("list dangling images: %v", err)
		return
	}
	for _, img := range list.Items {
		hist, err := d.cli.ImageHistory(ctx, img.ID)
		if err != nil {
			continue
		}
		for _, h := range hist.Items {
			if strings.Contains(h.CreatedBy, marker) {
				if _, err := d.cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
					t.Logf("remove build stage image %s: %v", short(img.ID), err)
				}
				break
			}
		}
	}
}

// TestEngineExampleAppDockerfiles builds example-app with both of its own
// Dockerfiles through the engine (own-Dockerfile mode), from this
// checkout, with the fixture Go builder and Alpine base, then smoke-runs
// each image on /healthz.
func TestEngineExampleAppDockerfiles(t *testing.T) {
	slow(t, "the engine")
	d := newDockerEnv(t)
	builder := fixture.GoBuilder(t)
	alpine := fixture.AlpineBase(t)
	wd, err := os.Getwd()
	require.NoError(t, err)
	root := filepath.Dir(wd) // tests run in <repo>/tasks
	// A version unique to the run marks the build-stage images for removal.
	// "x" keeps the identifier alphanumeric: a numeric one with a
	// leading zero (test.0123) is not semver.
	ver := "1.2.3-test.x" + randomSuffix(t)
	t.Cleanup(func() { d.removeBuildLeftovers(t, "VERSION="+ver) })

	tests := []struct {
		dockerfile string
		variant    string
		shell      bool
	}{
		{"example-app/Dockerfile", "alpine", true},
		{"example-app/Dockerfile.scratch", "scratch", false},
	}
	for _, tt := range tests {
		t.Run(tt.dockerfile, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			repo := d.testRepo(t, "exapp-"+tt.variant)
			r := d.run(t, root, Config{
				Main: "./example-app", Image: repo, Version: ver, Dockerfile: tt.dockerfile,
				Builder: builder, AlpineBase: alpine, Pull: "never", Smoke: "/healthz",
			})
			p := r.p

			start := time.Now()
			img, err := r.dockerfileImage(ctx, d.eng, p.services[0], tt.variant)
			require.NoError(t, err)
			t.Logf("%s built in %s", tt.dockerfile, time.Since(start).Round(100*time.Millisecond))
			require.NoError(t, r.smoke(ctx, d.eng, p.services[0], tt.variant, img.Reference), "the image answers /healthz")

			info, err := d.eng.Inspect(ctx, img.Reference)
			require.NoError(t, err)
			assert.Equal(t, img.ID, info.ID)
			assert.Equal(t, "65532:65532", info.Config.User)
			for k, v := range p.labels(p.services[0]) {
				assert.Equal(t, v, info.Config.Labels[k], k)
			}
			assert.ElementsMatch(t, p.refs(p.services[0], tt.variant), info.RepoTags)
			facts, err := d.eng.Facts(ctx, img.Reference)
			require.NoError(t, err)
			assert.Equal(t, tt.shell, facts.Shell, "shell")
			assert.True(t, facts.CABundle, "CA bundle")

			out, code := fixture.RunCommand(t, d.cli, img.Reference, "-version")
			assert.Equal(t, 0, code)
			assert.Contains(t, out, "example-app "+ver+" (commit "+p.Version.Commit, "VERSION and COMMIT reach the binary")
			d.noContainersOf(t, repo)
		})
	}
}

// TestEngineOldBuilderRefused: a builder image whose Go is older than
// go.mod asks for is refused before the engine builds anything. The stand-in
// builder is an image with only GOLANG_VERSION=1.18.0 in its config, as the
// official golang images set it; nothing runs in it.
func TestEngineOldBuilderRefused(t *testing.T) {
	slow(t, "the engine")
	d := newDockerEnv(t)
	ctx := context.Background()
	repo := d.testRepo(t, "oldgo")
	builder := repo + ":1.18-alpine"
	var layer strings.Builder
	tw := tar.NewWriter(&layer)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "README", Mode: 0o644, Size: 3}))
	_, err := tw.Write([]byte("go\n"))
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	resp, err := d.cli.ImageImport(ctx, client.ImageImportSource{Source: strings.NewReader(layer.String()), SourceName: "-"}, builder,
		client.ImageImportOptions{Changes: []string{"ENV GOLANG_VERSION=1.18.0"}})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp)
	require.NoError(t, resp.Close())

	dir := svcRepo(t, map[string]string{
		"main.go":    fixture.ServiceMain,
		"Dockerfile": "ARG GO_IMAGE\nFROM ${GO_IMAGE} AS build\nRUN exit 1\nFROM scratch\n",
	}, "v1.2.3")
	r := d.run(t, dir, Config{Image: repo, Dockerfile: "Dockerfile", Builder: builder})
	p := r.p
	buf := output(r)
	_, err = r.dockerfileImage(ctx, d.eng, p.services[0], "scratch")
	require.Error(t, err)
	var old *dockerfile.BuilderTooOldError
	require.True(t, errors.As(err, &old), "a *dockerfile.BuilderTooOldError, got %T: %v", err, err)
	assert.Equal(t, ExitConfig, exitCode(err))
	for _, want := range []string{builder, "1.18.0", "go 1.25.0", "golang:1.25-alpine", "MAGEPACK_BUILDER"} {
		assert.Contains(t, fail(err).Error(), want, "as mage shows it")
	}
	assert.NotContains(t, buf.String(), "building", "no build starts")
	assert.ElementsMatch(t, []string{builder}, d.tags(t, repo), "no image is made")
}
