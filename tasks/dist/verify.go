package dist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/magepack/magepack/tasks/internal/joined"
	"github.com/magepack/magepack/tasks/shard"
)

// ParseChecksums reads the content of a SHA256SUMS file: one "<hex>  <name>"
// (or "<hex> *<name>", sha256sum's binary mode) line per file. It returns
// the sums by file name, and an error naming the line when one is not in
// that form, has a name sha256sum escapes (a leading backslash) or a path
// in it, or repeats a name.
func ParseChecksums(data []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue
		}
		sum, name, ok := strings.Cut(line, " ")
		if ok && (strings.HasPrefix(name, " ") || strings.HasPrefix(name, "*")) {
			name = name[1:]
		} else {
			ok = false
		}
		switch {
		case !ok || len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" || name == "":
			return nil, fmt.Errorf("line %d %q is not \"<sha256 hex>  <file name>\"", n, line)
		case strings.HasPrefix(sum, `\`) || strings.ContainsAny(name, `/\`):
			return nil, fmt.Errorf("line %d names %q, not a plain file name", n, name)
		case sums[name] != "":
			return nil, fmt.Errorf("line %d lists %q a second time", n, name)
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return sums, nil
}

// ChecksumError is a file whose content does not have the SHA-256 a record
// lists for it: it changed (or was damaged, or is missing) after it was
// built.
type ChecksumError struct {
	// Dir is the folder, File the file's name in it.
	Dir, File string
	// Listed names the record holding Want: SHA256SUMS or artifacts.json.
	Listed string
	// Want is the sum the record lists; Got the file's, "" when it could
	// not be read (then Err says why, e.g. fs.ErrNotExist).
	Want, Got string
	Err       error
}

// Error names the file, both sums (or why the file could not be read) and
// what to do.
func (e *ChecksumError) Error() string {
	p := filepath.Join(e.Dir, e.File)
	if e.Got == "" {
		return fmt.Sprintf("%s is listed in %s (sha256 %s) but cannot be read: %v; download or build it again", p, e.Listed, e.Want, e.Err)
	}
	return fmt.Sprintf("%s has sha256 %s, but %s says %s: the file changed after it was built; download or build it again", p, e.Got, e.Listed, e.Want)
}

// Unwrap returns the read error, if any.
func (e *ChecksumError) Unwrap() error { return e.Err }

// VerifyChecksums re-hashes every file dir/SHA256SUMS lists. It returns the
// sums of the files that match, by name, and an error joining a
// *ChecksumError for each file that does not match or cannot be read. When
// SHA256SUMS itself is missing or malformed, it returns an error naming it
// and no sums.
func VerifyChecksums(dir string) (map[string]string, error) {
	listed, err := readChecksums(dir)
	if err != nil {
		return nil, err
	}
	good, errs := verifyListed(dir, listed)
	return good, errors.Join(errs...)
}

// readChecksums reads and parses dir/SHA256SUMS.
func readChecksums(dir string) (map[string]string, error) {
	p := filepath.Join(dir, ChecksumsFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	listed, err := ParseChecksums(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return listed, nil
}

// verifyListed hashes each listed file and compares.
func verifyListed(dir string, listed map[string]string) (map[string]string, []error) {
	good := map[string]string{}
	var errs []error
	for _, name := range sortedKeys(listed) {
		want := listed[name]
		got, err := Sum(filepath.Join(dir, name))
		switch {
		case err != nil:
			errs = append(errs, &ChecksumError{Dir: dir, File: name, Listed: ChecksumsFile, Want: want, Err: errors.Unwrap(err)})
		case got != want:
			errs = append(errs, &ChecksumError{Dir: dir, File: name, Listed: ChecksumsFile, Want: want, Got: got})
		default:
			good[name] = got
		}
	}
	return good, errs
}

// ErrNoRecord is what a *NoRecordError matches with errors.Is.
var ErrNoRecord = errors.New("no build record")

// NoRecordError is a dist folder whose artifacts.json has no build record
// (or that has no artifacts.json): nothing says which build its binaries
// come from.
type NoRecordError struct {
	Dir string
	// NoManifest is set when the folder has no artifacts.json at all.
	NoManifest bool
}

// Error names the folder and what is missing.
func (e *NoRecordError) Error() string {
	if e.NoManifest {
		return fmt.Sprintf("%s has no %s: it is not the dist folder of a magepack build", e.Dir, ManifestFile)
	}
	return fmt.Sprintf("%s has no build record in its %s: it was written by a magepack that records none; build it again", e.Dir, ManifestFile)
}

// Is reports whether target is ErrNoRecord.
func (e *NoRecordError) Is(target error) bool { return target == ErrNoRecord }

// IncompleteError is a job a folder's build record lists as built whose
// binary cannot be checked: no binary entry for it in artifacts.json, or
// its file not listed in SHA256SUMS.
type IncompleteError struct {
	Dir    string
	Job    shard.Job
	Reason string
}

// Error names the folder, the job and what is missing.
func (e *IncompleteError) Error() string {
	return fmt.Sprintf("%s records %s as built, but %s", e.Dir, e.Job, e.Reason)
}

// VerifiedBinary is a binary of a recorded build whose file matches both
// SHA256SUMS and artifacts.json.
type VerifiedBinary struct {
	Job shard.Job
	// Binary is its artifacts.json entry, as the folder records it.
	Binary Binary
	// File is its path: the folder joined with the entry's base name.
	File string
	// SBOM is the path of its SBOM when the entry names one, and
	// SBOMSHA256 the SBOM's sum as SHA256SUMS lists (and the file has) it.
	SBOM, SBOMSHA256 string
	// Provenance is the path of its signed provenance when the entry
	// names one, and ProvenanceSHA256 its sum, as for the SBOM.
	Provenance, ProvenanceSHA256 string
}

// Verified is what Verify found in a dist folder.
type Verified struct {
	Dir      string
	Manifest Manifest
	// Binaries are the recorded build's binaries that check out, in job
	// order (by platform, then service).
	Binaries []VerifiedBinary
}

// Verify reads dir's artifacts.json and SHA256SUMS, re-hashes every file
// SHA256SUMS lists and checks each job the build record lists as built:
// its binary entry (same service, os and arch) must name a file that
// SHA256SUMS lists with the sum artifacts.json gives.
//
// It returns what checks out and an error joining every problem: a
// *NoRecordError (errors.Is ErrNoRecord) when there is no build record
// (then nothing else is checked), an error naming SHA256SUMS when it is
// missing or malformed, a *ChecksumError for each file whose content is not
// what SHA256SUMS or artifacts.json says, an *IncompleteError for each
// built job without a checkable binary, and an error naming artifacts.json
// when it cannot be read.
func Verify(dir string) (Verified, error) {
	v := Verified{Dir: dir}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); errors.Is(err, fs.ErrNotExist) {
		return v, &NoRecordError{Dir: dir, NoManifest: true}
	}
	m, err := ReadManifest(dir)
	if err != nil {
		return v, err
	}
	v.Manifest = m
	if m.Build == nil {
		return v, &NoRecordError{Dir: dir}
	}
	build := m.Build.normalized()
	listed, err := readChecksums(dir)
	if err != nil {
		return v, err
	}
	good, errs := verifyListed(dir, listed)
	for _, job := range build.Built {
		b, ok := m.binaryOf(job)
		if !ok {
			errs = append(errs, &IncompleteError{Dir: dir, Job: job, Reason: ManifestFile + " lists no binary for it"})
			continue
		}
		name := path.Base(b.Path)
		want, isListed := listed[name]
		sum, isGood := good[name]
		switch {
		case !isListed:
			errs = append(errs, &IncompleteError{Dir: dir, Job: job, Reason: fmt.Sprintf("its binary %s is not in %s", name, ChecksumsFile)})
		case !isGood:
			// Reported by verifyListed.
		case want != b.SHA256:
			errs = append(errs, &ChecksumError{Dir: dir, File: name, Listed: ManifestFile, Want: b.SHA256, Got: sum})
		case !hasJob(build.Jobs, job):
			errs = append(errs, &IncompleteError{Dir: dir, Job: job, Reason: "it is not one of the run's jobs"})
		default:
			vb := VerifiedBinary{Job: job, Binary: b, File: filepath.Join(dir, name)}
			if b.SBOM != "" {
				bom := path.Base(b.SBOM)
				if _, ok := listed[bom]; !ok {
					errs = append(errs, &IncompleteError{Dir: dir, Job: job, Reason: fmt.Sprintf("its SBOM %s is not in %s", bom, ChecksumsFile)})
					continue
				}
				sum, ok := good[bom]
				if !ok {
					continue // reported by verifyListed
				}
				vb.SBOM, vb.SBOMSHA256 = filepath.Join(dir, bom), sum
			}
			if b.Provenance != "" {
				prov := path.Base(b.Provenance)
				if _, ok := listed[prov]; !ok {
					errs = append(errs, &IncompleteError{Dir: dir, Job: job, Reason: fmt.Sprintf("its provenance %s is not in %s", prov, ChecksumsFile)})
					continue
				}
				sum, ok := good[prov]
				if !ok {
					continue // reported by verifyListed
				}
				vb.Provenance, vb.ProvenanceSHA256 = filepath.Join(dir, prov), sum
			}
			v.Binaries = append(v.Binaries, vb)
		}
	}
	return v, errors.Join(errs...)
}

// binaryOf returns the binary entry of job: same service, os and arch.
func (m Manifest) binaryOf(job shard.Job) (Binary, bool) {
	for _, b := range m.Binaries {
		if b.Service == job.Service && b.OS+"/"+b.Arch == job.Platform {
			return b, true
		}
	}
	return Binary{}, false
}

func hasJob(jobs []shard.Job, job shard.Job) bool {
	for _, j := range jobs {
		if j == job {
			return true
		}
	}
	return false
}

// ErrOtherBuild is what an *OtherBuildError matches with errors.Is.
var ErrOtherBuild = errors.New("dist holds another build")

// OtherBuildError says that a dist folder's binaries are not those of the
// build wanted: it has no build record, or one from another commit,
// version, toolchain or configuration.
type OtherBuildError struct {
	Dir string
	// NoRecord is set when the folder records no build.
	NoRecord bool
	// Differences lists what differs (Have: the folder's, Want: wanted).
	Differences []Difference
}

// Error names the folder and each difference.
func (e *OtherBuildError) Error() string {
	if e.NoRecord {
		return fmt.Sprintf("%s records no build", e.Dir)
	}
	parts := make([]string, len(e.Differences))
	for i, d := range e.Differences {
		parts[i] = fmt.Sprintf("%s %q (this build's is %q)", d.Field, d.Have, d.Want)
	}
	return fmt.Sprintf("%s holds binaries of another build: %s", e.Dir, strings.Join(parts, ", "))
}

// Is reports whether target is ErrOtherBuild.
func (e *OtherBuildError) Is(target error) bool { return target == ErrOtherBuild }

// Prebuilt is what a dist folder holds of a wanted build.
type Prebuilt struct {
	// Build is the folder's build record, nil when it has none.
	Build *Build
	// Present are the wanted jobs whose binaries are verified in the
	// folder, in job order (by platform, then service).
	Present []VerifiedBinary
	// Missing are the wanted jobs that are not, in job order.
	Missing []shard.Job
}

// FindPrebuilt tells which of want.Jobs the dist folder dir holds as
// verified binaries of the build want describes (same commit, version,
// toolchain and configuration digest; see Verify for what is checked), so
// that later steps can use them instead of compiling again.
//
// It returns an *OtherBuildError (errors.Is ErrOtherBuild) when dir records
// no build or another one: then nothing there is this build's. Whether to
// trust a matching record is the caller's decision: Prebuilt.Build.Merged
// tells binaries merged from parts built elsewhere from those built in
// this checkout, whose uncommitted changes the record cannot see. Otherwise
// the error, if any, joins a *ChecksumError for each file that changed
// after it was built; those jobs count as Missing, as do jobs whose
// binaries are gone or were never built there.
func FindPrebuilt(dir string, want Build) (Prebuilt, error) {
	v, err := Verify(dir)
	rec := v.Manifest.Build
	if errors.Is(err, ErrNoRecord) {
		return Prebuilt{Missing: shard.Sort(want.Jobs)}, &OtherBuildError{Dir: dir, NoRecord: true}
	}
	if v.Manifest.Build != nil {
		if d := Differences(*v.Manifest.Build, want); len(d) > 0 {
			return Prebuilt{Build: rec, Missing: shard.Sort(want.Jobs)}, &OtherBuildError{Dir: dir, Differences: d}
		}
	}
	var changed []error
	for _, e := range joined.Errors(err) {
		var ce *ChecksumError
		if errors.As(e, &ce) && ce.Got != "" {
			changed = append(changed, e)
		}
	}
	if err != nil && v.Manifest.Build == nil {
		// artifacts.json unreadable: nothing can be trusted, nothing changed.
		return Prebuilt{Missing: shard.Sort(want.Jobs)}, err
	}
	p := Prebuilt{Build: rec}
	for _, job := range shard.Sort(want.Jobs) {
		if b, ok := findVerified(v.Binaries, job); ok {
			p.Present = append(p.Present, b)
		} else {
			p.Missing = append(p.Missing, job)
		}
	}
	return p, errors.Join(changed...)
}

func findVerified(bins []VerifiedBinary, job shard.Job) (VerifiedBinary, bool) {
	for _, b := range bins {
		if b.Job == job {
			return b, true
		}
	}
	return VerifiedBinary{}, false
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
