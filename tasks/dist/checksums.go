package dist

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/magepack/magepack/tasks/internal/atomicfile"
)

// ChecksumsFile is the name of the checksum file WriteChecksums writes.
const ChecksumsFile = "SHA256SUMS"

// Sum returns the lower-case hex SHA-256 of the file at path, or an error
// naming path when it cannot be read.
func Sum(path string) (string, error) { return atomicfile.Sum(path) }

// WriteChecksums writes dir/SHA256SUMS atomically, one "<hex>  <name>" line
// per file, sorted by name: the format `sha256sum -c SHA256SUMS` checks when
// run in dir. It replaces the whole file, so pass every file it should list.
//
// A file is named by its base name, so each must be directly in dir: a bare
// name ("app_linux_amd64") is looked up in dir, a path ("dist/app_linux_amd64")
// must point into dir. It returns an error naming the file when one is
// elsewhere, cannot be read, or has a name sha256sum cannot read back
// (a newline or backslash in it).
func WriteChecksums(dir string, files []string) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("write %s in %q: %w", ChecksumsFile, dir, err)
	}
	sums := map[string]string{}
	for _, f := range files {
		path := f
		if filepath.Base(f) == f {
			path = filepath.Join(dir, f)
		} else if abs, err := filepath.Abs(f); err != nil || filepath.Dir(abs) != absDir {
			return fmt.Errorf("write %s: file %q is not in dist %q; %s lists files of that folder only", ChecksumsFile, f, dir, ChecksumsFile)
		}
		name := filepath.Base(path)
		if strings.ContainsAny(name, "\n\r\\") {
			return fmt.Errorf("write %s: file name %q has a newline or backslash, which sha256sum -c cannot read back; rename it", ChecksumsFile, name)
		}
		sum, err := Sum(path)
		if err != nil {
			return fmt.Errorf("write %s: %w", ChecksumsFile, err)
		}
		sums[name] = sum
	}
	return WriteFile(filepath.Join(dir, ChecksumsFile), FormatChecksums(sums), 0o644)
}

// FormatChecksums returns the content WriteChecksums writes for sums (file
// name → lower-case hex SHA-256): one "<hex>  <name>" line per file, sorted
// by name. Whoever writes SHA256SUMS from sums it already has (merge) gets
// the same bytes a build writes.
func FormatChecksums(sums map[string]string) []byte {
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		// Two spaces: sha256sum's text-mode marker, which -c reads on every
		// platform (binary and text are the same on POSIX).
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	return []byte(b.String())
}
