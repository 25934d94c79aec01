package tasks

import (
	"fmt"
	"strconv"
	"strings"
)

// shard is one CI machine's share of the build jobs: the k-th of n.
// The zero value means all jobs.
type shard struct{ k, n int }

func (s shard) String() string { return fmt.Sprintf("%d/%d", s.k, s.n) }

// parseShard reads "k/n" with 1 <= k <= n.
func parseShard(s string) (shard, error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	if !ok || kerr != nil || nerr != nil || n < 1 || k < 1 || k > n {
		return shard{}, fmt.Errorf("shard %q is not valid: want k/n with 1 <= k <= n, e.g. 2/3", s)
	}
	return shard{k: k, n: n}, nil
}
