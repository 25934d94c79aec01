package version

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

// baseDate is the first test commit's time; commit i is i hours later.
var baseDate = time.Date(2024, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))

// repo is a real git repository in a temp dir, run by fixture.Git (no
// machine configuration, fixed identity); commit i is dated i hours after
// baseDate, so hashes and times are the same on every run.
type repo struct {
	t       testing.TB
	dir     string
	g       *fixture.Git
	commits int
}

func newRepo(t testing.TB) *repo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not on PATH:", err)
	}
	g := fixture.GitInit(t, t.TempDir())
	return &repo{t: t, dir: g.Dir, g: g}
}

func (r *repo) date() time.Time { return baseDate.Add(time.Duration(r.commits) * time.Hour) }

func (r *repo) git(args ...string) string {
	r.t.Helper()
	r.g.Date = r.date()
	return r.g.Run(args...)
}

func (r *repo) write(name, content string) {
	r.t.Helper()
	fixture.WriteFiles(r.t, r.dir, map[string]string{name: content})
}

// commit changes a tracked file and commits it.
func (r *repo) commit(n int) {
	r.t.Helper()
	for range n {
		r.commits++
		r.write("main.go", "package main // "+time.Duration(r.commits).String()+"\n")
		r.git("add", "main.go")
		r.git("commit", "-q", "-m", "change "+time.Duration(r.commits).String())
	}
}

func (r *repo) tag(name string) { r.t.Helper(); r.git("tag", name) }

func (r *repo) annotated(name string) { r.t.Helper(); r.git("tag", "-a", "-m", "release "+name, name) }

func TestFromGit(t *testing.T) {
	tests := []struct {
		name  string
		setup func(r *repo)
		want  string // {sha} stands for HEAD's short hash
		dirty bool
	}{
		{"no tag counts every commit", func(r *repo) { r.commit(3) }, "0.0.0-dev.3+g{sha}", false},
		{"exact lightweight tag", func(r *repo) { r.commit(2); r.tag("v1.2.3") }, "1.2.3", false},
		{"exact annotated tag", func(r *repo) { r.commit(2); r.annotated("v1.2.3") }, "1.2.3", false},
		{"past lightweight tag", func(r *repo) { r.commit(1); r.tag("v1.2.3"); r.commit(2) }, "1.2.3-dev.2+g{sha}", false},
		{"past annotated tag", func(r *repo) { r.commit(1); r.annotated("v1.2.3"); r.commit(4) }, "1.2.3-dev.4+g{sha}", false},
		{"dirty on a tag", func(r *repo) { r.commit(1); r.tag("v1.2.3"); r.write("main.go", "changed\n") }, "1.2.3+dirty", true},
		{"dirty past a tag", func(r *repo) {
			r.commit(1)
			r.tag("v1.2.3")
			r.commit(2)
			r.write("main.go", "changed\n")
		}, "1.2.3-dev.2+g{sha}.dirty", true},
		{"dirty without a tag", func(r *repo) { r.commit(1); r.write("main.go", "changed\n") }, "0.0.0-dev.1+g{sha}.dirty", true},
		{"staged new file is dirty", func(r *repo) { r.commit(1); r.tag("v1.0.0"); r.write("new.go", "x\n"); r.git("add", "new.go") }, "1.0.0+dirty", true},
		{"untracked files are not dirty", func(r *repo) {
			r.commit(1)
			r.tag("v1.0.0")
			r.write("dist/app_linux_amd64", "binary")
			r.write("notes.txt", "scratch")
		}, "1.0.0", false},
		{"non-semver tags ignored", func(r *repo) {
			r.commit(1)
			r.tag("v1.0.0")
			r.commit(1)
			for _, n := range []string{"release-1", "v1.2", "v2", "latest", "tools/v9.0.0", "v01.0.0"} {
				r.tag(n)
			}
		}, "1.0.0-dev.1+g{sha}", false},
		{"only non-semver tags", func(r *repo) { r.commit(2); r.tag("release-1"); r.annotated("v3") }, "0.0.0-dev.2+g{sha}", false},
		{"highest tag wins over nearest", func(r *repo) {
			r.commit(1)
			r.tag("v2.0.0")
			r.commit(1)
			r.annotated("v1.5.0")
			r.commit(2)
		}, "2.0.0-dev.3+g{sha}", false},
		{"highest of two tags on HEAD", func(r *repo) { r.commit(1); r.tag("v1.0.0"); r.annotated("v1.1.0") }, "1.1.0", false},
		{"unreachable tag ignored", func(r *repo) {
			r.commit(1)
			r.tag("v1.0.0")
			r.git("checkout", "-q", "-b", "side")
			r.commit(1)
			r.tag("v9.0.0")
			r.git("checkout", "-q", "main")
			r.commit(1)
		}, "1.0.0-dev.1+g{sha}", false},
		{"tag without v", func(r *repo) { r.commit(1); r.tag("1.4.0") }, "1.4.0", false},
		{"exact prerelease tag", func(r *repo) { r.commit(1); r.tag("v1.3.0-rc.1") }, "1.3.0-rc.1", false},
		{"past prerelease tag", func(r *repo) { r.commit(1); r.tag("v1.3.0-rc.1"); r.commit(1) }, "1.3.0-rc.1.dev.1+g{sha}", false},
		{"prerelease below release", func(r *repo) { r.commit(1); r.tag("v1.3.0"); r.commit(1); r.tag("v1.3.0-rc.1") }, "1.3.0-dev.1+g{sha}", false},
		{"dirty on a tag with metadata", func(r *repo) { r.commit(1); r.tag("v1.0.0+build.5"); r.write("main.go", "x") }, "1.0.0+build.5.dirty", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has its own repository
			r := newRepo(t)
			tt.setup(r)
			head := r.git("rev-parse", "HEAD")
			wantDate := r.git("show", "-s", "--format=%cI", "HEAD")

			info, err := FromGit(t.Context(), r.dir)
			require.NoError(t, err)
			require.NotNil(t, info.Version)
			assert.Equal(t, strings.ReplaceAll(tt.want, "{sha}", head[:ShortLen]), info.Version.String())
			assert.Equal(t, info.Version.String(), info.String())
			assert.Equal(t, head, info.Commit)
			assert.Equal(t, tt.dirty, info.Dirty)
			wd, err := time.Parse(time.RFC3339, wantDate)
			require.NoError(t, err)
			assert.True(t, wd.Equal(info.Date), "date %v, want %v", info.Date, wd)
			assert.Equal(t, time.UTC, info.Date.Location())
		})
	}
}

