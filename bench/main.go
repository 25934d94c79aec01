// Command bench measures magepack against the tools users would pick instead
// (a plain go build loop, gox, goreleaser, ko, and a multi-stage Dockerfile)
// on example-app, in one run on one machine, and writes bench/RESULTS.md.
//
//	go run ./bench            # full run: cold and warm, all peers (takes long)
//	go run ./bench -n 3       # fewer repetitions
//	go run ./bench -tiny      # one platform, one repetition, no peers, no installs (CI)
//
// It works on a scratch clone of the repo in bench/.work/ (git-ignored),
// edits example-app there (a new string each run, so no cache hides the
// change), and installs the peers with `go install` into bench/.work/tools/.
// It needs a Docker engine, and Debian's docker-registry for the push
// figures. It exits non-zero when one of magepack's own steps fails; a peer
// that cannot be installed or run is reported as unavailable.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/version"
)

// defaultPlatforms are magepack's five default platforms.
const defaultPlatforms = "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64"

// benchImage is the repository the harness's engine images get (with
// "-tiny" in tiny mode), so they never touch anyone else's tags; removed at
// the end.
const benchImage = "magepack-bench/example-app"

type harness struct {
	ctx        context.Context
	image      string // engine repository of this run's images
	toolsDir   string // peers' binaries, shared by runs
	lockFile   *os.File
	root       string // this module's root
	work       string // bench/.work
	repo       string // the scratch clone
	logs       string
	tiny       bool
	n, coldN   int
	platforms  string
	env        []string // environment of every command
	warmCache  string
	mageBin    string // the magefile compiled once (mage -compile)
	inspectBin string
	registry   string
	regCmd     *exec.Cmd
	koBase     string
	tools      map[string]*tool
	figs       map[string]*figure
	order      []string
	sizes      []sizeRow
	notes      []string
	seq, edits int
	started    time.Time
	loadStart  string
	ver        version.Info
	ldflags    string
	jobs       []gobuild.Job
	lastID     map[string]string
}

func main() {
	n := flag.Int("n", 5, "repetitions of every warm figure (the median, min and max are reported)")
	coldN := flag.Int("cold-n", 3, "repetitions of every cold (empty GOCACHE) figure; each takes minutes")
	tiny := flag.Bool("tiny", false, "CI mode: one platform, one repetition, no peers, no installs, no cold builds")
	outPath := flag.String("out", "", "where to write the results (default bench/RESULTS.md; with -tiny bench/.work/tiny/RESULTS.md)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &harness{ctx: ctx, tiny: *tiny, image: benchImage, n: *n, coldN: *coldN, figs: map[string]*figure{}, lastID: map[string]string{}, started: time.Now()}
	if h.tiny {
		h.n, h.coldN = 1, 0
	}
	if h.n < 1 || h.coldN < 0 {
		fmt.Fprintln(os.Stderr, "bench: -n must be at least 1 and -cold-n at least 0")
		os.Exit(2)
	}
	err := h.main(*outPath)
	h.cleanup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func (h *harness) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %6.1fs] %s\n", time.Since(h.started).Seconds(), fmt.Sprintf(format, args...))
}

