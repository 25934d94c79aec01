package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/magepack/magepack/tasks/gobuild"
)

// scheduleSet is figure set 7 (opt-in, long): how to spread a cold
// cross-compile of the platforms over the machine's cores: how many go
// builds run at once (gobuild.Config.Parallel) × each build's -p, and the
// cost of DWARF the linker throws away.
var scheduleSet = figureSet{
	id: "7", name: "cold build schedule: parallel builds × go build -p",
	run:   (*harness).schedule,
	optIn: true,
}

// schedule is one way to run the cold builds.
type schedule struct {
	parallel int    // builds at once
	p        int    // go build -p; 0 leaves go's default (GOMAXPROCS)
	dwarf    bool   // keep compiling DWARF (-gcflags=all= overrides magepack's -dwarf=false)
	note     string // why it is measured
}

func (s schedule) key() string {
	p := "default"
	if s.p > 0 {
		p = fmt.Sprint(s.p)
	}
	k := fmt.Sprintf("7 cold parallel=%d -p=%s", s.parallel, p)
	if s.dwarf {
		k += " with DWARF"
	}
	return k
}

// schedules are the ways measured, in the order of the first round; every
// other round runs them backwards, so a drift in the machine's load does
// not favour one.
var schedules = []schedule{
	{parallel: 1, note: "the sequential loop"},
	{parallel: 2, p: 1, note: "one compile per build, two builds"},
	{parallel: 2, note: "magepack's default before this figure (Parallel=NumCPU)"},
	{parallel: 5, p: 1, note: "every platform at once"},
	{parallel: 2, dwarf: true, note: "the default without -dwarf=false"},
}

// schedule runs cold (empty GOCACHE) builds of every platform through
// gobuild.Run, coldN times per schedule, alternating schedules.
func (h *harness) schedule() error {
	if h.coldN == 0 {
		h.notes = append(h.notes, "set 7 not measured: it is cold builds only (-cold-n 0, or -tiny)")
		return nil
	}
	plats := fmt.Sprintf("%d platform(s)", len(h.jobs))
	cpu := map[string][]time.Duration{}
	for i := 0; i < h.coldN; i++ {
		order := schedules
		if i%2 == 1 {
			order = reversed(schedules) // ABC CBA: a drift in load hits both ends alike
		}
		for _, s := range order {
			cache, err := h.coldCache()
			if err != nil {
				return err
			}
			d, c, err := h.runSchedule(s, cache)
			os.RemoveAll(cache)
			if err != nil {
				return err
			}
			f := h.fig(s.key(), fmt.Sprintf("gobuild.Run, %s, empty GOCACHE: %s", plats, s.note))
			f.samples = append(f.samples, d)
			cpu[s.key()] = append(cpu[s.key()], c)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Cold build schedules (set 7)\n\nWall time depends on what else the machine runs (a schedule with more threads takes a larger share of a busy machine); the CPU time of the builds (user + system, all their processes) does not, and shows the work each schedule does.\n\n| schedule | wall (median) | CPU time (median) | CPU / wall |\n|---|---|---|---|\n")
	for _, s := range schedules {
		wall, _, _, ok := h.figs[s.key()].stats()
		if !ok {
			continue
		}
		c := median(cpu[s.key()])
		fmt.Fprintf(&b, "| %s | %s | %s | %.2f |\n", strings.TrimPrefix(s.key(), "7 cold "), dur(wall), dur(c), c.Seconds()/wall.Seconds())
	}
	h.sections = append(h.sections, b.String())
	return nil
}

func reversed(s []schedule) []schedule {
	out := make([]schedule, len(s))
	for i := range s {
		out[len(s)-1-i] = s[i]
	}
	return out
}

// runSchedule builds every platform with schedule s into a folder of its
// own and returns how long gobuild.Run took and the CPU time (user and
// system) its go builds and their compilers and linkers used.
func (h *harness) runSchedule(s schedule, cache string) (wall, cpu time.Duration, err error) {
	cfg := h.buildConfig(filepath.Join(h.work, "schedule-dist"))
	cfg.Parallel = s.parallel
	var goflags []string
	if s.p > 0 {
		goflags = append(goflags, fmt.Sprintf("-p=%d", s.p))
	}
	if s.dwarf {
		goflags = append(goflags, "-gcflags=all=")
	}
	cfg.ExtraEnv = []string{"GOCACHE=" + cache, "GOFLAGS=" + strings.Join(goflags, " ")}
	var targets []gobuild.Target
	for _, j := range h.jobs {
		targets = append(targets, j.Target)
	}
	jobs, err := gobuild.Plan(cfg, targets, h.env)
	if err != nil {
		return 0, 0, err
	}
	before := childrenCPU()
	start := time.Now()
	_, err = gobuild.Run(h.ctx, jobs, cfg, nil)
	wall = time.Since(start)
	cpu = childrenCPU() - before
	h.progress("%-34s %7.2fs  %s (CPU %.1fs)", s.key(), wall.Seconds(), statusWord(err), cpu.Seconds())
	return wall, cpu, err
}

// childrenCPU is the user and system time of this process's finished
// children and their descendants.
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
