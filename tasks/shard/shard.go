// Package shard splits a run's build jobs between the machines of a CI
// matrix: Parse reads a "k/n" shard, Select gives shard k of n its share.
//
// The split depends only on the set of jobs and on n, never on the order
// the jobs come in or on the machine, so every machine of a matrix agrees
// on who builds what, and every job falls in exactly one shard. Jobs are put
// in platform-major order (platform, then service) and cut into n contiguous
// runs whose sizes differ by at most one job. Keeping a platform's services
// together lets them share the packages they compile in common (the
// standard library and dependencies for that GOOS/GOARCH) within one
// machine's build cache; measured cold builds cost about the same on every
// first-class platform, so counting jobs balances the time.
package shard

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Job names one build job: a service (binary name) built for a platform.
type Job struct {
	// Service is the service's (binary's) name, e.g. "api".
	Service string `json:"service"`
	// Platform is the target in GOOS/GOARCH form, e.g. "linux/arm64".
	Platform string `json:"platform"`
}

// String returns "<service> <platform>", e.g. "api linux/arm64".
func (j Job) String() string { return j.Service + " " + j.Platform }

// compare orders jobs platform-major: by platform, then by service.
func compare(a, b Job) int {
	if c := cmp.Compare(a.Platform, b.Platform); c != 0 {
		return c
	}
	return cmp.Compare(a.Service, b.Service)
}

// Sort returns jobs without duplicates in the canonical order Select cuts
// shards from (by platform, then service). The input is not changed.
func Sort(jobs []Job) []Job {
	out := slices.Clone(jobs)
	slices.SortFunc(out, compare)
	return slices.Compact(out)
}

// Spec is one shard of a split: shard K of N, 1 ≤ K ≤ N. The zero Spec
// means no split: the whole run on one machine.
type Spec struct {
	K, N int
}

// IsZero reports whether s is the zero Spec (no split).
func (s Spec) IsZero() bool { return s == Spec{} }

// String returns "k/n", or "" for the zero Spec.
func (s Spec) String() string {
	if s.IsZero() {
		return ""
	}
	return strconv.Itoa(s.K) + "/" + strconv.Itoa(s.N)
}

// ParseError is a shard value that is not "k/n" with 1 ≤ k ≤ n.
type ParseError struct {
	// Value is the text as given.
	Value string
	// Reason says what is wrong with it.
	Reason string
}

// Error names the value, what is wrong and the valid form.
func (e *ParseError) Error() string {
	return fmt.Sprintf("shard %q %s: want k/n with 1 ≤ k ≤ n, e.g. 2/3 for the second of three shards", e.Value, e.Reason)
}

// Parse reads a shard in "k/n" form: two decimal numbers without sign,
// spaces or leading zeros, 1 ≤ k ≤ n. It returns a *ParseError naming the
// value and the valid form otherwise ("", "0/3", "4/3", "a/b", "1/0",
// " 1/2"). An empty value is an error too: a caller that treats "unset"
// as "no split" checks for it first.
func Parse(s string) (Spec, error) {
	bad := func(reason string) (Spec, error) {
		return Spec{}, &ParseError{Value: s, Reason: reason}
	}
	if s == "" {
		return bad("is empty")
	}
	ks, ns, ok := strings.Cut(s, "/")
	if !ok {
		return bad("has no /")
	}
	k, err := number(ks)
	if err != nil {
		return bad(fmt.Sprintf("has a bad shard number %q (%s)", ks, err))
	}
	n, err := number(ns)
	if err != nil {
		return bad(fmt.Sprintf("has a bad shard count %q (%s)", ns, err))
	}
	switch {
	case n == 0:
		return bad("has a shard count of 0")
	case k == 0:
		return bad("is out of range: shards count from 1")
	case k > n:
		return bad(fmt.Sprintf("is out of range: shard %d of only %d", k, n))
	}
	return Spec{K: k, N: n}, nil
}

// number reads a decimal number of ASCII digits without sign or leading
// zeros that fits an int.
func number(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("not a number")
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("leading zero")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("too large")
	}
	return n, nil
}

