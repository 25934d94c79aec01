package gobuild

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/shard"
)

func TestShardAndBuildRecord(t *testing.T) {
	api, err := Plan(Config{Name: "api", Main: "./cmd/api"}, fivePlatforms, nil)
	require.NoError(t, err)
	worker, err := Plan(Config{Name: "worker", Main: "./cmd/worker"}, fivePlatforms, nil)
	require.NoError(t, err)
	all := append(api, worker...)

	sel, mine := Shard(shard.Spec{K: 2, N: 3}, all)
	assert.Equal(t, "shard 2/3: took 3 of 10 jobs: api linux/amd64, worker linux/amd64, api linux/arm64", sel.String())
	var got []string
	for _, j := range mine {
		got = append(got, j.ID().String())
	}
	assert.Equal(t, []string{"api linux/amd64", "api linux/arm64", "worker linux/amd64"}, got, "the planned order")

	results := []Result{{Job: mine[0]}, {Job: mine[1], Err: errors.New("compile error")}, {Job: mine[2]}}
	rec := BuildRecord(all, sel, results, "abc", "1.2.3", "go1.26.8")
	digest, lines := ConfigDigest(all)
	assert.Equal(t, "2/3", rec.Shard)
	assert.Equal(t, digest, rec.ConfigDigest)
	assert.Equal(t, lines, rec.Config)
	assert.Equal(t, sel.All, rec.Jobs)
	assert.Equal(t, []shard.Job{{Service: "api", Platform: "linux/amd64"}, {Service: "worker", Platform: "linux/amd64"}}, rec.Built, "only what built, in job order")
	assert.Equal(t, "abc", rec.Commit)
	assert.Equal(t, "1.2.3", rec.Version)
	assert.Equal(t, "go1.26.8", rec.Toolchain)

	whole, everything := Shard(shard.Spec{}, all)
	assert.Len(t, everything, 10)
	assert.Empty(t, BuildRecord(all, whole, nil, "", "", "").Shard)
}
