package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// figure is one measured quantity: several timed runs of one command, or
// the reason it could not be measured.
type figure struct {
	key, label  string
	samples     []time.Duration
	unavailable string
	// phases are the MAGEPACK_TIMINGS phase durations of each run that
	// printed them (timings.go).
	phases     []phases
	badTimings bool // a timings line could not be read (noted once)
}

// stats returns the median, min and max of the samples; ok is false when
// there are none.
func (f *figure) stats() (med, lo, hi time.Duration, ok bool) {
	if f == nil || len(f.samples) == 0 {
		return 0, 0, 0, false
	}
	s := append([]time.Duration(nil), f.samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1], true
}

// String renders "1.23 s (1.10–1.40, n=5)" or "unavailable: why".
func (f *figure) String() string {
	if f == nil {
		return "not measured"
	}
	med, lo, hi, ok := f.stats()
	if !ok {
		if f.unavailable != "" {
			return "unavailable: " + f.unavailable
		}
		return "not measured"
	}
	if len(f.samples) == 1 {
		return fmt.Sprintf("%s (n=1)", dur(med))
	}
	if hi < 100*time.Millisecond {
		return fmt.Sprintf("%s (%s–%s, n=%d)", dur(med), msNum(lo), msNum(hi), len(f.samples))
	}
	return fmt.Sprintf("%s (%s–%s, n=%d)", dur(med), durNum(lo), durNum(hi), len(f.samples))
}

// dur renders d in seconds, or in milliseconds below 0.1 s (signing
// figures).
func dur(d time.Duration) string {
	if d < 100*time.Millisecond && d > -100*time.Millisecond {
		return msNum(d) + " ms"
	}
	return durNum(d) + " s"
}

// msNum renders d in milliseconds: two decimals below 10 ms, one above.
func msNum(d time.Duration) string {
	if d < 10*time.Millisecond && d > -10*time.Millisecond {
		return fmt.Sprintf("%.2f", ms(d))
	}
	return fmt.Sprintf("%.1f", ms(d))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func durNum(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f", s)
	case s >= 10:
		return fmt.Sprintf("%.1f", s)
	default:
		return fmt.Sprintf("%.2f", s)
	}
}

// fig returns the figure for key, creating it with label on first use.
func (h *harness) fig(key, label string) *figure {
	if f, ok := h.figs[key]; ok {
		return f
	}
	f := &figure{key: key, label: label}
	h.figs[key] = f
	h.order = append(h.order, key)
	return f
}

// cmd is one command the harness runs.
type cmd struct {
	dir  string
	env  []string // added to the harness environment, later entries win
	name string
	args []string
	// okCodes are exit codes other than 0 that count as a finished run
	// (vulncheck's 10: vulnerable code found, everything scanned).
	okCodes []int
}

// run executes c, logs its output to the logs folder under label, and
// returns how long it took and its combined output. A failure returns an
// error with the command and the tail of its output.
func (h *harness) run(label string, c cmd) (time.Duration, string, error) {
	ctx := h.ctx
	x := exec.CommandContext(ctx, c.name, c.args...)
	x.Dir = c.dir
	x.Env = withEnv(h.env, c.env...)
	var buf bytes.Buffer
	x.Stdout, x.Stderr = &buf, &buf
	x.WaitDelay = 5 * time.Second
	start := time.Now()
	err := x.Run()
	d := time.Since(start)
	var exit *exec.ExitError
	if errors.As(err, &exit) && slices.Contains(c.okCodes, exit.ExitCode()) {
		err = nil
	}
	h.seq++
	logName := fmt.Sprintf("%03d-%s.log", h.seq, safeName.ReplaceAllString(label, "_"))
	header := fmt.Sprintf("# %s\n# dir %s\n# env %s\n# took %s, err %v\n\n", shellLine(c.name, c.args), c.dir, strings.Join(c.env, " "), d, err)
	_ = os.WriteFile(filepath.Join(h.logs, logName), append([]byte(header), buf.Bytes()...), 0o644)
	h.progress("%-34s %7.2fs  %s", label, d.Seconds(), statusWord(err))
	if err != nil {
		if ctx.Err() != nil {
			return d, buf.String(), ctx.Err()
		}
		return d, buf.String(), fmt.Errorf("%s: %s failed: %w\n%s\n(full log: %s)", label, shellLine(c.name, c.args), err, tail(buf.String(), 30), filepath.Join(h.logs, logName))
	}
	return d, buf.String(), nil
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func statusWord(err error) string {
	if err != nil {
		return "FAILED"
	}
	return "ok"
}

// measure runs c and records its duration in the figure key on success,
// with the phases it printed (MAGEPACK_TIMINGS).
func (h *harness) measure(key, label string, c cmd) (string, error) {
	d, out, err := h.run(key, c)
	if err != nil {
		return out, err
	}
	f := h.fig(key, label)
	f.samples = append(f.samples, d)
	h.recordPhases(f, out)
	return out, nil
}

// withEnv returns base with each KEY=value in add replacing an entry of the
// same key (or appended); "KEY=" with nothing after removes nothing but sets
// an empty value, and "-KEY" removes KEY.
func withEnv(base []string, add ...string) []string {
	out := append([]string(nil), base...)
	for _, kv := range add {
		if del, ok := strings.CutPrefix(kv, "-"); ok {
			out = slicesDeleteKey(out, del)
			continue
		}
		k, _, _ := strings.Cut(kv, "=")
		out = append(slicesDeleteKey(out, k), kv)
	}
	return out
}

func slicesDeleteKey(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

func shellLine(name string, args []string) string {
	parts := []string{name}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// output runs a short informational command and returns its trimmed
// stdout, or "" when it fails.
func output(ctx context.Context, dir, name string, args ...string) string {
	x := exec.CommandContext(ctx, name, args...)
	x.Dir = dir
	b, err := x.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
