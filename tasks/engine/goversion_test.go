package engine

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/dockerfile"
)

func TestBuilderGoVersionEngine(t *testing.T) {
	e := smokeTestEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := randomHex(4)
	withEnv := "magepack-test/engine-builder-env:" + run
	tagOnly := "magepack-test/golang:1.23-engine-" + run
	importTestImage(t, e, withEnv, map[string]testFile{"etc/hostname": {body: "x"}}, "ENV GOLANG_VERSION=1.24.3")
	importTestImage(t, e, tagOnly, map[string]testFile{"etc/hostname": {body: "x"}})

	tests := []struct {
		name, image, want, errContains string
	}{
		{name: "GOLANG_VERSION in the config wins", image: withEnv, want: "1.24.3"},
		{name: "no GOLANG_VERSION: the tag tells", image: tagOnly, want: "1.23.0"},
		{name: "absent image: the tag tells", image: "golang:1.22-alpine-absent-" + run, want: "1.22.0"},
		{name: "absent and no tag", image: "magepack-test/absent:" + run, errContains: "the engine does not have it and its tag names no Go version; use an official golang image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := e.BuilderGoVersion(ctx, tt.image)
			if tt.errContains != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, dockerfile.ErrUnknownBuilderVersion)
				assert.Contains(t, err.Error(), tt.errContains)
				assert.Contains(t, err.Error(), tt.image)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.String())
		})
	}
	t.Run("bad GOLANG_VERSION", func(t *testing.T) {
		bad := "magepack-test/engine-builder-bad:" + run
		importTestImage(t, e, bad, map[string]testFile{"etc/hostname": {body: "x"}}, "ENV GOLANG_VERSION=tip")
		_, err := e.BuilderGoVersion(ctx, bad)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "GOLANG_VERSION=tip")
	})
}

// TestBuilderGoVersionEngineCannotAnswer checks that an engine that cannot
// be asked is the engine's error, never a configuration mistake
// (dockerfile.ErrUnknownBuilderVersion) nor an answer guessed from the tag, and that
// a cancelled context stays context.Canceled (so the run exits 130).
func TestBuilderGoVersionEngineCannotAnswer(t *testing.T) {
	cli, err := client.New(client.WithHost("unix://" + filepath.Join(t.TempDir(), "none.sock")))
	require.NoError(t, err)
	e := New(cli, "the test's socket")

	v, err := e.BuilderGoVersion(context.Background(), "golang:1.25-alpine")
	require.Error(t, err, "the tag names 1.25, but the engine was never asked: got %v", v)
	assert.NotErrorIs(t, err, dockerfile.ErrUnknownBuilderVersion)
	assert.Contains(t, err.Error(), "the test's socket")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.BuilderGoVersion(ctx, "golang:1.25-alpine")
	assert.ErrorIs(t, err, context.Canceled)
}
