package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// target is one bar a figure is held to. A figure set lists its own
// (figureSet.targets, built with ratioBar, limitBar and diffBar); ratios
// shown without a bar are figureSet.extras (ratioInfo).
type target struct {
	id, what   string
	ours, peer string // figure keys; peer is "" for a limitBar
	// max is the bar of a ratio: ours/peer ≤ max (0: no bar).
	max float64
	// limit is the bar in time: ours ≤ limit without a peer, ours − peer
	// ≤ limit with one.
	limit time.Duration
}

// ratioBar: the median of ours is at most max times the median of peer.
func ratioBar(id, what, ours, peer string, max float64) target {
	return target{id: id, what: what, ours: ours, peer: peer, max: max}
}

// ratioInfo is a ratio shown without a bar.
func ratioInfo(id, what, ours, peer string) target {
	return target{id: id, what: what, ours: ours, peer: peer}
}

// limitBar: the median of ours takes at most limit.
func limitBar(id, what, ours string, limit time.Duration) target {
	return target{id: id, what: what, ours: ours, limit: limit}
}

// diffBar: the median of ours takes at most limit more than peer's.
func diffBar(id, what, ours, peer string, limit time.Duration) target {
	return target{id: id, what: what, ours: ours, peer: peer, limit: limit}
}

const scratchOverheadMax = 250_000 // bytes, target (5)

// ratio returns ours/peer by medians, or ok=false.
func (h *harness) ratio(t target) (float64, bool) {
	a, _, _, ok1 := h.figs[t.ours].stats()
	b, _, _, ok2 := h.figs[t.peer].stats()
	if !ok1 || !ok2 || b == 0 {
		return 0, false
	}
	return float64(a) / float64(b), true
}

// verdict measures t: the value compared ("0.912×", "+0.21 s", "12.3 s"),
// the bar ("≤ 0.90×") and whether it was met, missed or not measured.
func (h *harness) verdict(t target) (value, bar, verdict string) {
	verdict = "not measured"
	if f := h.figs[t.peer]; t.peer != "" && f != nil && f.unavailable != "" {
		verdict = "n/a: peer unavailable"
	}
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	a, _, _, okA := h.figs[t.ours].stats()
	b, _, _, okB := h.figs[t.peer].stats()
	switch {
	case t.limit > 0 && t.peer == "":
		bar = "≤ " + dur(t.limit)
		if okA {
			return dur(a), bar, met(a <= t.limit)
		}
	case t.limit > 0:
		bar = "≤ +" + dur(t.limit)
		if okA && okB {
			return fmt.Sprintf("%+.2f s", (a - b).Seconds()), bar, met(a-b <= t.limit)
		}
	default:
		bar = fmt.Sprintf("≤ %.2f×", t.max)
		if r, ok := h.ratio(t); ok {
			return fmt.Sprintf("%.3f×", r), bar, met(r <= t.max)
		}
	}
	return "—", bar, verdict
}

