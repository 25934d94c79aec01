package shard

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in     string
		want   Spec
		reason string // "" = valid
	}{
		{in: "1/1", want: Spec{K: 1, N: 1}},
		{in: "2/3", want: Spec{K: 2, N: 3}},
		{in: "3/3", want: Spec{K: 3, N: 3}},
		{in: "10/12", want: Spec{K: 10, N: 12}},
		{in: "", reason: "is empty"},
		{in: "0/3", reason: "shards count from 1"},
		{in: "4/3", reason: "shard 4 of only 3"},
		{in: "a/b", reason: `bad shard number "a" (not a number)`},
		{in: "1/b", reason: `bad shard count "b" (not a number)`},
		{in: "1/0", reason: "shard count of 0"},
		{in: "0/0", reason: "shard count of 0"},
		{in: " 1/2", reason: `bad shard number " 1"`},
		{in: "1/2 ", reason: `bad shard count "2 "`},
		{in: "1 /2", reason: `bad shard number "1 "`},
		{in: "1", reason: "has no /"},
		{in: "1/2/3", reason: `bad shard count "2/3"`},
		{in: "/3", reason: `bad shard number "" (empty)`},
		{in: "1/", reason: `bad shard count "" (empty)`},
		{in: "+1/2", reason: "not a number"},
		{in: "-1/2", reason: "not a number"},
		{in: "01/2", reason: "leading zero"},
		{in: "1/02", reason: "leading zero"},
		{in: "1/99999999999999999999", reason: "too large"},
		{in: "１/2", reason: "not a number"}, // fullwidth digit
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.reason == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				assert.Equal(t, tc.in, got.String())
				return
			}
			require.Error(t, err)
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "a *ParseError")
			assert.Equal(t, tc.in, pe.Value)
			assert.Contains(t, err.Error(), fmt.Sprintf("shard %q", tc.in), "names the value")
			assert.Contains(t, err.Error(), tc.reason)
			assert.Contains(t, err.Error(), "want k/n with 1 ≤ k ≤ n", "names the valid form")
			assert.Equal(t, Spec{}, got)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1/1", "2/3", "0/3", "4/3", "a/b", "1/0", " 1/2", "01/2", "9223372036854775807/9223372036854775807", "", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Value != s {
				t.Fatalf("Parse(%q): error %v is not a *ParseError naming the value", s, err)
			}
			return
		}
		if spec.K < 1 || spec.K > spec.N {
			t.Fatalf("Parse(%q) = %+v: out of range", s, spec)
		}
		if spec.String() != s {
			t.Fatalf("Parse(%q).String() = %q: not the canonical form", s, spec.String())
		}
		// Any valid shard selects within bounds, whatever n is.
		sel := Select(spec, jobsOf([]string{"a", "b"}, fivePlatforms))
		if len(sel.Taken) > len(sel.All)/spec.N+1 {
			t.Fatalf("shard %s took %d of %d", spec, len(sel.Taken), len(sel.All))
		}
	})
}

var fivePlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

func jobsOf(services, platforms []string) []Job {
	var jobs []Job
	for _, s := range services {
		for _, p := range platforms {
			jobs = append(jobs, Job{Service: s, Platform: p})
		}
	}
	return jobs
}

func TestSelectGolden(t *testing.T) {
	one := jobsOf([]string{"app"}, fivePlatforms)
	two := jobsOf([]string{"worker", "api"}, fivePlatforms)
	tests := []struct {
		name string
		spec Spec
		jobs []Job
		want string
	}{
		{name: "no split", jobs: one, want: "all 5 jobs: app darwin/amd64, app darwin/arm64, app linux/amd64, app linux/arm64, app windows/amd64"},
		{name: "1/1", spec: Spec{1, 1}, jobs: one, want: "shard 1/1: took 5 of 5 jobs: app darwin/amd64, app darwin/arm64, app linux/amd64, app linux/arm64, app windows/amd64"},
		{name: "1/2 takes the longer run", spec: Spec{1, 2}, jobs: one, want: "shard 1/2: took 3 of 5 jobs: app darwin/amd64, app darwin/arm64, app linux/amd64"},
		{name: "2/2", spec: Spec{2, 2}, jobs: one, want: "shard 2/2: took 2 of 5 jobs: app linux/arm64, app windows/amd64"},
		{name: "2/3", spec: Spec{2, 3}, jobs: one, want: "shard 2/3: took 2 of 5 jobs: app linux/amd64, app linux/arm64"},
		{name: "3/3", spec: Spec{3, 3}, jobs: one, want: "shard 3/3: took 1 of 5 jobs: app windows/amd64"},
		{name: "5/5", spec: Spec{5, 5}, jobs: one, want: "shard 5/5: took 1 of 5 jobs: app windows/amd64"},
		{name: "more shards than jobs", spec: Spec{7, 7}, jobs: one, want: "shard 7/7: took 0 of 5 jobs (more shards than jobs); nothing to build"},
		{name: "two services keep a platform together", spec: Spec{2, 5}, jobs: two, want: "shard 2/5: took 2 of 10 jobs: api darwin/arm64, worker darwin/arm64"},
		{name: "two services, 1/3", spec: Spec{1, 3}, jobs: two, want: "shard 1/3: took 4 of 10 jobs: api darwin/amd64, worker darwin/amd64, api darwin/arm64, worker darwin/arm64"},
		{name: "two services, 3/3", spec: Spec{3, 3}, jobs: two, want: "shard 3/3: took 3 of 10 jobs: worker linux/arm64, api windows/amd64, worker windows/amd64"},
		{name: "duplicates count once", spec: Spec{1, 1}, jobs: append(slices.Clone(one[:2]), one[:2]...), want: "shard 1/1: took 2 of 2 jobs: app linux/amd64, app linux/arm64"},
		{name: "invalid spec takes none", spec: Spec{4, 3}, jobs: one, want: "shard 4/3: took 0 of 5 jobs (more shards than jobs); nothing to build"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Select(tc.spec, tc.jobs).String())
		})
	}
}

