package rebuild

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
)

// Binary compares the published binary at published with its rebuild at
// rebuilt, named artifact. When their bytes differ, the differences are
// those of their build information (BuildInfo); an error only when a file
// cannot be read.
func Binary(artifact, published, rebuilt string, opts ...Option) (Result, error) {
	pub, err := os.ReadFile(published)
	if err != nil {
		return Result{}, fmt.Errorf("read the published %s: %w", artifact, err)
	}
	reb, err := os.ReadFile(rebuilt)
	if err != nil {
		return Result{}, fmt.Errorf("read the rebuilt %s: %w", artifact, err)
	}
	res := Result{Artifact: artifact, Published: digestOf(pub), Rebuilt: digestOf(reb)}
	res.Identical = res.Published == res.Rebuilt
	if !res.Identical {
		res.Level = LevelBinary
		res.Differences = BinaryBytes(pub, reb, opts...)
	}
	return res, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Option tells a comparison what the rebuild was given.
type Option func(*options)

type options struct {
	ldflags string
}

// WithLdflags gives the -ldflags the rebuild linked with. A build with
// -trimpath records no -ldflags in its build information, so a value
// that differs is found as a string one binary has and the other has
// not; when one of these -X values explains it, the difference is named
// after that -X.
func WithLdflags(ldflags string) Option { return func(o *options) { o.ldflags = ldflags } }

func makeOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// BinaryBytes says how two different Go binaries differ: the differences
// of their build information; when that is the same, the strings only
// one has (what an -X in -ldflags changes), named after the rebuild's -X
// that explains them (WithLdflags); else that their code differs.
func BinaryBytes(published, rebuilt []byte, opts ...Option) []Difference {
	pi, perr := buildinfo.Read(bytes.NewReader(published))
	ri, rerr := buildinfo.Read(bytes.NewReader(rebuilt))
	if perr != nil || rerr != nil {
		return []Difference{{What: "bytes", Published: digestOf(published), Rebuilt: digestOf(rebuilt)}}
	}
	if d := BuildInfo(pi, ri); len(d) > 0 {
		return d
	}
	if d, ok := stringDiff(published, rebuilt, makeOptions(opts).ldflags); ok {
		return []Difference{d}
	}
	return []Difference{{What: "code", How: "content", Published: digestOf(published), Rebuilt: digestOf(rebuilt)}}
}

// BuildInfo lists how two binaries' build information differs: the Go
// version ("go") first, then each build setting by key (-ldflags by the
// flags only one side has), then the main module and each dependency by
// path (version, or go.sum hash when the versions agree).
func BuildInfo(published, rebuilt *debug.BuildInfo) []Difference {
	var out []Difference
	if published.GoVersion != rebuilt.GoVersion {
		out = append(out, Difference{What: "go", Published: published.GoVersion, Rebuilt: rebuilt.GoVersion})
	}
	ps, rs := settings(published), settings(rebuilt)
	for _, k := range unionKeys(ps, rs) {
		if ps[k] == rs[k] {
			continue
		}
		d := Difference{What: k, Published: ps[k], Rebuilt: rs[k]}
		if k == "-ldflags" {
			d.Published, d.Rebuilt = ldflagsDiff(ps[k], rs[k])
		}
		out = append(out, d)
	}
	pm, rm := modules(published), modules(rebuilt)
	for _, k := range unionKeys(pm, rm) {
		if pm[k] != rm[k] {
			out = append(out, Difference{What: "module " + k, Published: pm[k], Rebuilt: rm[k]})
		}
	}
	return out
}

func settings(info *debug.BuildInfo) map[string]string {
	m := map[string]string{}
	for _, s := range info.Settings {
		m[s.Key] = s.Value
	}
	return m
}

// modules maps each module's path (the main module's too) to its version
// and go.sum hash, a replacement's in place of the module's.
func modules(info *debug.BuildInfo) map[string]string {
	m := map[string]string{}
	add := func(mod *debug.Module) {
		if mod == nil || mod.Path == "" {
			return
		}
		path := mod.Path
		if mod.Replace != nil {
			mod = mod.Replace
		}
		v := mod.Version
		if mod.Sum != "" {
			v += " " + mod.Sum
		}
		m[path] = v
	}
	add(&info.Main)
	for _, d := range info.Deps {
		add(d)
	}
	return m
}

// unionKeys are the keys of a and b, sorted, each once.
func unionKeys[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// ldflagsDiff keeps the flags of each side the other side does not have
// ("-X main.extra=1" pairs kept whole), so a long -ldflags shows what
// was added or changed; both whole when the difference is only order.
func ldflagsDiff(published, rebuilt string) (string, string) {
	pf, rf := flagWords(published), flagWords(rebuilt)
	onlyP := slices.DeleteFunc(slices.Clone(pf), func(f string) bool { return slices.Contains(rf, f) })
	onlyR := slices.DeleteFunc(slices.Clone(rf), func(f string) bool { return slices.Contains(pf, f) })
	if len(onlyP) == 0 && len(onlyR) == 0 {
		return published, rebuilt
	}
	return strings.Join(onlyP, " "), strings.Join(onlyR, " ")
}

// flagWords splits -ldflags into flags, a flag that takes a value (-X,
// -extldflags, -linkmode, …) with it.
func flagWords(s string) []string {
	fields := strings.Fields(s)
	var out []string
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		switch strings.TrimLeft(f, "-") {
		case "X", "extldflags", "linkmode", "buildid", "B", "H", "T", "R", "I", "r", "extld", "tmpdir":
			if i+1 < len(fields) {
				f += " " + fields[i+1]
				i++
			}
		}
		out = append(out, f)
	}
	return out
}

// stringDiff finds a string only one binary holds: the printable runs
// only one side has, paired by their longest common prefix and suffix,
// and the part between those.
func stringDiff(published, rebuilt []byte, ldflags string) (Difference, bool) {
	pr, rr := printable(published), printable(rebuilt)
	// The build ID hashes every input of the link: it differs whenever
	// anything does, and says nothing of what.
	for _, m := range []map[string]bool{pr, rr} {
		for s := range m {
			if buildIDPattern.MatchString(s) {
				delete(m, s)
			}
		}
	}
	var onlyP, onlyR []string
	for s := range pr {
		if !rr[s] {
			onlyP = append(onlyP, s)
		}
	}
	for s := range rr {
		if !pr[s] {
			onlyR = append(onlyR, s)
		}
	}
	slices.Sort(onlyP)
	slices.Sort(onlyR)
	if len(onlyP) == 0 && len(onlyR) == 0 {
		return Difference{}, false
	}
	for _, f := range flagWords(ldflags) {
		name, value, ok := strings.Cut(strings.TrimPrefix(f, "-X "), "=")
		if !ok || !strings.HasPrefix(f, "-X ") || len(value) < 3 {
			continue
		}
		for _, r := range onlyR {
			i := strings.Index(r, value)
			if i < 0 || len(onlyP) > 0 && strings.Contains(bestPair(r, onlyP), value) {
				continue
			}
			pub := pairedMiddle(r, i, len(value), onlyP)
			if pub == "" {
				pub = inserted(onlyP, onlyR)
			}
			return Difference{What: "-ldflags -X " + name, Published: pub, Rebuilt: value}, true
		}
	}
	d := Difference{What: "string", How: "content"}
	switch {
	case len(onlyP) > 0:
		d.Published = onlyP[0]
		if len(onlyR) > 0 {
			d.Published, d.Rebuilt = middles(onlyP[0], bestPair(onlyP[0], onlyR))
		}
	default:
		d.Rebuilt = onlyR[0]
	}
	return d, true
}

// pairedMiddle is what the published run most like r holds where r holds
// the value at [i, i+n).
func pairedMiddle(r string, i, n int, onlyP []string) string {
	if len(onlyP) == 0 {
		return ""
	}
	p := bestPair(r, onlyP)
	pre := min(commonPrefix(p, r), i)
	suf := min(commonSuffix(p, r), len(r)-i-n)
	if pre+suf > len(p) {
		return ""
	}
	return p[pre : len(p)-suf]
}

// inserted is the first text a published run has where its most alike
// rebuilt run has none: where the linker put a value the rebuild lacks,
// away from where it put the rebuild's own.
func inserted(onlyP, onlyR []string) string {
	if len(onlyR) == 0 {
		return ""
	}
	for _, p := range onlyP {
		if mp, mr := middles(p, bestPair(p, onlyR)); mp != "" && mr == "" {
			return mp
		}
	}
	return ""
}

// bestPair is the string of among most like s: the longest common prefix
// and suffix together.
func bestPair(s string, among []string) string {
	best, score := among[0], -1
	for _, o := range among {
		if n := commonPrefix(s, o) + commonSuffix(s, o); n > score {
			best, score = o, n
		}
	}
	return best
}

// middles trims the common prefix and suffix of a and b.
func middles(a, b string) (string, string) {
	pre := commonPrefix(a, b)
	suf := min(commonSuffix(a, b), len(a)-pre, len(b)-pre)
	return a[pre : len(a)-suf], b[pre : len(b)-suf]
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func commonSuffix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return n
}

// printable is the set of runs of at least 4 printable ASCII bytes.
func printable(b []byte) map[string]bool {
	out := map[string]bool{}
	start := -1
	for i := 0; i <= len(b); i++ {
		if i < len(b) && b[i] >= 0x20 && b[i] < 0x7f {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 4 {
			out[string(b[start:i])] = true
		}
		start = -1
	}
	return out
}

// buildIDPattern matches a Go build ID: action ID and content ID, each
// 20 characters of base64url.
var buildIDPattern = regexp.MustCompile(`[A-Za-z0-9_-]{20}/[A-Za-z0-9_-]{20}`)