// markdown renders the results of the sets that ran.
func (h *harness) markdown(run []figureSet, failed error) string {
	var targets, extras []target
	for _, s := range run {
		targets = append(targets, s.targets...)
		extras = append(extras, s.extras...)
	}
	sort.SliceStable(targets, func(i, j int) bool { return targets[i].id < targets[j].id })
	var b strings.Builder
	mode := "full run"
	if h.partial {
		var ids []string
		for _, s := range run {
			ids = append(ids, s.id)
		}
		mode = "partial run, figure sets " + strings.Join(ids, ", ")
	}
	if h.tiny {
		mode = "tiny run (CI smoke test of the harness: one platform, one repetition, no peers; not a benchmark)"
	}
	fmt.Fprintf(&b, "# magepack benchmark results\n\n")
	fmt.Fprintf(&b, "Written by `go run ./bench` (%s). Every ratio compares figures measured in this same run on this same machine; each figure is the median of its runs, with min–max.\n\n", mode)
	fmt.Fprintf(&b, "- date: %s (took %s)\n", h.started.UTC().Format("2006-01-02 15:04 UTC"), time.Since(h.started).Round(time.Second))
	fmt.Fprintf(&b, "- machine: %d CPUs (%s), %s RAM, %s; load average at start %s, at end %s\n", runtime.NumCPU(), cpuModel(), memTotal(), osName(), h.loadStart, loadavg())
	fmt.Fprintf(&b, "- Go: %s; Docker Engine: %s (API %s, storage %s)\n", h.goVersion, engineField(h, "{{.Server.Version}}"), engineField(h, "{{.Server.APIVersion}}"), engineInfo(h, "{{.Driver}}"))
	fmt.Fprintf(&b, "- example-app at %s, version stamped %s; repetitions: %d warm, %d cold\n", short(h.ver.Commit), h.ver.String(), h.n, h.coldN)
	if len(h.tools) > 0 {
		var ts []string
		for _, p := range peerTools {
			t := h.tools[p.name]
			s := p.name + " " + p.version
			if t != nil && t.unavailable != "" {
				s += " (unavailable: " + t.unavailable + ")"
			}
			ts = append(ts, s)
		}
		fmt.Fprintf(&b, "- peers: %s; docker-registry %s on 127.0.0.1\n", strings.Join(ts, ", "), registryVersion(h))
	}
	if failed != nil {
		fmt.Fprintf(&b, "\n**The run stopped early:** %s\n", firstLine(failed.Error()))
	}

	if !h.tiny {
		fmt.Fprintf(&b, "\n## Targets\n\n")
		fmt.Fprintf(&b, "| # | measure | magepack | compared with | ratio or difference | target | verdict |\n|---|---|---|---|---|---|---|\n")
		for _, t := range targets {
			value, bar, verdict := h.verdict(t)
			peer := "—"
			if t.peer != "" {
				peer = h.figs[t.peer].String()
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", t.id, t.what, h.figs[t.ours], peer, value, bar, verdict)
		}
		for _, s := range h.sizes {
			if s.what != "scratch" {
				continue
			}
			over := s.image - s.binary
			verdict := "**missed**"
			if over <= scratchOverheadMax {
				verdict = "met"
			}
			fmt.Fprintf(&b, "| 5 | scratch image bytes vs binary bytes | %s image | %s binary | +%s | ≤ +250 kB | %s |\n", kb(s.image), kb(s.binary), kb(over), verdict)
		}
		fmt.Fprintf(&b, "\nOther ratios (no bar):\n\n")
		for _, t := range extras {
			if r, ok := h.ratio(t); ok {
				fmt.Fprintf(&b, "- %s: %.3f×\n", t.what, r)
			} else {
				fmt.Fprintf(&b, "- %s: not measured (%s)\n", t.what, h.figs[t.peer])
			}
		}
	}

	if len(h.sizes) > 0 {
		fmt.Fprintf(&b, "\n## Image bytes (engine, uncompressed) vs binary bytes\n\n| variant | image | binary | image − binary | of which base |\n|---|---|---|---|---|\n")
		for _, s := range h.sizes {
			base := "—"
			if s.base > 0 {
				base = kb(s.base)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | +%s | %s |\n", s.what, kb(s.image), kb(s.binary), kb(s.image-s.binary), base)
		}
	}

	fmt.Fprintf(&b, "\n## All figures\n\n| figure | what | median (min–max, runs) |\n|---|---|---|\n")
	for _, k := range h.order {
		f := h.figs[k]
		fmt.Fprintf(&b, "| %s | %s | %s |\n", f.key, f.label, f)
	}

	b.WriteString(h.phaseTable())
	for _, s := range h.sections {
		b.WriteString(s)
	}

	fmt.Fprintf(&b, "\n## How it was measured\n\n")
	fmt.Fprintf(&b, "- A scratch clone of the repo in `bench/.work/`; every edit rewrites the greeting line of `example-app/handler.go` with a new string, so the binary and the image really change (the harness checks that a new image ID arrives).\n")
	fmt.Fprintf(&b, "- Warm figures share one GOCACHE of their own, primed once by every tool (not timed). Cold figures get a new empty GOCACHE each run. The cold crossCompile runs the magefile compiled beforehand (`mage -compile`), as gox and goreleaser are installed binaries; figure 3 cold is `go tool mage` with everything cold, including compiling mage and the magefile.\n")
	if len(h.jobs) > 0 {
		fmt.Fprintf(&b, "- The go build loop runs magepack's own plan one platform after another: `go %s` (CGO_ENABLED=0). gox gets the same -ldflags with GOFLAGS=-trimpath; goreleaser and ko get the same flags and -ldflags in `.goreleaser.yaml` / `.ko.yaml`.\n", shellLine("", h.jobs[0].Args)[1:])
	}
	fmt.Fprintf(&b, "- ko's base image is served from a local docker-registry: one layer with what magepack's scratch image holds besides the binary (CA bundle, passwd, group), for linux/amd64 and linux/arm64. ko runs with its defaults otherwise.\n")
	fmt.Fprintf(&b, "- The multi-stage build is `example-app/Dockerfile.scratch` through the same engine (the Engine API's legacy builder) with builder image %s, as it is on this machine.\n", envOr("MAGEPACK_BUILDER", "magepack-test/golang:1.26"))
	fmt.Fprintf(&b, "- The linkage check is `bench/inspect` (linkage.Inspect and the scratch verdict, what staticCheck runs per binary), built before timing.\n")
	for _, n := range h.notes {
		fmt.Fprintf(&b, "- note: %s\n", firstLine(n))
	}
	return b.String()
}

func kb(n int64) string {
	if n >= 1e6 || n <= -1e6 {
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f kB", float64(n)/1e3)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func engineField(h *harness, f string) string {
	if v := output(h.ctx, "", "docker", "version", "--format", f); v != "" {
		return v
	}
	return "unknown"
}

func engineInfo(h *harness, f string) string {
	if v := output(h.ctx, "", "docker", "info", "--format", f); v != "" {
		return v
	}
	return "unknown"
}

func registryVersion(h *harness) string {
	v := output(h.ctx, "", registryBinary, "--version")
	if f := strings.Fields(v); len(f) >= 3 {
		return f[2]
	}
	return "unknown"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	var kB int64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			fmt.Sscan(strings.TrimPrefix(l, "MemTotal:"), &kB)
		}
	}
	return fmt.Sprintf("%.1f GB", float64(kB)/1e6)
}

func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return runtime.GOOS
}