// TestSelectPartition checks the promises for many sizes and shard counts:
// every job in exactly one shard, sizes within one of each other, the same
// answer for any input order, and Owner agreeing with Select.
func TestSelectPartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	platforms := append(slices.Clone(fivePlatforms), "linux/386", "linux/arm", "freebsd/amd64", "windows/arm64", "linux/riscv64", "linux/ppc64le")
	for services := 1; services <= 4; services++ {
		for nplat := 1; nplat <= len(platforms); nplat++ {
			var names []string
			for i := range services {
				names = append(names, fmt.Sprintf("svc%d", i))
			}
			jobs := jobsOf(names, platforms[:nplat])
			for n := 1; n <= len(jobs)+2; n++ {
				seen := map[Job]int{}
				minSize, maxSize := len(jobs), 0
				for k := 1; k <= n; k++ {
					spec := Spec{K: k, N: n}
					sel := Select(spec, jobs)
					shuffled := slices.Clone(jobs)
					rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
					again := Select(spec, shuffled)
					require.Equal(t, sel, again, "input order must not matter (%d jobs, shard %s)", len(jobs), spec)
					for _, j := range sel.Taken {
						seen[j]++
						owner, ok := Owner(n, shuffled, j)
						require.True(t, ok)
						require.Equal(t, spec, owner, "Owner of %s with n=%d", j, n)
						require.True(t, sel.Has(j))
					}
					minSize, maxSize = min(minSize, len(sel.Taken)), max(maxSize, len(sel.Taken))
				}
				require.Len(t, seen, len(jobs), "every job in some shard (%d jobs, n=%d)", len(jobs), n)
				for j, c := range seen {
					require.Equal(t, 1, c, "job %s in exactly one shard (n=%d)", j, n)
				}
				require.LessOrEqual(t, maxSize-minSize, 1, "balanced (%d jobs, n=%d)", len(jobs), n)
			}
		}
	}
}

func TestSelectHugeN(t *testing.T) {
	jobs := jobsOf([]string{"app"}, fivePlatforms)
	spec, err := Parse("9223372036854775807/9223372036854775807")
	require.NoError(t, err)
	assert.Empty(t, Select(spec, jobs).Taken)
	first := Select(Spec{K: 1, N: spec.N}, jobs)
	assert.Equal(t, []Job{{"app", "darwin/amd64"}}, first.Taken)
	owner, ok := Owner(spec.N, jobs, Job{"app", "windows/amd64"})
	require.True(t, ok)
	assert.Equal(t, Spec{K: 5, N: spec.N}, owner)
}

func TestOwnerUnknown(t *testing.T) {
	jobs := jobsOf([]string{"app"}, fivePlatforms)
	_, ok := Owner(3, jobs, Job{"app", "plan9/amd64"})
	assert.False(t, ok)
	_, ok = Owner(0, jobs, jobs[0])
	assert.False(t, ok)
}

func TestFilter(t *testing.T) {
	type build struct {
		name, target string
		n            int
	}
	builds := []build{{"api", "windows/amd64", 0}, {"api", "linux/amd64", 1}, {"worker", "linux/amd64", 2}, {"api", "darwin/arm64", 3}}
	id := func(b build) Job { return Job{Service: b.name, Platform: b.target} }
	ids := make([]Job, len(builds))
	for i, b := range builds {
		ids[i] = id(b)
	}
	sel := Select(Spec{K: 2, N: 2}, ids)
	assert.Equal(t, "shard 2/2: took 2 of 4 jobs: worker linux/amd64, api windows/amd64", sel.String())
	got := Filter(sel, builds, id)
	assert.Equal(t, []build{{"api", "windows/amd64", 0}, {"worker", "linux/amd64", 2}}, got, "input order kept")
}

func TestSplit(t *testing.T) {
	type build struct {
		name, target string
		n            int
	}
	builds := []build{{"api", "windows/amd64", 0}, {"api", "linux/amd64", 1}, {"worker", "linux/amd64", 2}, {"api", "darwin/arm64", 3}}
	id := func(b build) Job { return Job{Service: b.name, Platform: b.target} }

	sel, mine := Split(Spec{K: 2, N: 2}, builds, id)
	assert.Equal(t, "shard 2/2: took 2 of 4 jobs: worker linux/amd64, api windows/amd64", sel.String())
	assert.Equal(t, []build{{"api", "windows/amd64", 0}, {"worker", "linux/amd64", 2}}, mine, "input order kept")

	whole, all := Split(Spec{}, builds, id)
	assert.True(t, whole.Spec.IsZero())
	assert.Len(t, whole.All, 4)
	assert.Equal(t, builds, all, "the zero Spec takes every item, in input order")
}
