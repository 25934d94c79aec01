package engine

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// contextTree describes files to create: content, or "->target" for a symlink.
type contextTree map[string]string

func writeContextTree(t *testing.T, files contextTree) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		if target, ok := strings.CutPrefix(content, "->"); ok {
			require.NoError(t, os.Symlink(target, path))
			continue
		}
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
	return root
}

// tarEntry is what the tests check of each entry.
type tarEntry struct {
	Name, Link, Body string
	Type             byte
	Mode             int64
}

func readContextTar(t *testing.T, data []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		body, err := io.ReadAll(tr)
		require.NoError(t, err)
		assert.Zero(t, hdr.Uid, hdr.Name)
		assert.Zero(t, hdr.Gid, hdr.Name)
		assert.Empty(t, hdr.Uname, hdr.Name)
		assert.True(t, hdr.ModTime.Equal(time.Unix(0, 0)), "%s has mtime %v", hdr.Name, hdr.ModTime)
		out = append(out, tarEntry{Name: hdr.Name, Link: hdr.Linkname, Body: string(body), Type: hdr.Typeflag, Mode: hdr.Mode})
	}
}

func names(entries []tarEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name)
	}
	return out
}

func TestBuildContext(t *testing.T) {
	tests := []struct {
		name         string
		files        contextTree
		dockerfile   string
		want         []string // entry names, in order
		wantExcluded []string
	}{
		{
			name: "no dockerignore keeps all but .git",
			files: contextTree{
				"Dockerfile": "FROM scratch\n", "main.go": "package main\n", "sub/dir/x.txt": "x",
				".git/HEAD": "ref: refs/heads/main\n", ".git/objects/ab/cd": "blob",
			},
			want:         []string{"Dockerfile", "main.go", "sub/", "sub/dir/", "sub/dir/x.txt"},
			wantExcluded: []string{".git"},
		},
		{
			name: "patterns, exceptions and nested dirs",
			files: contextTree{
				"Dockerfile":    "FROM scratch\n",
				".dockerignore": "# secrets stay home\nsecret.txt\n*.log\nbuild/\n!build/keep.txt\n/node_modules\n",
				"secret.txt":    "hunter2", "app.log": "log", "main.go": "package main\n",
				"nested/deep/x.log":  "nested logs are not matched by *.log",
				"nested/deep/ok.txt": "ok",
				"build/out.bin":      "bin", "build/keep.txt": "keep",
				"node_modules/m/index.js": "js",
			},
			want: []string{".dockerignore", "Dockerfile", "build/keep.txt", "main.go",
				"nested/", "nested/deep/", "nested/deep/ok.txt", "nested/deep/x.log"},
			wantExcluded: []string{"app.log", "build/out.bin", "node_modules", "secret.txt"},
		},
		{
			name: "dockerignore cannot drop the Dockerfile or itself",
			files: contextTree{
				"Dockerfile": "FROM scratch\n", ".dockerignore": "*\n", "a.txt": "a",
			},
			want:         []string{".dockerignore", "Dockerfile"},
			wantExcluded: []string{"a.txt"},
		},
		{
			name: "Dockerfile in an ignored folder is kept",
			files: contextTree{
				"docker/app.Dockerfile": "FROM scratch\n", "docker/other": "o", ".dockerignore": "docker\n", "x": "x",
			},
			dockerfile:   "docker/app.Dockerfile",
			want:         []string{".dockerignore", "docker/app.Dockerfile", "x"},
			wantExcluded: []string{"docker/other"},
		},
		{
			name: "double star and .git listed too",
			files: contextTree{
				"Dockerfile": "FROM scratch\n", ".dockerignore": "**/*.tmp\n.git\n",
				"a/b/c.tmp": "t", "a/b/c.go": "g", ".git/config": "c", "vendor/x/.git": "gitdir: ../../.git/modules/x",
			},
			want:         []string{".dockerignore", "Dockerfile", "a/", "a/b/", "a/b/c.go", "vendor/", "vendor/x/"},
			wantExcluded: []string{".git", "a/b/c.tmp", "vendor/x/.git"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeContextTree(t, tt.files)
			var buf bytes.Buffer
			stats, err := BuildContext(root, tt.dockerfile, &buf)
			require.NoError(t, err)
			entries := readContextTar(t, buf.Bytes())
			assert.Equal(t, tt.want, names(entries))
			assert.ElementsMatch(t, tt.wantExcluded, stats.Excluded)
			files, size := 0, int64(0)
			for _, e := range entries {
				if e.Type == tar.TypeReg {
					files++
					size += int64(len(e.Body))
					assert.Equal(t, tt.files[e.Name], e.Body, e.Name)
				}
			}
			assert.Equal(t, files, stats.Files)
			assert.Equal(t, size, stats.Bytes)
		})
	}
}

