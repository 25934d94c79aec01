package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// nestedRepo is a repository with a root module and a nested module in
// services/ (plus tools/, a nested module never tagged), tagged both ways:
// v1.5.0 for the root, services/v3.1.4 for the nested module.
func nestedRepo(t *testing.T) *repo {
	t.Helper()
	r := newRepo(t)
	r.write("go.mod", "module example.com/root\n\ngo 1.25\n")
	r.write("services/go.mod", "module example.com/root/services\n\ngo 1.25\n")
	r.write("services/cmd/api/main.go", "package main\n")
	r.write("tools/go.mod", "module example.com/root/tools\n\ngo 1.25\n")
	r.write("docs/README", "no module here\n")
	r.git("add", ".")
	r.commit(1)
	r.tag("v1.4.0")
	r.annotated("services/v3.0.0")
	r.commit(1)
	r.annotated("v1.5.0")
	r.tag("services/v3.1.4")
	r.tag("services/v3.2")       // not semver: ignored
	r.tag("services/api/v9.0.0") // another prefix: ignored
	return r
}

func TestFromGitNestedModule(t *testing.T) {
	r := nestedRepo(t)
	tests := []struct {
		name       string
		dir        string // relative to the repository
		opts       []Option
		want       string
		wantTag    string
		wantPrefix string
		plainTag   string
	}{
		{name: "root module reads plain tags", dir: ".", want: "1.5.0", wantTag: "v1.5.0"},
		{name: "nested module reads its prefix", dir: "services", want: "3.1.4", wantTag: "services/v3.1.4", wantPrefix: "services/"},
		{name: "a folder inside the nested module", dir: "services/cmd/api", want: "3.1.4", wantTag: "services/v3.1.4", wantPrefix: "services/"},
		{name: "empty prefix gives plain tags", dir: "services", opts: []Option{WithTagPrefix("")}, want: "1.5.0", wantTag: "v1.5.0"},
		{name: "prefix set from the root", dir: ".", opts: []Option{WithTagPrefix("services")}, want: "3.1.4", wantTag: "services/v3.1.4", wantPrefix: "services/"},
		{name: "a folder without go.mod belongs to the root module", dir: "docs", want: "1.5.0", wantTag: "v1.5.0"},
		{name: "untagged nested module", dir: "tools", want: "0.0.0-dev.2+g{sha}", wantPrefix: "tools/", plainTag: "v1.5.0"},
	}
	head := r.git("rev-parse", "HEAD")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := FromGit(t.Context(), filepath.Join(r.dir, tt.dir), tt.opts...)
			require.NoError(t, err)
			assert.Equal(t, strings.ReplaceAll(tt.want, "{sha}", head[:ShortLen]), info.String())
			assert.Equal(t, tt.wantTag, info.Tag)
			assert.Equal(t, tt.wantPrefix, info.TagPrefix)
			assert.Equal(t, tt.plainTag, info.PlainTag)
			assert.False(t, info.Shallow)
			if tt.plainTag != "" {
				require.Len(t, info.Warnings(), 1)
				w := info.Warnings()[0]
				assert.Contains(t, w, "no tag tools/v* is reachable, but v1.5.0 is")
				assert.Contains(t, w, "set the tag prefix to empty")
				assert.NotContains(t, w, "MAGEPACK_")
			} else {
				assert.Empty(t, info.Warnings())
			}
		})
	}

	t.Run("past the nested tag", func(t *testing.T) {
		r.write("services/cmd/api/main.go", "package main // changed\n")
		r.git("add", ".")
		r.git("commit", "-q", "-m", "change the service")
		info, err := FromGit(t.Context(), filepath.Join(r.dir, "services"))
		require.NoError(t, err)
		head := r.git("rev-parse", "HEAD")
		assert.Equal(t, "3.1.4-dev.1+g"+head[:ShortLen], info.String())
		assert.Equal(t, "services/v3.1.4", info.Tag)
		wantDate := r.git("show", "-s", "--format=%ct", "HEAD")
		assert.Equal(t, wantDate, strconv.FormatInt(info.Date.Unix(), 10))
	})
}

