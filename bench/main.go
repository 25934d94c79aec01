// Command bench measures magepack against the tools users would pick instead
// (a plain go build loop, gox, goreleaser, ko, and a multi-stage Dockerfile)
// on example-app, in one run on one machine, and writes bench/RESULTS.md.
//
//	go run ./bench            # full run: cold and warm, all peers (takes long)
//	go run ./bench -n 3       # fewer repetitions
//	go run ./bench -tiny      # one platform, one repetition, no peers, no installs (CI)
//	go run ./bench -only 2,4  # some figure sets (and those they need); -list names them
//
// Each figure set is a file of its own (crosscompile.go, editimage.go, …)
// holding a figureSet: the method that measures it and the bars its
// figures are held to. A new figure is a new file and one line in sets.
// Every command runs with MAGEPACK_TIMINGS=1; the phase lines magepack
// prints ("[timings] setup 0.05s build 0.61s …") are collected per figure
// and reported as a phase breakdown (timings.go).
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
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/version"
)

// benchImage is the repository the harness's engine images get (with
// "-tiny" in tiny mode), so they never touch anyone else's tags; removed at
// the end.
const benchImage = "magepack-bench/example-app"

type harness struct {
	ctx          context.Context
	image        string // engine repository of this run's images
	toolsDir     string // peers' binaries, shared by runs
	lockFile     *os.File
	root         string // this module's root
	work         string // bench/.work
	repo         string // the scratch clone
	logs         string
	tiny         bool
	n, coldN     int
	platforms    string
	env          []string // environment of every command
	warmCache    string
	mageBin      string // the magefile compiled once (mage -compile)
	inspectBin   string
	registry     string
	regCmd       *exec.Cmd
	koBase       string
	tools        map[string]*tool
	figs         map[string]*figure
	order        []string
	sizes        []sizeRow
	notes        []string
	seq, edits   int
	started      time.Time
	loadStart    string
	ver          version.Info
	ldflags      string
	jobs         []gobuild.Job
	lastID       map[string]string
	partial      bool     // -only: not every set runs
	sections     []string // extra report sections (Markdown) a set adds
	needPeers    bool     // a set to run compares with peers
	needRegistry bool     // a set to run pushes
	goVersion    string
}

// figureSet is one section of the run: the figures it measures and the
// bars they are held to.
type figureSet struct {
	// id numbers the set ("1" … "10"); name says what it measures.
	id, name string
	// run measures the set's figures.
	run func(*harness) error
	// targets are the bars (ours / peer ≤ max) the report checks, extras
	// the ratios it shows without a bar.
	targets, extras []target
	// needs are the ids of sets whose outputs this one reads (dist/
	// binaries, images); -only runs them first.
	needs []string
	// optIn sets are diagnoses rather than bars, or too long for every
	// run: they run only when -only names them.
	optIn bool
	// peers and registry say what setup must provide: the peer tools
	// (installed, configured, the magefile compiled once; full mode only)
	// and the local registry.
	peers, registry bool
}

// sets lists every figure set in the order a run measures them.
func sets() []figureSet {
	return []figureSet{
		crossCompileSet,
		inspectSet,
		editImageSet,
		publishSet,
		pipelineSet,
		bytesSet,
		thirdPartySet,
		servicesSet,
		mainsSet,
		scheduleSet,
		startupSet,
		vulncheckSet,
		signingSet,
		rebuildSet,
	}
}

// selectSets returns the sets a run measures: all but the opt-in ones, or
// the ones only names (comma-separated ids) plus those they need, in run
// order. An unknown id is an error listing the valid ones.
func selectSets(all []figureSet, only string) ([]figureSet, error) {
	if strings.TrimSpace(only) == "" {
		var out []figureSet
		for _, s := range all {
			if !s.optIn {
				out = append(out, s)
			}
		}
		return out, nil
	}
	byID := map[string]figureSet{}
	var ids []string
	for _, s := range all {
		byID[s.id] = s
		ids = append(ids, s.id)
	}
	want := map[string]bool{}
	var add func(id string) error
	add = func(id string) error {
		s, ok := byID[id]
		if !ok {
			return fmt.Errorf("no figure set %q: choose from %s (go run ./bench -list)", id, strings.Join(ids, ", "))
		}
		if want[id] {
			return nil
		}
		want[id] = true
		for _, n := range s.needs {
			if err := add(n); err != nil {
				return err
			}
		}
		return nil
	}
	for _, id := range strings.Split(only, ",") {
		if err := add(strings.TrimSpace(id)); err != nil {
			return nil, err
		}
	}
	var out []figureSet
	for _, s := range all {
		if want[s.id] {
			out = append(out, s)
		}
	}
	return out, nil
}

func main() {
	n := flag.Int("n", 5, "repetitions of every warm figure (the median, min and max are reported)")
	coldN := flag.Int("cold-n", 3, "repetitions of every cold (empty GOCACHE) figure; each takes minutes")
	tiny := flag.Bool("tiny", false, "CI mode: one platform, one repetition, no peers, no installs, no cold builds (unless -cold-n is given)")
	only := flag.String("only", "", "comma-separated figure set ids to run (and the sets they need), e.g. 2,4; opt-in sets run only this way")
	list := flag.Bool("list", false, "list the figure sets and exit")
	outPath := flag.String("out", "", "where to write the results (default bench/RESULTS.md; with -tiny or -only bench/.work/<mode>/RESULTS.md)")
	flag.Parse()

	if *list {
		for _, s := range sets() {
			opt := ""
			if s.optIn {
				opt = " (opt-in: -only " + s.id + ")"
			}
			fmt.Printf("%s  %s%s\n", s.id, s.name, opt)
		}
		return
	}
	run, err := selectSets(sets(), *only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := &harness{ctx: ctx, tiny: *tiny, image: benchImage, n: *n, coldN: *coldN, figs: map[string]*figure{}, lastID: map[string]string{}, started: time.Now(), partial: *only != ""}
	if h.tiny {
		h.n, h.coldN = 1, 0
		// An explicit -cold-n still counts: -tiny -only 9 -cold-n 1 checks
		// a cold set on one platform.
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "cold-n" {
				h.coldN = *coldN
			}
		})
	}
	if h.n < 1 || h.coldN < 0 {
		fmt.Fprintln(os.Stderr, "bench: -n must be at least 1 and -cold-n at least 0")
		os.Exit(2)
	}
	for _, s := range run {
		h.needPeers = h.needPeers || s.peers
		h.needRegistry = h.needRegistry || s.registry
	}
	err = h.main(run, *outPath)
	h.cleanup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func (h *harness) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %6.1fs] %s\n", time.Since(h.started).Seconds(), fmt.Sprintf(format, args...))
}

func (h *harness) main(run []figureSet, outPath string) error {
	if err := h.setup(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if outPath == "" {
		outPath = filepath.Join(h.root, "bench", "RESULTS.md")
		if h.tiny || h.partial {
			outPath = filepath.Join(h.work, "RESULTS.md")
		}
	}
	var failed error
	for _, s := range run {
		h.progress("== %s %s", s.id, s.name)
		if err := s.run(h); err != nil {
			failed = fmt.Errorf("%s %s: %w", s.id, s.name, err)
			break
		}
	}
	md := h.markdown(run, failed)
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

// mage runs `go tool mage <targets>` in the scratch copy.
func mage(dir string, env []string, targets ...string) cmd {
	return cmd{dir: dir, env: env, name: "go", args: append([]string{"tool", "mage"}, targets...)}
}
