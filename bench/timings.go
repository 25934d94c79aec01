package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// timingsEnv makes magepack print how long each phase of a run took.
const timingsEnv = "MAGEPACK_TIMINGS=1"

// timingsLine matches what magepack prints with MAGEPACK_TIMINGS=1: a line
// "[timings] setup 0.05s build 0.61s check 0.01s …" (all phases on one
// line, or one phase per line).
var timingsLine = regexp.MustCompile(`(?m)^\[timings\][ \t]+(.*?)[ \t]*$`)

// phases is one run's phase durations, in the order magepack printed them.
type phases struct {
	order []string
	d     map[string]time.Duration
}

// parseTimings reads the phases from a run's output. A phase printed more
// than once (each target of a multi-target run prints its own line) adds
// up. ok is false when the output has no timings line, or one that is not
// pairs of a name and a Go duration ("0.61s", "610ms"); bad names it.
func parseTimings(out string) (p phases, bad string, ok bool) {
	p.d = map[string]time.Duration{}
	ms := timingsLine.FindAllStringSubmatch(out, -1)
	if len(ms) == 0 {
		return p, "", false
	}
	for _, m := range ms {
		f := strings.Fields(m[1])
		if len(f) == 0 || len(f)%2 != 0 {
			return phases{}, m[0], false
		}
		for i := 0; i < len(f); i += 2 {
			d, err := time.ParseDuration(f[i+1])
			if err != nil {
				return phases{}, m[0], false
			}
			if _, seen := p.d[f[i]]; !seen {
				p.order = append(p.order, f[i])
			}
			p.d[f[i]] += d
		}
	}
	return p, "", true
}

// recordPhases keeps the phases of one run of figure f, and notes (once per
// figure) a timings line the harness cannot read.
func (h *harness) recordPhases(f *figure, out string) {
	p, bad, ok := parseTimings(out)
	switch {
	case ok:
		f.phases = append(f.phases, p)
	case bad != "" && !f.badTimings:
		f.badTimings = true
		h.notes = append(h.notes, fmt.Sprintf("%s: cannot read the timings line %q (want \"[timings] <phase> <duration> …\")", f.key, bad))
	}
}

// phaseMedians returns every phase figure f's runs printed, in first-seen
// order, with its median over the runs that printed it.
func (f *figure) phaseMedians() (order []string, med map[string]time.Duration) {
	med = map[string]time.Duration{}
	samples := map[string][]time.Duration{}
	for _, p := range f.phases {
		for _, name := range p.order {
			if _, seen := samples[name]; !seen {
				order = append(order, name)
			}
			samples[name] = append(samples[name], p.d[name])
		}
	}
	for name, s := range samples {
		med[name] = median(s)
	}
	return order, med
}

// median of durations; 0 for none.
func median(s []time.Duration) time.Duration {
	if len(s) == 0 {
		return 0
	}
	s = append([]time.Duration(nil), s...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// phaseTable renders the phase breakdown of every figure whose runs
// printed timings, or "" when none did.
func (h *harness) phaseTable() string {
	var b strings.Builder
	for _, k := range h.order {
		f := h.figs[k]
		order, med := f.phaseMedians()
		if len(order) == 0 {
			continue
		}
		if b.Len() == 0 {
			b.WriteString("\n## Phase breakdown (MAGEPACK_TIMINGS=1, medians)\n\n| figure | total | phases |\n|---|---|---|\n")
		}
		var parts []string
		var sum time.Duration
		for _, name := range order {
			parts = append(parts, fmt.Sprintf("%s %s", name, dur(med[name])))
			sum += med[name]
		}
		total, _, _, _ := f.stats()
		fmt.Fprintf(&b, "| %s | %s | %s (sum %s; the rest is outside magepack's phases, e.g. mage's start-up) |\n", f.key, dur(total), strings.Join(parts, ", "), dur(sum))
	}
	return b.String()
}
