package main

import (
	"time"

	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelectSets(t *testing.T) {
	all := []figureSet{
		{id: "1"}, {id: "6", needs: []string{"1"}}, {id: "2"}, {id: "7", optIn: true},
	}
	ids := func(s []figureSet) []string {
		var out []string
		for _, x := range s {
			out = append(out, x.id)
		}
		return out
	}
	tests := []struct {
		only string
		want []string
		err  string
	}{
		{only: "", want: []string{"1", "6", "2"}},
		{only: "2", want: []string{"2"}},
		{only: "6", want: []string{"1", "6"}},
		{only: " 7 , 2", want: []string{"2", "7"}},
		{only: "9", err: `no figure set "9": choose from 1, 6, 2, 7`},
	}
	for _, tt := range tests {
		t.Run(tt.only, func(t *testing.T) {
			got, err := selectSets(all, tt.only)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, ids(got))
		})
	}
}

// TestSetsAreWellFormed checks the real list: unique ids, every needed set
// exists, every bar names a figure key and has a bar.
func TestSetsAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range sets() {
		assert.False(t, seen[s.id], "set id %s twice", s.id)
		seen[s.id] = true
		assert.NotNil(t, s.run, "set %s has no run", s.id)
		for _, tg := range s.targets {
			assert.NotEmpty(t, tg.ours, "%s: %s", s.id, tg.what)
			assert.True(t, tg.max > 0 || tg.limit > 0, "%s: %q has no bar", s.id, tg.what)
		}
		for _, tg := range s.extras {
			assert.Zero(t, tg.max, "%s: an extra has no bar", s.id)
		}
	}
	for _, s := range sets() {
		for _, n := range s.needs {
			assert.True(t, seen[n], "set %s needs unknown set %s", s.id, n)
		}
	}
}

func TestVerdict(t *testing.T) {
	h := &harness{figs: map[string]*figure{}}
	set := func(key string, secs ...float64) {
		f := h.fig(key, key)
		for _, s := range secs {
			f.samples = append(f.samples, time.Duration(s*float64(time.Second)))
		}
	}
	set("ours", 1.0)
	set("peer", 2.0)
	set("slow", 2.5)
	h.fig("gone", "gone").unavailable = "not installed"
	set("fast", 0.0003, 0.00035, 0.0012)
	tests := []struct {
		t                   target
		value, bar, verdict string
	}{
		{ratioBar("x", "ratio met", "ours", "peer", 0.9), "0.500×", "≤ 0.90×", "met"},
		{ratioBar("x", "ratio missed", "slow", "peer", 1.1), "1.250×", "≤ 1.10×", "**missed**"},
		{ratioBar("x", "peer unavailable", "ours", "gone", 0.9), "—", "≤ 0.90×", "n/a: peer unavailable"},
		{ratioBar("x", "not measured", "none", "peer", 0.9), "—", "≤ 0.90×", "not measured"},
		{limitBar("x", "limit met", "peer", 15*time.Second), "2.00 s", "≤ 15.0 s", "met"},
		{limitBar("x", "limit missed", "slow", 2*time.Second), "2.50 s", "≤ 2.00 s", "**missed**"},
		{diffBar("x", "difference met", "slow", "peer", 500*time.Millisecond), "+0.50 s", "≤ +0.50 s", "met"},
		{diffBar("x", "difference missed", "slow", "ours", 300*time.Millisecond), "+1.50 s", "≤ +0.30 s", "**missed**"},
		{limitBar("x", "a limit in milliseconds", "fast", 50*time.Millisecond), "0.35 ms", "≤ 50.0 ms", "met"},
	}
	for _, tt := range tests {
		t.Run(tt.t.what, func(t *testing.T) {
			value, bar, verdict := h.verdict(tt.t)
			assert.Equal(t, tt.value, value)
			assert.Equal(t, tt.bar, bar)
			assert.Equal(t, tt.verdict, verdict)
		})
	}
}

func TestFigureStringMilliseconds(t *testing.T) {
	f := &figure{samples: []time.Duration{350 * time.Microsecond, 12 * time.Millisecond, 300 * time.Microsecond}}
	assert.Equal(t, "0.35 ms (0.30–12.0, n=3)", f.String())
	f.samples = append(f.samples, 2*time.Second)
	assert.Equal(t, "6.17 ms (0.00–2.00, n=4)", f.String(), "a figure reaching 0.1 s is in seconds throughout, its median in ms")
}

func TestRunOKCodes(t *testing.T) {
	h := &harness{ctx: t.Context(), logs: t.TempDir(), started: time.Now()}
	_, _, err := h.run("exit 10 accepted", cmd{name: "sh", args: []string{"-c", "exit 10"}, okCodes: []int{10}})
	require.NoError(t, err)
	_, out, err := h.run("exit 11 refused", cmd{name: "sh", args: []string{"-c", "echo no; exit 11"}, okCodes: []int{10}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit status 11")
	assert.Equal(t, "no\n", out)
	_, _, err = h.run("exit 10 by default", cmd{name: "sh", args: []string{"-c", "exit 10"}})
	assert.Error(t, err)
}
