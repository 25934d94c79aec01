package merge

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExpand(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"dist-1", "dist-2", "dist-10", "parts/a", "parts/b", "dist"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	for _, f := range []string{"dist-notes.txt", "parts/c.zip", "only-file-1"} {
		require.NoError(t, os.WriteFile(filepath.Join(root, f), []byte("x"), 0o644))
	}
	abs := filepath.Join(root, "parts", "a")
	in := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, filepath.Join(root, n))
		}
		return out
	}
	tests := []struct {
		name string
		list string
		want []string
		err  []string
	}{
		{name: "default glob keeps folders only, sorted", list: "dist-*", want: in("dist-1", "dist-10", "dist-2")},
		{name: "comma list with spaces and empty entries", list: " dist-2 , ,parts/* ", want: in("dist-2", "parts/a", "parts/b")},
		{name: "duplicates once", list: "dist-1,dist-*,./dist-1", want: in("dist-1", "dist-10", "dist-2")},
		{name: "absolute folder", list: abs, want: []string{abs}},
		{name: "glob matching nothing", list: "artifacts-*", err: []string{`parts "artifacts-*" (in ` + root + `) matches no folder`, "comma-separated list of folders or globs"}},
		{name: "glob matching only files", list: "only-file-*", err: []string{`parts "only-file-*"`, "matches only files (" + filepath.Join(root, "only-file-1") + ")"}},
		{name: "missing folder", list: "dist-1,dist-3", err: []string{`parts "dist-3" (in ` + root + `) does not exist`}},
		{name: "a file", list: "dist-notes.txt", err: []string{`parts "dist-notes.txt"`, "is a file, not a folder"}},
		{name: "bad glob", list: "dist-[", err: []string{`parts "dist-["`, "syntax error in pattern"}},
		{name: "empty list", list: " , ", err: []string{`parts " , "`, "names nothing"}},
		{name: "every bad entry named", list: "x-*,y", err: []string{`"x-*"`, `"y"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.list, root)
			if len(tc.err) == 0 {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.Nil(t, got)
			for _, e := range tc.err {
				assert.Contains(t, err.Error(), e)
			}
			var nm *NoMatchError
			if tc.name != "bad glob" {
				assert.True(t, errors.As(err, &nm), "a *NoMatchError")
			}
			assert.NotErrorIs(t, err, ErrRefused, "a configuration mistake, not a refusal of the parts")
		})
	}
}
