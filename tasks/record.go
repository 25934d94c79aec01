package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/shard"
)

// lockWait bounds how long a run waits for another run's dist lock: long
// enough for a cold cross-compile of many platforms, short enough that a
// stuck run does not hang CI forever.
const lockWait = 10 * time.Minute

// lockDist takes the dist lock and removes temp files a killed run left.
// The lock keeps other runs out (a second run waits, up to lockWait or
// until Ctrl-C, for the first to finish, then builds on its results) and
// orders this run's own writers (targets running in parallel).
func (r *run) lockDist(ctx context.Context) (func() error, error) {
	p := r.p
	unlock, err := dist.Lock(ctx, p.Dist)
	if errors.Is(err, dist.ErrBusy) {
		r.log.printf("dist", "%s is in use by another magepack run; waiting up to %s for it to finish (Ctrl-C to stop)", p.rel(p.Dist), lockWait)
		unlock, err = dist.Lock(ctx, p.Dist, dist.WithWait(lockWait))
	}
	if err != nil {
		if errors.Is(err, dist.ErrBusy) || ctx.Err() != nil {
			// Not a configuration mistake (and exit 130 when Ctrl-C ended the wait).
			return nil, err
		}
		return nil, plan.Bad("MAGEPACK_DIST", err)
	}
	release := unlock
	if _, err := dist.CleanTemp(p.Dist); err != nil {
		release()
		return nil, err
	}
	if dedicated(p.Dist, p.Root) {
		if err := dist.KeepOutOfGit(p.Dist); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// dedicated reports whether dist is a folder of its own inside the module
// root, so that ignoring all of it in git ignores nothing else: not the
// root, nor a folder above it.
func dedicated(dist, root string) bool {
	rel, err := filepath.Rel(root, dist)
	return err == nil && rel != "." && filepath.IsLocal(rel)
}

// recordBinaries writes an SBOM next to each binary that built, puts the
// binaries into artifacts.json with what their headers say, and rewrites
// SHA256SUMS over every recorded binary and SBOM still on disk.
func (r *run) recordBinaries(ctx context.Context, jobs []job, results []gobuild.Result) error {
	p := r.p
	var errs []error
	boms := make([]string, len(results))
	provs := make([]string, len(results))
	for i, res := range results {
		if res.Err != nil {
			continue
		}
		var err error
		if boms[i], err = r.writeBinarySBOM(jobs[i].svc, res); err != nil {
			errs = append(errs, err)
			continue
		}
		if p.opts.signer != nil {
			if provs[i], err = r.writeBinaryProvenance(ctx, jobs[i], res, boms[i]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	rec, rerr := r.buildRecord(results)
	if rerr != nil {
		errs = append(errs, rerr)
	}
	err := dist.Update(p.Dist, func(m *dist.Manifest) error {
		m.Build = mergeRecord(m.Build, rec)
		for i, res := range results {
			if res.Err != nil {
				continue
			}
			rep, _ := linkage.Inspect(res.Path)
			b := binaryEntry(p, jobs[i], res.Path, res.Size, res.SHA256, rep)
			if boms[i] != "" {
				b.SBOM = filepath.ToSlash(p.rel(boms[i]))
			}
			if provs[i] != "" {
				b.Provenance = filepath.ToSlash(p.rel(provs[i]))
			}
			b.VEX = keptVEX(p, m, b)
			m.PutBinary(b)
		}
		p.recordStaticGlibc(m, jobs, results)
		return writeChecksums(p, m)
	})
	return errors.Join(append(errs, err)...)
}

// buildRecord is the build record of this run's builds: the run's jobs,
// the shard, the jobs built, and what makes the bytes (commit, version,
// toolchain, configuration digest).
func (r *run) buildRecord(results []gobuild.Result) (dist.Build, error) {
	plan, err := r.planned()
	if err != nil {
		return dist.Build{}, err
	}
	return dist.BuildRecord(plan.gjobs, r.p.Plan.Shard(), results, r.p.Version.Commit, r.p.versionString(), r.p.GoVersion), nil
}

// mergeRecord is the record after a build: the jobs built earlier for the
// same build (same shard, commit, version, toolchain, configuration) stay
// recorded beside the new ones; a record of another build is replaced,
// and so is a merge's (what is built here is not what was merged).
func mergeRecord(old *dist.Build, rec dist.Build) *dist.Build {
	if old != nil && len(old.Merged) == 0 && old.Shard == rec.Shard && len(dist.Differences(*old, rec)) == 0 {
		rec.Built = shard.Sort(append(slices.Clone(old.Built), rec.Built...))
	}
	return &rec
}

// writeBinarySBOM writes the CycloneDX SBOM of s's binary res built,
// read from the binary's own build information, next to it
// (<bin>.cdx.json), and returns its path.
func (r *run) writeBinarySBOM(s *service, res gobuild.Result) (string, error) {
	p := r.p
	bom, err := r.binaryBOM(s, res.Path, res.SHA256)
	if err != nil {
		return "", fmt.Errorf("SBOM of %s: %w", p.rel(res.Path), err)
	}
	data, err := sbom.Encode(bom)
	if err != nil {
		return "", fmt.Errorf("SBOM of %s: %w", p.rel(res.Path), err)
	}
	path := sbom.FileName(res.Path)
	return path, dist.WriteFile(path, data, 0o644)
}

// binaryBOM is the SBOM of s's binary at bin, made once per run: the
// build records it, and publish's image SBOMs of both variants start from
// it. sum is the binary's SHA-256 when the caller has it ("" hashes the
// file).
func (r *run) binaryBOM(s *service, bin, sum string) (*cdx.BOM, error) {
	return r.once.sbom.do(bin, func() (*cdx.BOM, error) {
		opts, err := r.p.sbomOptions(s)
		if err != nil {
			return nil, err
		}
		return sbom.BinaryWithSum(bin, sum, opts)
	})
}

// sbomOptions are the facts about s's binaries that they do not record
// themselves: the version, the commit and its time, and the -ldflags (a
// -trimpath build leaves them out of its build information).
func (p *project) sbomOptions(s *service) (sbom.Options, error) {
	ld, err := gobuild.Ldflags(p.buildConfig(s))
	if err != nil {
		return sbom.Options{}, err
	}
	return sbom.Options{Name: s.name, Version: p.versionString(), Time: p.Created, Ldflags: ld, Revision: p.Version.Commit}, nil
}

func binaryEntry(p *project, j job, path string, size int64, sum string, rep linkage.Report) dist.Binary {
	return dist.Binary{
		Service: j.svc.name, Path: filepath.ToSlash(p.rel(path)), OS: j.pl.OS, Arch: j.pl.Arch, Size: size, SHA256: sum,
		Linkage: string(rep.Linkage), Interpreter: rep.Interpreter, Needed: rep.Needed, Libc: string(rep.Libc),
		GoVersion: rep.GoVersion, CGO: rep.CGO, BuildMode: rep.BuildMode, Tags: rep.Settings["-tags"],
		LinkedLibc: linkedLibc(rep), NSS: rep.NSS,
	}
}

// writeChecksums lists every binary in m, and its SBOM, provenance and
// VEX, that exists in dist.
func writeChecksums(p *project, m *dist.Manifest) error {
	var files []string
	for _, b := range m.Binaries {
		for _, f := range []string{b.Path, b.SBOM, b.Provenance, b.VEX} {
			if f == "" {
				continue
			}
			abs := filepath.Join(p.Root, filepath.FromSlash(f))
			if filepath.Dir(abs) != p.Dist {
				continue
			}
			if _, err := os.Stat(abs); err == nil {
				files = append(files, abs)
			}
		}
	}
	return dist.WriteChecksums(p.Dist, files)
}
