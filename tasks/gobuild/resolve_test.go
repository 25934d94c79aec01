package gobuild

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// servicesModule is a module with two HTTP-style mains under cmd/, a main
// outside cmd/, libraries, a folder without Go files, a nested module and
// a main whose folder name is not an image name.
var servicesModule = map[string]string{
	"lib.go":                     libFile,
	"cmd/api/main.go":            helloMain,
	"cmd/worker/main.go":         helloMain,
	"cmd/MyApp/main.go":          helloMain,
	"cmd/shared/shared.go":       "package shared\n",
	"cmd/api/internal/h/h.go":    "package h\n",
	"tools/gen/main.go":          helloMain,
	"internal/store/store.go":    "package store\n",
	"docs/README":                "no Go here\n",
	"nested/go.mod":              "module example.com/nested\n\ngo 1.25\n",
	"nested/cmd/other/main.go":   helloMain,
	"cmd/api/testdata/x/main.go": helloMain,
	"cmd/worker/worker_test.go":  "package main\n",
	"notes.txt":                  "a file\n",
}

func TestResolveMains(t *testing.T) {
	dir := t.TempDir()
	writeModule(t, dir, servicesModule)
	tests := []struct {
		name string
		spec string
		want []string // Package of each Main, in order
		errs []string // substrings of the error message
		n    int      // how many *NoMainError it joins (default 1)
	}{
		{name: "one path", spec: "./cmd/api", want: []string{"./cmd/api"}},
		{name: "one path without ./", spec: "cmd/worker", want: []string{"./cmd/worker"}},
		{name: "a list, sorted and deduplicated", spec: " ./tools/gen , cmd/api,./cmd/api/ ", want: []string{"./cmd/api", "./tools/gen"}},
		{name: "pattern keeps only mains", spec: "./cmd/...", want: []string{"./cmd/MyApp", "./cmd/api", "./cmd/worker"}},
		{name: "pattern without ./", spec: "cmd/...", want: []string{"./cmd/MyApp", "./cmd/api", "./cmd/worker"}},
		{name: "whole module skips nested modules and testdata", spec: "./...", want: []string{"./cmd/MyApp", "./cmd/api", "./cmd/worker", "./tools/gen"}},
		{name: "pattern and path overlapping", spec: "./cmd/...,./cmd/api,./tools/...", want: []string{"./cmd/MyApp", "./cmd/api", "./cmd/worker", "./tools/gen"}},
		{name: "pattern matching libraries only", spec: "./internal/...",
			errs: []string{`pattern "./internal/..." in module "` + dir + `" matches no main package: it matches only ./internal/store`}},
		{name: "pattern matching nothing", spec: "./docs/...", errs: []string{`pattern "./docs/..." in module`, "it matches no packages"}},
		{name: "pattern on a missing folder", spec: "./svc/...", errs: []string{`pattern "./svc/..."`, "folder ./svc does not exist"}},
		{name: "pattern outside the module", spec: "../...", errs: []string{`pattern "../..."`, "reaches outside the module"}},
		{name: "library path", spec: "./cmd/shared", errs: []string{`main package "./cmd/shared"`, "is package shared, not main"}},
		{name: "missing path", spec: "./cmd/nope", errs: []string{"does not exist"}},
		{name: "file", spec: "notes.txt", errs: []string{"is a file, not a package folder"}},
		{name: "no Go files", spec: "./docs", errs: []string{`main package "./docs"`, "cannot be loaded"}},
		{name: "nested module", spec: "./nested/cmd/other", errs: []string{`main package "./nested/cmd/other"`, "cannot be loaded"}},
		{name: "several bad entries, in the order given", spec: "./internal/...,./cmd/api,./cmd/nope",
			errs: []string{`pattern "./internal/..." in module "` + dir + `" matches no main package: it matches only ./internal/store` + "\n" + `main package "./cmd/nope" in module`}, n: 2},
		{name: "only commas", spec: " , ,", errs: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mains, err := ResolveMains(context.Background(), dir, tc.spec)
			if tc.want != nil {
				require.NoError(t, err)
				var got []string
				for _, m := range mains {
					got = append(got, m.Package)
					assert.Equal(t, "example.com/hello"+strings.TrimPrefix(m.Package, "."), m.ImportPath)
					assert.Equal(t, m.Name, m.ImportPath[strings.LastIndex(m.ImportPath, "/")+1:])
				}
				assert.Equal(t, tc.want, got)
				return
			}
			require.Error(t, err)
			assert.NotContains(t, err.Error(), "MAGEPACK_", "the caller adds the setting's name")
			if tc.errs == nil {
				assert.False(t, errors.Is(err, ErrNoMain))
				assert.Contains(t, err.Error(), "names no package")
				return
			}
			require.ErrorIs(t, err, ErrNoMain)
			var nms []*NoMainError
			for _, e := range unjoin(err) {
				var nm *NoMainError
				require.ErrorAs(t, e, &nm)
				nms = append(nms, nm)
			}
			require.Len(t, nms, max(tc.n, 1), "one error per bad entry: %v", err)
			for _, nm := range nms {
				assert.Equal(t, dir, nm.ModuleDir)
				assert.NotEqual(t, nm.Main == "", nm.Pattern == "", "either Main or Pattern names the entry")
			}
			for _, want := range tc.errs {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestResolveMainsDefault(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		want       Main
		candidates []string
		suggestion string
	}{
		{name: "root main is named after the module", files: map[string]string{"main.go": helloMain, "cmd/x/main.go": helloMain},
			want: Main{Package: ".", ImportPath: "example.com/hello", Name: "hello"}},
		{name: "the only cmd main", files: map[string]string{"lib.go": libFile, "cmd/api/main.go": helloMain, "tools/gen/main.go": helloMain},
			want: Main{Package: "./cmd/api", ImportPath: "example.com/hello/cmd/api", Name: "api"}},
		{name: "several under cmd offer the pattern", files: map[string]string{"lib.go": libFile, "cmd/api/main.go": helloMain, "cmd/worker/main.go": helloMain, "cmd/tools/gen/main.go": helloMain},
			candidates: []string{"./cmd/api", "./cmd/tools/gen", "./cmd/worker"}, suggestion: "./cmd/..."},
		{name: "several elsewhere offer the list", files: map[string]string{"lib.go": libFile, "cmd/api/main.go": helloMain, "cmd/worker/main.go": helloMain, "server/main.go": helloMain},
			candidates: []string{"./cmd/api", "./cmd/worker", "./server"}, suggestion: "./cmd/api,./cmd/worker,./server"},
		{name: "one outside cmd", files: map[string]string{"lib.go": libFile, "server/main.go": helloMain},
			candidates: []string{"./server"}, suggestion: "./server"},
		{name: "none", files: map[string]string{"lib.go": libFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeModule(t, dir, tc.files)
			mains, err := ResolveMains(context.Background(), dir, "")
			if tc.want.Package != "" {
				require.NoError(t, err)
				assert.Equal(t, []Main{tc.want}, mains)
				return
			}
			var nm *NoMainError
			require.ErrorAs(t, err, &nm)
			assert.Equal(t, tc.candidates, nm.Candidates)
			assert.Equal(t, tc.suggestion, nm.Suggestion)
			for _, c := range tc.candidates {
				assert.Contains(t, err.Error(), c)
			}
			if len(tc.candidates) > 1 {
				assert.Contains(t, err.Error(), "choose "+tc.suggestion+" to build them all")
				// The suggestion resolves to exactly the candidates.
				again, err := ResolveMains(context.Background(), dir, nm.Suggestion)
				require.NoError(t, err)
				var got []string
				for _, m := range again {
					got = append(got, m.Package)
				}
				assert.Equal(t, tc.candidates, got)
			}
		})
	}
}

func TestSplitMainSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: ".", want: []string{"."}},
		{in: "cmd/api", want: []string{"./cmd/api"}},
		{in: "./cmd/api/,cmd/api", want: []string{"./cmd/api"}},
		{in: "cmd/...,./tools/gen", want: []string{"./cmd/...", "./tools/gen"}},
		{in: "a,,b,", want: []string{"./a", "./b"}},
		{in: ",", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := SplitMainSpec(tc.in)
			if tc.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "./cmd/...")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestImageName(t *testing.T) {
	tests := []struct {
		in, want string
		changed  bool
	}{
		{"api", "api", false},
		{"my-app", "my-app", false},
		{"my__app.v2", "my__app.v2", false},
		{"MyApp", "myapp", true},
		{"my app", "my-app", true},
		{"my._app", "my-app", true},
		{"-app-", "app", true},
		{"app~1+x", "app-1-x", true},
		{"Ünïcode", "n-code", true},
		{"___", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, changed := ImageName(tc.in)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.changed, changed)
		})
	}
}

// componentRE is the distribution spec's repository path component.
var componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

func FuzzImageName(f *testing.F) {
	for _, s := range []string{"api", "MyApp", "my._app", "-x-", "__", "a..b", "Ünï"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, changed := ImageName(s)
		if got != "" && !componentRE.MatchString(got) {
			t.Fatalf("ImageName(%q) = %q, not a repository name component", s, got)
		}
		if !changed && got != s {
			t.Fatalf("ImageName(%q) = %q but says it did not change it", s, got)
		}
		if componentRE.MatchString(s) && (changed || got != s) {
			t.Fatalf("ImageName(%q) changed a valid name to %q", s, got)
		}
		if utf8.ValidString(s) && got != "" {
			if again, ch := ImageName(got); ch || again != got {
				t.Fatalf("ImageName is not idempotent: %q -> %q -> %q", s, got, again)
			}
		}
	})
}
