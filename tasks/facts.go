package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"

	"github.com/magepack/magepack/tasks/cgo"
	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/toolchain"
	"github.com/magepack/magepack/tasks/version"
)

// gather makes every probe a run's plan needs, once: the toolchain (go
// env, its ports), the main packages (one go list), git, the dist folder,
// the CA bundle, the C compilers on PATH and SOURCE_DATE_EPOCH, through
// the run's environment only. It decides nothing. A probe that cannot run
// at all (go missing, a toolchain that cannot be fetched, Ctrl-C) is its
// error; what a probe says about the repository goes into the facts for
// the plan to judge. It also returns what go env said, which the
// executor keeps (GOFLAGS, GOEXE, the cache).
func gather(ctx context.Context, o options, dir string, getenv func(string) string, environ []string) (plan.Facts, *toolchain.Info, error) {
	var f plan.Facts
	ahead := startSources(ctx, o, dir, environ)
	defer ahead.stop()
	tc, err := toolchain.Probe(ctx, dir, toolchain.WithEnv(environ))
	if err != nil {
		return f, nil, toolchainError(err, o.Toolchain)
	}
	f.GoVersion, f.GoFlags = tc.GOVERSION, tc.GOFLAGS
	f.Host = gobuild.Target{OS: tc.GOHOSTOS, Arch: tc.GOHOSTARCH}
	f.ToolchainNotes = toolchainNotes(o.Toolchain, tc)
	if f.ModuleRoot, err = tc.ModuleRoot(); err != nil {
		return f, nil, err
	}
	if f.ModulePath, err = tc.ModulePath(); err != nil {
		return f, nil, err
	}
	if f.Ports, err = tc.Ports(ctx); err != nil {
		return f, nil, err
	}
	if took, err := ahead.take(&f); err != nil {
		return f, nil, err
	} else if !took {
		if err := probeSources(ctx, o, &f, environ); err != nil {
			return f, nil, err
		}
	}
	dist := o.Dist
	if !filepath.IsAbs(dist) {
		dist = filepath.Join(f.ModuleRoot, dist)
	}
	if fi, err := os.Stat(dist); err == nil && !fi.IsDir() {
		f.DistIsFile = true
	}
	if o.CABundle != "" {
		f.CABundleErr = checkCABundle(o.CABundle)
	}
	f.SourceDateEpoch = getenv("SOURCE_DATE_EPOCH")
	f.Compilers = compilersOnPath(o, f)
	f.Dockerfile = dockerfileFacts(o.Dockerfile, f.ModuleRoot)
	return f, tc, nil
}

// probeSources asks go list for the main packages and git for the
// version at the same time: neither needs the other's answer, and each is
// mostly waiting on its own process, so a run starts building sooner.
func probeSources(ctx context.Context, o options, f *plan.Facts, environ []string) error {
	var (
		wg     sync.WaitGroup
		git    version.Info
		gitErr error
	)
	wg.Go(func() { git, gitErr = gitInfo(ctx, f.ModuleRoot, o) })
	var err error
	f.Mains, f.MainsErr = gobuild.ResolveMainsEnv(ctx, environ, f.ModuleRoot, o.MainSpec)
	if err = probeFailed(ctx, f.MainsErr); err == nil {
		f.ModuleMains, err = moduleMains(ctx, o, *f, environ)
	}
	wg.Wait()
	f.Git, f.GitErr = git, gitErr
	if err != nil {
		return err
	}
	// No repository is the plan's to judge (MAGEPACK_VERSION may make
	// up for it); git failing in a repository is not.
	if f.GitErr != nil && !errors.Is(f.GitErr, version.ErrNoGit) {
		return f.GitErr
	}
	return nil
}

// aheadSources is probeSources run ahead, while go env runs, in the folder
// the run starts in: most often that is the module root, which go env
// names, and then its answers are the ones probeSources would give.
type aheadSources struct {
	root   string // absolute; "" when nothing was started
	f      plan.Facts
	err    error
	done   chan struct{}
	cancel context.CancelFunc
}