// shallowClone clones r with git clone --depth 1 over file:// (a real
// shallow clone, as CI checkouts make) and returns the clone.
func shallowClone(t *testing.T, r *repo) *repo {
	t.Helper()
	c := &repo{t: t, dir: filepath.Join(t.TempDir(), "clone"), commits: r.commits}
	r.git("clone", "-q", "--depth", "1", "file://"+r.dir, c.dir)
	c.g = fixture.NewGit(t, c.dir)
	return c
}

func TestFromGitShallow(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(r *repo)
		shallow bool
		want    string
		tag     string
		warn    bool
	}{
		{name: "full clone", setup: func(r *repo) { r.commit(2); r.tag("v1.2.3"); r.commit(3) }, want: "1.2.3-dev.3+g{sha}", tag: "v1.2.3"},
		{name: "shallow, tag out of reach", setup: func(r *repo) { r.commit(2); r.tag("v1.2.3"); r.commit(3) }, shallow: true, want: "0.0.0-dev.1+g{sha}", warn: true},
		{name: "shallow, tag on HEAD", setup: func(r *repo) { r.commit(3); r.annotated("v1.2.3") }, shallow: true, want: "1.2.3", tag: "v1.2.3"},
		{name: "shallow, no tags at all", setup: func(r *repo) { r.commit(3) }, shallow: true, want: "0.0.0-dev.1+g{sha}", warn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			tt.setup(r)
			if tt.shallow {
				r = shallowClone(t, r)
				require.Equal(t, "true", r.git("rev-parse", "--is-shallow-repository"))
			}
			head := r.git("rev-parse", "HEAD")
			info, err := FromGit(t.Context(), r.dir)
			require.NoError(t, err)
			assert.Equal(t, strings.ReplaceAll(tt.want, "{sha}", head[:ShortLen]), info.String())
			assert.Equal(t, tt.tag, info.Tag)
			assert.Equal(t, tt.shallow, info.Shallow)
			assert.Equal(t, head, info.Commit)
			if tt.warn {
				assert.Equal(t, []string{ShallowWarning}, info.Warnings())
				assert.Contains(t, ShallowWarning, "fetch-depth: 0")
				assert.NotContains(t, ShallowWarning, "MAGEPACK_")
			} else {
				assert.Empty(t, info.Warnings())
			}
		})
	}
}

// TestFromGitProcessCount counts the git processes one lookup starts,
// through a git on PATH that logs every call and runs the real one.
func TestFromGitProcessCount(t *testing.T) {
	realGit, err := exec.LookPath("git")
	require.NoError(t, err)
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "calls")
	require.NoError(t, os.WriteFile(filepath.Join(bin, "git"),
		[]byte("#!/bin/sh\necho \"$*\" >> '"+log+"'\nexec '"+realGit+"' \"$@\"\n"), 0o755))

	tests := []struct {
		name  string
		setup func(r *repo)
		want  int
	}{
		{"on a lightweight tag", func(r *repo) { r.commit(2); r.tag("v1.0.0") }, 3},
		{"on an annotated tag", func(r *repo) { r.commit(2); r.annotated("v1.0.0") }, 3},
		{"past a tag", func(r *repo) { r.commit(2); r.tag("v1.0.0"); r.commit(2) }, 4},
		{"no tag", func(r *repo) { r.commit(2) }, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			tt.setup(r)
			require.NoError(t, os.WriteFile(log, nil, 0o644))
			t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			_, err := FromGit(t.Context(), r.dir)
			require.NoError(t, err)
			calls, err := os.ReadFile(log)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
			assert.Len(t, lines, tt.want, "git calls:\n%s", calls)
		})
	}
}
