package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/toolchain"
	"github.com/magepack/magepack/tasks/version"
)

// setup finds the module, clones it into the work folder, installs the
// peers (full mode), builds the helpers once, starts the registry and
// records the version the builds stamp.
func (h *harness) setup() error {
	tc, err := toolchain.Probe(h.ctx, ".")
	if err != nil {
		return err
	}
	root, err := tc.ModuleRoot()
	if err != nil {
		return err
	}
	h.goVersion = tc.GOVERSION
	h.root = root
	// A full run and a tiny run (CI) may overlap: each mode has a folder,
	// an image name and a lock of its own; only the peers' binaries are
	// shared.
	mode := "full"
	if h.tiny {
		mode = "tiny"
		h.image = benchImage + "-tiny"
	}
	h.toolsDir = filepath.Join(root, "bench", ".work", "tools")
	h.work = filepath.Join(root, "bench", ".work", mode)
	h.logs = filepath.Join(h.work, "logs")
	h.repo = filepath.Join(h.work, "repo")
	if err := os.MkdirAll(h.work, 0o755); err != nil {
		return err
	}
	if err := h.lock(filepath.Join(h.work, "lock")); err != nil {
		return err
	}
	h.loadStart = loadavg()
	for _, d := range []string{h.repo, h.logs, filepath.Join(h.work, "cold")} {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(h.logs, 0o755); err != nil {
		return err
	}
	h.platforms = platform.Default
	if h.tiny {
		h.platforms = "linux/amd64"
	}
	h.env = withEnv(os.Environ(),
		"MAGEPACK_IMAGE="+h.image,
		"MAGEPACK_PLATFORMS="+h.platforms,
		"MAGEPACK_ALPINE_BASE="+envOr("MAGEPACK_ALPINE_BASE", "magepack-test/alpine:3"),
		"MAGEPACK_BUILDER="+envOr("MAGEPACK_BUILDER", "magepack-test/golang:1.26"),
		// mage names its compiled magefile by the magefile's hash alone, in
		// ~/.magefile: a folder of our own keeps a concurrent `go tool mage`
		// in another checkout from swapping that binary under us.
		"MAGEFILE_CACHE="+filepath.Join(h.work, "magefile-cache"),
		// magepack prints each phase's duration; the report breaks the
		// figures down by them (timings.go).
		timingsEnv,
		"-MAGEPACK_DOCKERFILE", "-MAGEPACK_SMOKE", "-MAGEPACK_VARIANTS", "-MAGEPACK_DIST", "-MAGEPACK_VERSION",
		"-KO_DOCKER_REPO", "-KO_DEFAULTBASEIMAGE",
	)
	if !h.tiny {
		// Every warm figure shares one build cache of its own, so other
		// work on the machine neither warms nor evicts it.
		h.warmCache = filepath.Join(h.work, "gocache-warm")
		h.env = withEnv(h.env, "GOCACHE="+h.warmCache)
	}

	if _, _, err := h.run("git clone", cmd{dir: h.work, name: "git", args: []string{"clone", "-q", "--no-hardlinks", h.root, h.repo}}); err != nil {
		return err
	}
	if h.ver, err = version.FromGit(h.ctx, h.repo); err != nil {
		return err
	}
	cfg := h.buildConfig(filepath.Join(h.work, "loop-dist"))
	if h.ldflags, err = gobuild.Ldflags(cfg); err != nil {
		return err
	}
	targets := []gobuild.Target{}
	for _, p := range strings.Split(h.platforms, ",") {
		os, arch, _ := strings.Cut(p, "/")
		targets = append(targets, gobuild.Target{OS: os, Arch: arch})
	}
	if h.jobs, err = gobuild.Plan(cfg, targets, nil); err != nil {
		return err
	}

	h.inspectBin = filepath.Join(h.work, "bin", "inspect")
	if _, _, err := h.run("build bench/inspect", cmd{dir: h.root, name: "go", args: []string{"build", "-o", h.inspectBin, "./bench/inspect"}}); err != nil {
		return err
	}
	if !h.tiny && os.Getenv("MAGEPACK_ALPINE_BASE") == "" && os.Getenv("MAGEPACK_BUILDER") == "" {
		// The fixture images the tests build (an Alpine-like base, a Go
		// builder from the local toolchain): made once, reused after.
		fixtures := cmd{dir: h.root, env: []string{"CI=true"}, name: "go", args: []string{"test", "-count=1", "-run", "^(TestAlpineBaseEngine|TestGoBuilderEngine)$", "./tasks/internal/fixture"}}
		if _, _, err := h.run("fixture images", fixtures); err != nil {
			return err
		}
	}
	if !h.tiny && h.needPeers {
		h.installTools()
		if err := h.writePeerConfigs(h.ldflags); err != nil {
			return err
		}
		h.mageBin = filepath.Join(h.work, "bin", "magefile")
		if _, _, err := h.run("mage -compile", cmd{dir: h.repo, name: "go", args: []string{"tool", "mage", "-compile", h.mageBin}}); err != nil {
			return err
		}
	}
	if !h.needRegistry {
		return nil
	}
	if err := h.startRegistry(); err != nil {
		if !h.tiny {
			return err
		}
		h.notes = append(h.notes, "publish not measured: "+err.Error())
	}
	if h.registry != "" && !h.tiny && h.needPeers {
		if h.koBase, err = h.pushKoBase(h.ctx); err != nil {
			return err
		}
		h.env = withEnv(h.env, "KO_DEFAULTBASEIMAGE="+h.koBase)
	}
	return nil
}

// lock takes an exclusive lock on path for the rest of the run, or says
// that another run of the same mode holds it.
func (h *harness) lock(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("another bench run of this mode is using %s (lock %s held): wait for it to finish", filepath.Dir(path), path)
	}
	h.lockFile = f
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// buildConfig is magepack's own build configuration for example-app, so
// the loop runs exactly the go build argv that crossCompile runs.
func (h *harness) buildConfig(distDir string) gobuild.Config {
	return gobuild.Config{
		ModuleDir:   h.repo,
		Main:        "./example-app",
		Name:        "example-app",
		Dist:        distDir,
		VersionVars: gobuild.Vars{Version: "main.version", Commit: "main.commit", Date: "main.date"},
		Version:     h.ver.String(),
		Commit:      h.ver.Commit,
		Date:        h.ver.Date,
	}
}

// coldCache returns a fresh, empty GOCACHE folder.
func (h *harness) coldCache() (string, error) {
	dir, err := os.MkdirTemp(filepath.Join(h.work, "cold"), "gocache-")
	if err != nil {
		if err := os.MkdirAll(filepath.Join(h.work, "cold"), 0o755); err != nil {
			return "", err
		}
		return os.MkdirTemp(filepath.Join(h.work, "cold"), "gocache-")
	}
	return dir, nil
}

func parseInt(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cleanup stops the registry, removes the cold caches and the engine
// images this run made under its own names.
func (h *harness) cleanup() {
	h.stopRegistry()
	if h.lockFile == nil {
		return // another run holds this mode's folder: touch nothing of it
	}
	defer h.lockFile.Close()
	if h.work != "" {
		os.RemoveAll(filepath.Join(h.work, "cold"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	list := output(ctx, "", "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
	var refs []string
	for _, r := range strings.Fields(list) {
		if strings.HasPrefix(r, h.image+":") || (!h.tiny && strings.HasPrefix(r, "ko.local/")) {
			refs = append(refs, r)
		}
	}
	if len(refs) > 0 {
		_ = exec.CommandContext(ctx, "docker", append([]string{"image", "rm", "--force"}, refs...)...).Run()
	}
}
