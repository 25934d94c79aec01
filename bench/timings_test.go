package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTimings(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		out    string
		ok     bool
		bad    string
		order  []string
		phases map[string]time.Duration
	}{
		{
			name:   "one line, all phases",
			out:    "[scratch] loaded x\n[timings] setup 0.05s build 0.61s check 0.01s assemble 0.08s load 0.12s smoke 0.31s\n",
			ok:     true,
			order:  []string{"setup", "build", "check", "assemble", "load", "smoke"},
			phases: map[string]time.Duration{"setup": 50 * ms, "build": 610 * ms, "check": 10 * ms, "assemble": 80 * ms, "load": 120 * ms, "smoke": 310 * ms},
		},
		{
			name:   "one phase per line, a phase twice adds up, other units",
			out:    "[timings] setup 50ms\nsomething else\n[timings] build 1.5s\n[timings] setup 25ms  \n",
			ok:     true,
			order:  []string{"setup", "build"},
			phases: map[string]time.Duration{"setup": 75 * ms, "build": 1500 * ms},
		},
		{name: "no timings", out: "[build] example-app\n[timings nothing\n", ok: false},
		{name: "not at line start", out: "x [timings] setup 1s\n", ok: false},
		{name: "odd fields", out: "[timings] setup 0.05s build\n", ok: false, bad: "[timings] setup 0.05s build"},
		{name: "not a duration", out: "[timings] setup fast\n", ok: false, bad: "[timings] setup fast"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, bad, ok := parseTimings(tt.out)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.bad, bad)
			if !tt.ok {
				return
			}
			assert.Equal(t, tt.order, p.order)
			assert.Equal(t, tt.phases, p.d)
		})
	}
}

func TestPhaseTable(t *testing.T) {
	h := &harness{figs: map[string]*figure{}}
	f := h.fig("2 smoke off", "edit → image")
	f.samples = []time.Duration{2 * time.Second, 3 * time.Second, 4 * time.Second}
	for _, out := range []string{
		"[timings] setup 0.1s build 1s\n",
		"[timings] setup 0.3s build 2s load 0.5s\n",
		"[timings] setup 0.2s build 3s\n",
	} {
		h.recordPhases(f, out)
	}
	h.recordPhases(f, "[timings] broken\n")
	h.recordPhases(f, "[timings] broken again\n")
	h.fig("1 warm go build loop", "loop").samples = []time.Duration{time.Second}

	order, med := f.phaseMedians()
	assert.Equal(t, []string{"setup", "build", "load"}, order)
	assert.Equal(t, map[string]time.Duration{"setup": 200 * time.Millisecond, "build": 2 * time.Second, "load": 500 * time.Millisecond}, med)

	table := h.phaseTable()
	require.Contains(t, table, "| 2 smoke off | 3.00 s | setup 0.20 s, build 2.00 s, load 0.50 s (sum 2.70 s;")
	assert.NotContains(t, table, "loop", "a figure without timings has no row")
	require.Len(t, h.notes, 1, "an unreadable line is noted once per figure")
	assert.Contains(t, h.notes[0], "[timings] broken")

	assert.Empty(t, (&harness{figs: map[string]*figure{}}).phaseTable())
}