func TestFromGitDateIsCommitTimeUTC(t *testing.T) {
	r := newRepo(t)
	r.commit(2)
	info, err := FromGit(t.Context(), r.dir)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2024, 3, 1, 13, 0, 0, 0, time.UTC), info.Date)
}

func TestFromGitSubdirectory(t *testing.T) {
	r := newRepo(t)
	r.commit(1)
	r.tag("v0.4.0")
	r.write("cmd/app/x.txt", "x")
	info, err := FromGit(t.Context(), filepath.Join(r.dir, "cmd", "app"))
	require.NoError(t, err)
	assert.Equal(t, "0.4.0", info.String())
}

func TestFromGitErrors(t *testing.T) {
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		noGit bool
		want  []string
	}{
		{"not a repository", func(t *testing.T) string { return t.TempDir() }, true,
			[]string{"not a git repository; run inside a git repository"}},
		{"no commits", func(t *testing.T) string { return newRepo(t).dir }, true,
			[]string{"the repository has no commits yet; commit once"}},
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, false,
			[]string{"nope", "no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			// Keep git from finding a repository above the temp dir.
			t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir))
			_, err := FromGit(t.Context(), dir)
			require.Error(t, err)
			assert.Equal(t, tt.noGit, errors.Is(err, ErrNoGit), "errors.Is(%v, ErrNoGit)", err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "MAGEPACK_", "the caller adds the setting's name")
			if tt.noGit {
				var ng *NoGitError
				require.ErrorAs(t, err, &ng)
				assert.Contains(t, ng.Dir, dir)
			}
		})
	}
}

func TestFromGitWithoutGit(t *testing.T) {
	r := newRepo(t)
	r.commit(1)
	t.Setenv("PATH", t.TempDir())
	_, err := FromGit(t.Context(), r.dir)
	require.ErrorIs(t, err, ErrNoGit)
	assert.Contains(t, err.Error(), "git is not installed or not on PATH; install git")
}

func TestFromGitCancelled(t *testing.T) {
	r := newRepo(t)
	r.commit(1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := FromGit(ctx, r.dir)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrNoGit)
}