// Selection is the share of a run's jobs one shard builds.
type Selection struct {
	// Spec is the shard; the zero Spec selects every job.
	Spec Spec
	// All is every job of the run, deduplicated, in canonical order.
	All []Job
	// Taken is the jobs this shard builds, in canonical order.
	Taken []Job
}

// Select returns shard s's share of jobs. Duplicates count once and the
// input order does not matter. Jobs are sorted by platform, then service,
// and cut into s.N contiguous runs, the first len%N of them one job longer;
// shard K takes the K-th. With more shards than jobs the last shards take
// none. The zero Spec takes every job; a Spec Parse would refuse (K
// outside 1..N) takes none.
func Select(s Spec, jobs []Job) Selection {
	all := Sort(jobs)
	if s.IsZero() {
		return Selection{All: all, Taken: slices.Clone(all)}
	}
	if s.K < 1 || s.K > s.N {
		return Selection{Spec: s, All: all, Taken: []Job{}}
	}
	lo, hi := bounds(s, len(all))
	return Selection{Spec: s, All: all, Taken: slices.Clone(all[lo:hi])}
}

// bounds returns the half-open range of m sorted jobs shard s takes.
func bounds(s Spec, m int) (lo, hi int) {
	base, extra := m/s.N, m%s.N
	// i jobs-long runs before shard i+1: i*base plus one for each of the
	// first min(i, extra) longer runs. With base 0, i may be huge: no product.
	start := func(i int) int {
		if base == 0 {
			return min(i, extra)
		}
		return i*base + min(i, extra)
	}
	return start(s.K - 1), start(s.K)
}

// Owner returns the shard of n that builds job in a run of jobs, and false
// when job is not one of jobs or n < 1.
func Owner(n int, jobs []Job, job Job) (Spec, bool) {
	if n < 1 {
		return Spec{}, false
	}
	all := Sort(jobs)
	i, found := slices.BinarySearchFunc(all, job, compare)
	if !found {
		return Spec{}, false
	}
	// Shard k covers [start(k-1), start(k)); find k by the run lengths.
	base, extra := len(all)/n, len(all)%n
	long := extra * (base + 1) // jobs in the longer runs at the front
	if i < long {
		return Spec{K: i/(base+1) + 1, N: n}, true
	}
	return Spec{K: extra + (i-long)/base + 1, N: n}, true
}

// Has reports whether the shard takes job.
func (sel Selection) Has(job Job) bool {
	_, found := slices.BinarySearchFunc(sel.Taken, job, compare)
	return found
}

// Filter returns the items whose job (by id) the shard takes, in their
// input order: the planned builds of a run, cut down to this shard's.
func Filter[T any](sel Selection, items []T, id func(T) Job) []T {
	var out []T
	for _, it := range items {
		if sel.Has(id(it)) {
			out = append(out, it)
		}
	}
	return out
}

// Split returns shard s's Selection of items, each known by its job id,
// and the items it takes in their input order: the planned builds of a
// run, cut down to this shard's. The zero Spec takes every item.
func Split[T any](s Spec, items []T, id func(T) Job) (Selection, []T) {
	ids := make([]Job, len(items))
	for i, it := range items {
		ids[i] = id(it)
	}
	sel := Select(s, ids)
	return sel, Filter(sel, items, id)
}

// String describes the selection in one line: "shard 2/3: took 2 of 5
// jobs: api linux/arm64, worker windows/amd64", or "all 5 jobs: …" for the
// zero Spec. A shard with nothing to build says so.
func (sel Selection) String() string {
	names := make([]string, len(sel.Taken))
	for i, j := range sel.Taken {
		names[i] = j.String()
	}
	list := strings.Join(names, ", ")
	if sel.Spec.IsZero() {
		return fmt.Sprintf("all %d jobs: %s", len(sel.All), list)
	}
	if len(sel.Taken) == 0 {
		return fmt.Sprintf("shard %s: took 0 of %d jobs (more shards than jobs); nothing to build", sel.Spec, len(sel.All))
	}
	return fmt.Sprintf("shard %s: took %d of %d jobs: %s", sel.Spec, len(sel.Taken), len(sel.All), list)
}