func startSources(ctx context.Context, o options, dir string, environ []string) *aheadSources {
	a := &aheadSources{done: make(chan struct{})}
	root, err := filepath.Abs(dir)
	if err != nil {
		close(a.done)
		return a
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.root, a.f.ModuleRoot = root, root
	go func() {
		defer close(a.done)
		a.err = probeSources(ctx, o, &a.f, environ)
	}()
	return a
}

// take puts the answers into f when they were asked in f's module root,
// and says whether it did; otherwise it stops them.
func (a *aheadSources) take(f *plan.Facts) (bool, error) {
	if a.root == "" || a.root != f.ModuleRoot {
		a.stop()
		return false, nil
	}
	<-a.done
	f.Mains, f.MainsErr, f.ModuleMains = a.f.Mains, a.f.MainsErr, a.f.ModuleMains
	f.Git, f.GitErr = a.f.Git, a.f.GitErr
	return true, a.err
}

// stop ends the probes (if still running) and waits for them.
func (a *aheadSources) stop() {
	if a.cancel != nil {
		a.cancel()
	}
	<-a.done
}

// dockerfileFacts reads and parses the configured Dockerfile and go.mod's
// go directive, once per run; nil when no Dockerfile is configured.
func dockerfileFacts(df, root string) *plan.DockerfileFacts {
	if df == "" {
		return nil
	}
	f := &plan.DockerfileFacts{}
	if filepath.IsAbs(df) {
		rel, err := filepath.Rel(root, df)
		if err != nil || !filepath.IsLocal(rel) {
			f.Outside = true
			return f
		}
		df = rel
	}
	f.Path = filepath.ToSlash(df)
	if f.File, f.ReadErr = dockerfile.Read(filepath.Join(root, df)); f.ReadErr != nil {
		return f
	}
	f.GoMod, f.GoModErr = dockerfile.GoModVersion(filepath.Join(root, "go.mod"))
	return f
}

// probeFailed is err when it says the probe was stopped (Ctrl-C), which no
// plan should judge; nil otherwise.
func probeFailed(ctx context.Context, err error) error {
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// moduleMains lists every main package's name, only when per-service
// settings name a service that the selected mains lack: a second go list
// is then the way to tell a typo from a service this run leaves out.
func moduleMains(ctx context.Context, o options, f plan.Facts, environ []string) ([]string, error) {
	missing := false
	for n := range o.Services {
		missing = missing || !hasMain(f.Mains, n, o.Name)
	}
	if !missing {
		return nil, nil
	}
	all, err := gobuild.ResolveMainsEnv(ctx, environ, f.ModuleRoot, "./...")
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, nil
	}
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = m.Name
	}
	return names, nil
}

func hasMain(mains []gobuild.Main, name, configured string) bool {
	if name == configured {
		return true
	}
	return slices.ContainsFunc(mains, func(m gobuild.Main) bool { return m.Name == name })
}

// gitInfo is what git says of the module's version; with MAGEPACK_VERSION
// set, git still gives the commit and date when there is a repository.
func gitInfo(ctx context.Context, root string, o options) (version.Info, error) {
	var opts []version.Option
	if o.TagPrefix != nil {
		opts = append(opts, version.WithTagPrefix(*o.TagPrefix))
	}
	return version.FromGit(ctx, root, opts...)
}

// compilersOnPath finds every C compiler a cgo build's choice would ask
// for (cgo.Choose with a recording lookup), so the plan chooses among
// facts. Nothing is looked up without cgo.
func compilersOnPath(o options, f plan.Facts) map[string]string {
	if !o.CGO {
		return nil
	}
	pls, err := platform.Parse(o.Platforms, f.Ports, f.GoVersion)
	if err != nil {
		return nil
	}
	targets := make([]gobuild.Target, len(pls))
	for i, pl := range pls {
		targets[i] = gobuild.Target{OS: pl.OS, Arch: pl.Arch}
	}
	found := map[string]string{}
	look := func(name string) (string, error) {
		path, err := exec.LookPath(name)
		found[name] = path
		return path, err
	}
	_, _ = cgo.Choose(o.CC, targets, f.Host, o.CGOStatic, look)
	return found
}

// checkCABundle rejects a configured CA bundle that is not a non-empty
// regular file, before any build: images would fail late without it.
func checkCABundle(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("CA bundle %q cannot be read (%v): set MAGEPACK_CA_BUNDLE to a PEM file such as /etc/ssl/certs/ca-certificates.crt, or unset it to use the system's", path, err)
	case !fi.Mode().IsRegular() || fi.Size() == 0:
		return fmt.Errorf("CA bundle %q is not a non-empty file: set MAGEPACK_CA_BUNDLE to a PEM file such as /etc/ssl/certs/ca-certificates.crt, or unset it to use the system's", path)
	}
	return nil
}
