package dist

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/shard"
)

var fivePlatforms = []gobuild.Target{
	{OS: "linux", Arch: "amd64"}, {OS: "linux", Arch: "arm64"}, {OS: "darwin", Arch: "amd64"},
	{OS: "darwin", Arch: "arm64"}, {OS: "windows", Arch: "amd64"},
}

func TestShardAndBuildRecord(t *testing.T) {
	api, err := gobuild.Plan(gobuild.Config{Name: "api", Main: "./cmd/api"}, fivePlatforms, nil)
	require.NoError(t, err)
	worker, err := gobuild.Plan(gobuild.Config{Name: "worker", Main: "./cmd/worker"}, fivePlatforms, nil)
	require.NoError(t, err)
	all := append(api, worker...)

	sel, mine := shard.Split(shard.Spec{K: 2, N: 3}, all, JobOf)
	assert.Equal(t, "shard 2/3: took 3 of 10 jobs: api linux/amd64, worker linux/amd64, api linux/arm64", sel.String())
	var got []string
	for _, j := range mine {
		got = append(got, JobOf(j).String())
	}
	assert.Equal(t, []string{"api linux/amd64", "api linux/arm64", "worker linux/amd64"}, got, "the planned order")

	results := []gobuild.Result{{Job: mine[0]}, {Job: mine[1], Err: errors.New("compile error")}, {Job: mine[2]}}
	rec := BuildRecord(all, sel, results, "abc", "1.2.3", "go1.26.8")
	digest, lines := gobuild.ConfigDigest(all)
	assert.Equal(t, "2/3", rec.Shard)
	assert.Equal(t, digest, rec.ConfigDigest)
	assert.Equal(t, lines, rec.Config)
	assert.Equal(t, sel.All, rec.Jobs)
	assert.Equal(t, []shard.Job{{Service: "api", Platform: "linux/amd64"}, {Service: "worker", Platform: "linux/amd64"}}, rec.Built, "only what built, sorted")
	assert.Equal(t, "abc", rec.Commit)
	assert.Equal(t, "1.2.3", rec.Version)
	assert.Equal(t, "go1.26.8", rec.Toolchain)

	whole, everything := shard.Split(shard.Spec{}, all, JobOf)
	assert.Len(t, everything, 10)
	assert.Empty(t, BuildRecord(all, whole, nil, "", "", "").Shard)
}