func TestBuildContextMetadata(t *testing.T) {
	root := writeContextTree(t, contextTree{
		"Dockerfile": "FROM scratch\n", "run.sh": "#!/bin/sh\n", "private.key": "k", "link": "->run.sh", "dangling": "->/nowhere",
	})
	require.NoError(t, os.Chmod(filepath.Join(root, "run.sh"), 0o750))
	require.NoError(t, os.Chmod(filepath.Join(root, "private.key"), 0o600))

	var first bytes.Buffer
	stats, err := BuildContext(root, "Dockerfile", &first)
	require.NoError(t, err)
	entries := readContextTar(t, first.Bytes())
	byName := map[string]tarEntry{}
	for _, e := range entries {
		byName[e.Name] = e
	}
	assert.Equal(t, []string{"Dockerfile", "dangling", "link", "private.key", "run.sh"}, names(entries), "sorted")
	assert.Equal(t, int64(0o755), byName["run.sh"].Mode, "executable bit kept, normalised")
	assert.Equal(t, int64(0o644), byName["private.key"].Mode, "normalised")
	assert.Equal(t, byte(tar.TypeSymlink), byName["link"].Type, "symlinks stay symlinks")
	assert.Equal(t, "run.sh", byName["link"].Link)
	assert.Equal(t, "/nowhere", byName["dangling"].Link)
	assert.Equal(t, 5, stats.Files)

	// Other times and permissions on disk, same bytes.
	later := time.Now().Add(time.Hour)
	require.NoError(t, os.Chtimes(filepath.Join(root, "Dockerfile"), later, later))
	var second bytes.Buffer
	_, err = BuildContext(root, filepath.Join(root, "Dockerfile"), &second)
	require.NoError(t, err)
	assert.Equal(t, first.Bytes(), second.Bytes(), "the same tree gives the same tar")
}

func TestBuildContextErrors(t *testing.T) {
	tests := []struct {
		name       string
		files      contextTree
		root       string // relative to the temp dir; default the tree's root
		dockerfile string
		wantErr    string
	}{
		{name: "missing Dockerfile", files: contextTree{"a": "a"}, wantErr: "dockerfile Dockerfile does not exist in the build context"},
		{name: "Dockerfile outside the context", files: contextTree{"Dockerfile": "FROM scratch\n", "ctx/a": "a"}, root: "ctx",
			dockerfile: "../Dockerfile", wantErr: "is outside the build context"},
		{name: "Dockerfile is a folder", files: contextTree{"Dockerfile/x": "x"}, wantErr: "is not a regular file"},
		{name: "bad dockerignore pattern", files: contextTree{"Dockerfile": "FROM scratch\n", ".dockerignore": "[\n"}, wantErr: ".dockerignore"},
		{name: "context is a file", files: contextTree{"f": "x"}, root: "f", wantErr: "is not a directory"},
		{name: "context missing", files: contextTree{}, root: "nope", wantErr: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(writeContextTree(t, tt.files), tt.root)
			_, err := BuildContext(root, tt.dockerfile, io.Discard)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