func (h *harness) main(outPath string) error {
	if err := h.setup(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if outPath == "" {
		outPath = filepath.Join(h.root, "bench", "RESULTS.md")
		if h.tiny {
			outPath = filepath.Join(h.work, "RESULTS.md")
		}
	}
	sections := []struct {
		name string
		fn   func() error
	}{
		{"1 cross-compile", h.crossCompile},
		{"6 linkage check vs file", h.inspect},
		{"2 edit to image", h.editToImage},
		{"4 publish", h.publish},
		{"3 pipeline", h.pipeline},
		{"5 bytes", h.bytes},
	}
	var failed error
	for _, s := range sections {
		h.progress("== %s", s.name)
		if err := s.fn(); err != nil {
			failed = fmt.Errorf("%s: %w", s.name, err)
			break
		}
	}
	md := h.markdown(failed)
	fmt.Println(md)
	if h.ctx.Err() != nil {
		return fmt.Errorf("interrupted; %s left as it was: %w", outPath, h.ctx.Err())
	}
	if err := os.WriteFile(outPath, []byte(md), 0o644); err != nil {
		return errors.Join(failed, err)
	}
	h.progress("wrote %s", outPath)
	return failed
}

// setup finds the module, clones it into the work folder, installs the
// peers (full mode), builds the helpers once, starts the registry and
// records the version the builds stamp.
func (h *harness) setup() error {
	root, err := gobuild.ModuleRoot(h.ctx, ".")
	if err != nil {
		return err
	}
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
	h.platforms = defaultPlatforms
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
	if !h.tiny {
		h.installTools()
		if err := h.writePeerConfigs(h.ldflags); err != nil {
			return err
		}
		h.mageBin = filepath.Join(h.work, "bin", "magefile")
		if _, _, err := h.run("mage -compile", cmd{dir: h.repo, name: "go", args: []string{"tool", "mage", "-compile", h.mageBin}}); err != nil {
			return err
		}
	}
	if err := h.startRegistry(); err != nil {
		if !h.tiny {
			return err
		}
		h.notes = append(h.notes, "publish not measured: "+err.Error())
	}
	if h.registry != "" && !h.tiny {
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

// mage runs `go tool mage <targets>` in the scratch copy.
func mage(dir string, env []string, targets ...string) cmd {
	return cmd{dir: dir, env: env, name: "go", args: append([]string{"tool", "mage"}, targets...)}
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

// loop is the sequential go build loop: exactly the argv and environment
// magepack's plan gives each platform, run one after another.
func (h *harness) loop(key, label string, extraEnv ...string) error {
	start := time.Now()
	for _, j := range h.jobs {
		// j.Env holds only the plan's own GOOS, GOARCH and CGO_ENABLED
		// (Plan got no OS environment): h.env below them, extraEnv above.
		env := append(append([]string(nil), j.Env...), extraEnv...)
		if _, _, err := h.run(key+" "+j.Target.String(), cmd{dir: h.repo, env: env, name: "go", args: j.Args}); err != nil {
			return err
		}
	}
	h.fig(key, label).samples = append(h.fig(key, label).samples, time.Since(start))
	return nil
}

// peer runs an installed peer tool, or marks the figure unavailable.
func (h *harness) peer(toolName, key, label string, c cmd) (string, error) {
	t := h.tools[toolName]
	if t == nil || t.unavailable != "" {
		why := "not installed"
		if t != nil {
			why = t.unavailable
		}
		h.fig(key, label).unavailable = why
		return "", errUnavailable
	}
	c.name = t.path
	out, err := h.measure(key, label, c)
	if err != nil {
		h.fig(key, label).unavailable = fmt.Sprintf("%s %s failed: %s", t.name, t.version, firstLine(tail(out, 1)))
		h.notes = append(h.notes, fmt.Sprintf("%s: %v", key, err))
		t.unavailable = "failed earlier in this run: " + firstLine(tail(out, 1))
		return out, errUnavailable
	}
	return out, nil
}

func (h *harness) goxCmd() cmd {
	return cmd{dir: h.repo, env: []string{"CGO_ENABLED=0", "GOFLAGS=-trimpath -buildvcs=false"}, args: []string{
		"-osarch", strings.ReplaceAll(h.platforms, ",", " "),
		"-ldflags", h.ldflags,
		"-output", filepath.Join(h.work, "gox-dist", "example-app_{{.OS}}_{{.Arch}}"),
		"./example-app",
	}}
}

func (h *harness) goreleaserCmd() cmd {
	return cmd{dir: h.repo, args: []string{"build", "--snapshot", "--clean"}}
}

// crossCompile is figure set 1: cold (empty GOCACHE) and warm builds of
// the platforms by crossCompile, the loop, gox and goreleaser.
func (h *harness) crossCompile() error {
	const (
		mageCold = "1 cold crossCompile"
		loopCold = "1 cold go build loop"
		goxCold  = "1 cold gox"
		grCold   = "1 cold goreleaser"
		mageWarm = "1 warm crossCompile"
		loopWarm = "1 warm go build loop"
		goxWarm  = "1 warm gox"
		grWarm   = "1 warm goreleaser"
	)
	plats := fmt.Sprintf("%d platform(s)", len(h.jobs))
	for i := 0; i < h.coldN; i++ {
		steps := []struct {
			key  string
			run  func(env []string) error
			tool string
		}{
			{mageCold, func(env []string) error {
				_, err := h.measure(mageCold, "crossCompile, "+plats+", empty GOCACHE (magefile compiled beforehand, like the peers' binaries)", cmd{dir: h.repo, env: env, name: h.mageBin, args: []string{"crossCompile"}})
				return err
			}, ""},
			{loopCold, func(env []string) error {
				return h.loop(loopCold, "sequential go build loop, same argv, empty GOCACHE", env...)
			}, ""},
			{goxCold, func(env []string) error {
				c := h.goxCmd()
				c.env = append(c.env, env...)
				_, err := h.peer("gox", goxCold, "gox, empty GOCACHE", c)
				return ignoreUnavailable(err)
			}, "gox"},
			{grCold, func(env []string) error {
				c := h.goreleaserCmd()
				c.env = env
				_, err := h.peer("goreleaser", grCold, "goreleaser build --snapshot --clean, empty GOCACHE", c)
				return ignoreUnavailable(err)
			}, "goreleaser"},
		}
		for _, s := range steps {
			cache, err := h.coldCache()
			if err != nil {
				return err
			}
			err = s.run([]string{"GOCACHE=" + cache})
			os.RemoveAll(cache)
			if err != nil {
				return err
			}
		}
	}

	// Warm: prime every cache once (not timed), then measure with nothing changed.
	warm := func(timed bool) error {
		label := func(s string) string { return s }
		if !timed {
			label = func(s string) string { return "prime " + s }
		}
		var err error
		if timed {
			_, err = h.measure(mageWarm, "go tool mage crossCompile, "+plats+", nothing changed", mage(h.repo, nil, "crossCompile"))
		} else {
			_, _, err = h.run(label(mageWarm), mage(h.repo, nil, "crossCompile"))
		}
		if err != nil || h.tiny {
			return err
		}
		if timed {
			// Diagnostic: the same target without mage's own start-up
			// (its per-run rebuild of the magefile), to tell the two apart.
			if _, err := h.measure("1 warm crossCompile, precompiled", "crossCompile by the magefile compiled beforehand (mage start-up excluded), nothing changed", cmd{dir: h.repo, name: h.mageBin, args: []string{"crossCompile"}}); err != nil {
				return err
			}
			if err := h.loop(loopWarm, "sequential go build loop, nothing changed"); err != nil {
				return err
			}
			_, err := h.peer("gox", goxWarm, "gox, nothing changed", h.goxCmd())
			if ignoreUnavailable(err) != nil {
				return err
			}
			_, err = h.peer("goreleaser", grWarm, "goreleaser build --snapshot --clean, nothing changed", h.goreleaserCmd())
			return ignoreUnavailable(err)
		}
		for _, j := range h.jobs {
			if _, _, err := h.run("prime loop "+j.Target.String(), cmd{dir: h.repo, env: j.Env, name: "go", args: j.Args}); err != nil {
				return err
			}
		}
		for _, t := range []struct {
			name string
			c    cmd
		}{{"gox", h.goxCmd()}, {"goreleaser", h.goreleaserCmd()}} {
			if tl := h.tools[t.name]; tl != nil && tl.unavailable == "" {
				c := t.c
				c.name = tl.path
				if _, out, err := h.run("prime "+t.name, c); err != nil {
					tl.unavailable = "failed: " + firstLine(tail(out, 1))
				}
			}
		}
		return nil
	}
	if !h.tiny {
		if err := warm(false); err != nil {
			return err
		}
	}
	for i := 0; i < h.n; i++ {
		if err := warm(true); err != nil {
			return err
		}
	}
	return h.checkBinaries()
}

func ignoreUnavailable(err error) error {
	if errors.Is(err, errUnavailable) {
		return nil
	}
	return err
}

// checkBinaries makes sure every tool built one binary for each platform,
// and for that platform (read from its headers).
func (h *harness) checkBinaries() error {
	want := map[string]bool{}
	for _, j := range h.jobs {
		want[j.Target.String()] = true
	}
	dirs := map[string]string{
		"crossCompile":  filepath.Join(h.repo, "dist", "example-app_*"),
		"go build loop": filepath.Join(h.work, "loop-dist", "example-app_*"),
	}
	if !h.tiny {
		dirs["gox"] = filepath.Join(h.work, "gox-dist", "example-app_*")
		dirs["goreleaser"] = filepath.Join(h.work, "goreleaser-dist", "*", "example-app*")
	}
	for who, pattern := range dirs {
		if f := h.figs["1 warm "+who]; who != "crossCompile" && (f == nil || len(f.samples) == 0) {
			continue // not run (tiny mode, or the peer is unavailable)
		}
		paths, _ := filepath.Glob(pattern)
		got := map[string]bool{}
		for _, p := range paths {
			rep, err := linkage.Inspect(p)
			if err != nil {
				continue
			}
			got[rep.OS+"/"+rep.Arch] = true
		}
		for pl := range want {
			if !got[pl] {
				return fmt.Errorf("%s built no %s binary (looked at %s)", who, pl, pattern)
			}
		}
	}
	return nil
}

// inspect is figure 6: the linkage check (linkage.Inspect and the scratch
// verdict, in a program built beforehand) against a shell loop of `file`,
// over 10 copies of every built binary (50 for the five platforms).
func (h *harness) inspect() error {
	dir := filepath.Join(h.work, "inspect")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var paths []string
	for _, j := range h.jobs {
		src := filepath.Join(h.repo, "dist", filepath.Base(j.Output))
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		for i := 0; i < 10; i++ {
			p := filepath.Join(dir, fmt.Sprintf("%s.%d", filepath.Base(j.Output), i))
			if err := os.WriteFile(p, data, 0o755); err != nil {
				return err
			}
			paths = append(paths, p)
		}
	}
	nb := fmt.Sprintf("%d binaries", len(paths))
	fileBin, fileErr := exec.LookPath("file")
	for i := 0; i < h.n; i++ {
		if _, err := h.measure("6 linkage check", "linkage.Inspect + scratch verdict over "+nb+" (bench/inspect, built beforehand)", cmd{dir: dir, name: h.inspectBin, args: paths}); err != nil {
			return err
		}
		if fileErr != nil {
			h.fig("6 file loop", "shell loop of file over "+nb).unavailable = "file is not installed (apt-get install file)"
			continue
		}
		script := `for f in "$@"; do ` + fileBin + ` "$f"; done`
		if _, err := h.measure("6 file loop", "shell loop of `file` over "+nb, cmd{dir: dir, name: "sh", args: append([]string{"-c", script, "sh"}, paths...)}); err != nil {
			return err
		}
	}
	return nil
}

var greeting = regexp.MustCompile(`Try /healthz and /version\.( \[bench [0-9a-z-]+\])?\\n`)

// edit changes one line of example-app so the binary changes: the
// greeting gets a new string every time.
func (h *harness) edit() error {
	path := filepath.Join(h.repo, "example-app", "handler.go")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if n := len(greeting.FindAll(b, -1)); n != 1 {
		return fmt.Errorf("%s has %d greeting lines matching %s, want 1: update bench's edit() to the new handler", path, n, greeting)
	}
	h.edits++
	nonce := fmt.Sprintf("%d-%d", time.Now().UnixNano(), h.edits)
	b = greeting.ReplaceAllLiteral(b, []byte(`Try /healthz and /version. [bench `+nonce+`]\n`))
	return os.WriteFile(path, b, 0o644)
}

// imageID returns the engine's ID for ref, or "".
func (h *harness) imageID(ref string) string {
	return output(h.ctx, h.repo, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
}

// expectNewImage fails when ref's image did not change since the last
// call for the same key: the edit must reach the image.
func (h *harness) expectNewImage(key, ref string) error {
	id := h.imageID(ref)
	if id == "" {
		return fmt.Errorf("%s: no image %s in the engine after the build", key, ref)
	}
	if prev := h.lastID[key]; prev == id {
		return fmt.Errorf("%s: image %s is still %s after an edit: the edit did not reach the image", key, ref, id)
	}
	h.lastID[key] = id
	return nil
}

var koRef = regexp.MustCompile(`(?m)^(\S+/\S+(?::\S+|@sha256:[0-9a-f]{64}))\s*$`)

// lastRef is the last image reference a tool printed on a line of its own.
func lastRef(out string) string {
	m := koRef.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

// editToImage is figure set 2: one-line edit, then time to a new scratch
// image in the engine.
func (h *harness) editToImage() error {
	scratch := h.image + ":scratch"
	off := []string{"MAGEPACK_SMOKE=off"}
	on := []string{"MAGEPACK_SMOKE=/healthz"}
	dockerfile := []string{"MAGEPACK_SMOKE=off", "MAGEPACK_DOCKERFILE=example-app/Dockerfile.scratch"}
	koCmd := cmd{dir: h.repo, env: []string{"KO_DOCKER_REPO=ko.local"}, args: []string{"build", "--local", "--platform=linux/amd64", "./example-app"}}
	ko := h.tools["ko"]
	haveKo := !h.tiny && ko != nil && ko.unavailable == "" && h.koBase != ""

	// Prime: the magefile binary, the engine's copy of the previous image,
	// ko's base in its cache, the Dockerfile's cached first steps.
	h.lastID["2 scratch"] = h.imageID(scratch)
	if !h.tiny {
		if _, _, err := h.run("prime dockerScratch", mage(h.repo, off, "dockerScratch")); err != nil {
			return err
		}
		h.lastID["2 scratch"] = h.imageID(scratch)
		if _, _, err := h.run("prime Dockerfile.scratch", mage(h.repo, dockerfile, "dockerScratch")); err != nil {
			return err
		}
		if haveKo {
			c := koCmd
			c.name = ko.path
			if _, out, err := h.run("prime ko --local", c); err != nil {
				ko.unavailable = "ko build --local failed: " + firstLine(tail(out, 1))
				haveKo = false
			}
		}
	}
	for i := 0; i < h.n; i++ {
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure("2 smoke off", "edit → go tool mage dockerScratch, MAGEPACK_SMOKE=off", mage(h.repo, off, "dockerScratch")); err != nil {
			return err
		}
		if err := h.expectNewImage("2 scratch", scratch); err != nil {
			return err
		}
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure("2 smoke on", "edit → go tool mage dockerScratch, MAGEPACK_SMOKE=/healthz", mage(h.repo, on, "dockerScratch")); err != nil {
			return err
		}
		if err := h.expectNewImage("2 scratch", scratch); err != nil {
			return err
		}
		if h.tiny {
			continue
		}
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure("2 smoke off, precompiled", "edit → dockerScratch by the magefile compiled beforehand (mage start-up excluded), smoke off", cmd{dir: h.repo, env: off, name: h.mageBin, args: []string{"dockerScratch"}}); err != nil {
			return err
		}
		if err := h.expectNewImage("2 scratch", scratch); err != nil {
			return err
		}
		if err := h.edit(); err != nil {
			return err
		}
		out, err := h.peer("ko", "2 ko", "edit → ko build --local --platform=linux/amd64", koCmd)
		if err == nil {
			if err := h.expectNewImage("2 ko", lastRef(out)); err != nil {
				return err
			}
		} else if !errors.Is(err, errUnavailable) {
			return err
		}
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure("2 dockerfile", "edit → dockerScratch with MAGEPACK_DOCKERFILE=example-app/Dockerfile.scratch (engine's legacy builder), smoke off", mage(h.repo, dockerfile, "dockerScratch")); err != nil {
			return err
		}
		if err := h.expectNewImage("2 dockerfile", scratch); err != nil {
			return err
		}
	}
	if !haveKo && !h.tiny {
		h.fig("2 ko", "edit → ko build --local").unavailable = unavailableWhy(ko, h.koBase)
	}
	return nil
}

func unavailableWhy(t *tool, base string) string {
	switch {
	case t == nil:
		return "not installed"
	case t.unavailable != "":
		return t.unavailable
	case base == "":
		return "no registry for its base image"
	}
	return ""
}

// publish is figure 4: edit, then push the scratch variant for
// linux/amd64 and linux/arm64 to the local registry, against ko.
func (h *harness) publish() error {
	if h.registry == "" {
		return nil
	}
	plats := "linux/amd64,linux/arm64"
	if h.tiny {
		plats = "linux/amd64"
	}
	env := []string{"MAGEPACK_VARIANTS=scratch", "MAGEPACK_PLATFORMS=" + plats, "MAGEPACK_IMAGE=" + h.registry + "/magepack/example-app"}
	koCmd := cmd{dir: h.repo, env: []string{"KO_DOCKER_REPO=" + h.registry + "/ko"}, args: []string{"build", "--platform=" + plats, "./example-app"}}
	ko := h.tools["ko"]
	haveKo := !h.tiny && ko != nil && ko.unavailable == ""
	if !h.tiny {
		if _, _, err := h.run("prime publish", mage(h.repo, env, "publish")); err != nil {
			return err
		}
		if haveKo {
			c := koCmd
			c.name = ko.path
			if _, out, err := h.run("prime ko push", c); err != nil {
				ko.unavailable = "ko build (push) failed: " + firstLine(tail(out, 1))
				haveKo = false
			}
		}
	}
	var prev string
	for i := 0; i < h.n; i++ {
		if err := h.edit(); err != nil {
			return err
		}
		out, err := h.measure("4 publish", "edit → go tool mage publish, scratch, "+plats+", push to local registry", mage(h.repo, env, "publish"))
		if err != nil {
			return err
		}
		ref := lastRef(out)
		if !strings.Contains(ref, "@sha256:") || ref == prev {
			return fmt.Errorf("publish printed no new pushed reference (got %q, before %q)", ref, prev)
		}
		prev = ref
		if !h.tiny {
			if err := h.edit(); err != nil {
				return err
			}
			if _, err := h.measure("4 publish, precompiled", "edit → publish by the magefile compiled beforehand (mage start-up excluded)", cmd{dir: h.repo, env: env, name: h.mageBin, args: []string{"publish"}}); err != nil {
				return err
			}
		}
		if !haveKo {
			continue
		}
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.peer("ko", "4 ko", "edit → ko build --platform="+plats+", push to the same registry", koCmd); ignoreUnavailable(err) != nil {
			return err
		}
	}
	if !haveKo && !h.tiny {
		h.fig("4 ko", "edit → ko build (push)").unavailable = unavailableWhy(ko, "-")
	}
	return nil
}

// pipeline is figure 3: the whole pipeline with nothing changed, warm, and
// cold (empty GOCACHE: go tool mage compiles mage and the magefile too).
func (h *harness) pipeline() error {
	targets := []string{"crossCompile", "staticCheck", "dockerScratch"}
	if !h.tiny {
		if _, _, err := h.run("prime pipeline", mage(h.repo, nil, targets...)); err != nil {
			return err
		}
	}
	for i := 0; i < h.n; i++ {
		if _, err := h.measure("3 warm", "go tool mage crossCompile staticCheck dockerScratch, nothing changed", mage(h.repo, nil, targets...)); err != nil {
			return err
		}
	}
	for i := 0; i < h.coldN; i++ {
		cache, err := h.coldCache()
		if err != nil {
			return err
		}
		_, err = h.measure("3 cold", "the same, empty GOCACHE (compiles mage and the magefile too)", mage(h.repo, []string{"GOCACHE=" + cache}, targets...))
		os.RemoveAll(cache)
		if err != nil {
			return err
		}
	}
	return nil
}

// sizeRow is one image's bytes against its binary's.
type sizeRow struct {
	what          string
	image, binary int64
	base          int64
}

// bytes is figure 5: image bytes against binary bytes for both variants,
// from dist/artifacts.json and the engine.
func (h *harness) bytes() error {
	variants := []string{"scratch", "alpine"}
	base := envOr("MAGEPACK_ALPINE_BASE", "magepack-test/alpine:3")
	if h.imageID(base) == "" {
		h.notes = append(h.notes, "Alpine image not measured: its base "+base+" is not in the engine (the tests create it; or set MAGEPACK_ALPINE_BASE)")
		variants = variants[:1]
	} else if _, _, err := h.run("dockerAlpine", mage(h.repo, []string{"MAGEPACK_SMOKE=/healthz"}, "dockerAlpine")); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(h.repo, "dist", "artifacts.json"))
	if err != nil {
		return err
	}
	var m struct {
		Binaries []struct {
			Path, OS, Arch string
			Size           int64
		}
		Images []struct {
			Reference, Variant, Platform string
			Size                         int64
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("read dist/artifacts.json: %w", err)
	}
	plat := "linux/" + runtime.GOARCH
	var bin int64
	for _, x := range m.Binaries {
		if x.OS+"/"+x.Arch == plat && filepath.Dir(x.Path) == "dist" {
			bin = x.Size
		}
	}
	if bin == 0 {
		return fmt.Errorf("dist/artifacts.json lists no %s binary", plat)
	}
	for _, v := range variants {
		var size int64
		for _, x := range m.Images {
			if x.Variant == v && x.Platform == plat && !strings.HasPrefix(x.Reference, "oci:") {
				size = x.Size
			}
		}
		if size == 0 {
			return fmt.Errorf("dist/artifacts.json lists no %s image for %s", v, plat)
		}
		row := sizeRow{what: v, image: size, binary: bin}
		if v == "alpine" {
			row.base = parseInt(output(h.ctx, h.repo, "docker", "image", "inspect", "--format", "{{.Size}}", base))
		}
		h.sizes = append(h.sizes, row)
	}
	return nil
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
