package engine

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// contextEpoch is the modification time stamped on every build-context
// entry, so the same tree always gives the same tar (and the legacy
// builder's COPY cache hits across checkouts).
var contextEpoch = time.Unix(0, 0).UTC()

// ContextStats describes a build context BuildContext wrote.
type ContextStats struct {
	Files    int      // regular files and symlinks written
	Bytes    int64    // bytes of file content written
	Excluded []string // slash-separated paths left out, in walk order (a skipped directory once, not its contents)
}

// BuildContext writes the directory root to w as a tar stream for a Docker
// build, filtered by root/.dockerignore the way the docker CLI filters it
// (patterns and `!` exceptions, github.com/moby/patternmatcher). Every .git
// (directory or submodule link) is always left out, and the Dockerfile and .dockerignore are
// always kept (the engine reads them; docker's own rule). dockerfile is the
// Dockerfile's path, relative to root or absolute; it must lie inside root.
// Entries are written in sorted order with fixed metadata (owner 0:0,
// modification time 1970-01-01, modes 0644/0755), and symlinks stay
// symlinks, so the same tree always gives the same bytes. It returns an
// error naming the bad path when the Dockerfile is missing or outside root,
// .dockerignore is malformed, or a file cannot be read.
func BuildContext(root, dockerfile string, w io.Writer) (ContextStats, error) {
	var stats ContextStats
	root, err := filepath.Abs(root)
	if err != nil {
		return stats, fmt.Errorf("build context %s: %w", root, err)
	}
	if fi, err := os.Stat(root); err != nil {
		return stats, fmt.Errorf("build context: %w", err)
	} else if !fi.IsDir() {
		return stats, fmt.Errorf("build context %s is not a directory", root)
	}
	relDockerfile, err := dockerfileInContext(root, dockerfile)
	if err != nil {
		return stats, err
	}
	pm, err := readDockerignore(root)
	if err != nil {
		return stats, err
	}
	keep := map[string]bool{relDockerfile: true, ".dockerignore": true}

	tw := tar.NewWriter(w)
	parents := map[string]patternmatcher.MatchInfo{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			return fmt.Errorf("build context: %w", walkErr)
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.Name() == ".git" {
			stats.Excluded = append(stats.Excluded, rel)
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		skip := false
		if pm != nil {
			parent := parents[slashDir(rel)]
			var info patternmatcher.MatchInfo
			skip, info, err = pm.MatchesUsingParentResults(rel, parent)
			if err != nil {
				return fmt.Errorf("build context: match %s against .dockerignore: %w", rel, err)
			}
			if d.IsDir() {
				parents[rel] = info
			}
		}
		if skip && !keep[rel] {
			if !d.IsDir() {
				stats.Excluded = append(stats.Excluded, rel)
				return nil
			}
			if !exceptionBelow(pm, rel) && !keepBelow(keep, rel) {
				stats.Excluded = append(stats.Excluded, rel)
				return filepath.SkipDir
			}
			// An exception (e.g. !dir/keep.txt) may re-include something
			// below: walk on, but leave the directory entry itself out, as
			// docker does.
			return nil
		}
		return writeContextEntry(tw, path, rel, d, &stats)
	})
	if err != nil {
		return stats, err
	}
	if err := tw.Close(); err != nil {
		return stats, fmt.Errorf("build context %s: finish tar: %w", root, err)
	}
	return stats, nil
}

// dockerfileInContext returns the Dockerfile's slash-separated path relative
// to root, or an error when it is missing or outside root.
func dockerfileInContext(root, dockerfile string) (string, error) {
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	abs := dockerfile
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(root, dockerfile)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("dockerfile %s is outside the build context %s; move it into the context or pick a context that contains it", dockerfile, root)
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("dockerfile %s does not exist in the build context %s; point the Dockerfile setting at an existing file: %w", filepath.ToSlash(rel), root, err)
	}
	if err != nil {
		return "", fmt.Errorf("dockerfile %s: %w", dockerfile, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("dockerfile %s is not a regular file", dockerfile)
	}
	return filepath.ToSlash(rel), nil
}

// readDockerignore parses root/.dockerignore; no file means no patterns
// (a nil matcher).
func readDockerignore(root string) (*patternmatcher.PatternMatcher, error) {
	path := filepath.Join(root, ".dockerignore")
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("build context: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; fix the pattern (syntax: https://docs.docker.com/build/concepts/context/#dockerignore-files)", path, err)
	}
	return pm, nil
}

// slashDir is path.Dir for the walk's relative paths ("" for top level).
func slashDir(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

// exceptionBelow reports whether an exception pattern (!dir/x) could
// re-include something below the excluded directory dir; the docker CLI's
// archive walk uses the same prefix test.
func exceptionBelow(pm *patternmatcher.PatternMatcher, dir string) bool {
	if pm == nil || !pm.Exclusions() {
		return false
	}
	dirSlash := dir + "/"
	for _, p := range pm.Patterns() {
		if p.Exclusion() && strings.HasPrefix(filepath.ToSlash(p.String())+"/", dirSlash) {
			return true
		}
	}
	return false
}

// keepBelow reports whether a must-keep file (the Dockerfile) lies below dir.
func keepBelow(keep map[string]bool, dir string) bool {
	for k := range keep {
		if strings.HasPrefix(k, dir+"/") {
			return true
		}
	}
	return false
}

// writeContextEntry writes one directory, file or symlink with fixed
// metadata; other file types (sockets, devices, pipes) are left out.
func writeContextEntry(tw *tar.Writer, path, rel string, d fs.DirEntry, stats *ContextStats) error {
	fi, err := d.Info()
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	hdr := &tar.Header{Name: rel, ModTime: contextEpoch}
	switch {
	case fi.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		hdr.Mode = 0o755
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(path)
		if err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
		hdr.Mode = 0o777
	case fi.Mode().IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
		hdr.Mode = 0o644
		if fi.Mode().Perm()&0o111 != 0 {
			hdr.Mode = 0o755
		}
	default:
		stats.Excluded = append(stats.Excluded, rel)
		return nil
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("build context: write %s: %w", rel, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		if hdr.Typeflag == tar.TypeSymlink {
			stats.Files++
		}
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("build context: %w", err)
	}
	defer f.Close()
	n, err := io.CopyN(tw, f, hdr.Size)
	if err != nil {
		return fmt.Errorf("build context: read %s (did it change during the build?): %w", path, err)
	}
	stats.Files++
	stats.Bytes += n
	return nil
}
