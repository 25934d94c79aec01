// Command shards measures what splitting a cold cross-compile over CI
// machines gains: the five-platform build of example-app split
// into 1, 2, 3 and 5 shards, each shard timed alone with its own empty
// GOCACHE as a separate CI machine would run it, then merged; and a cold
// build on a second machine with a shared GOCACHEPROG cache (go-cacher and
// go-cacher-server from github.com/bradfitz/go-tool-cache on loopback)
// against one without.
//
// It drives gobuild, shard and merge directly, so it measures the builds,
// not mage's start-up. Every shard runs after the previous one has finished
// (one machine stands in for several), so a shard's wall time is what that
// CI machine would take; the slowest shard bounds the sharded build. It
// checks that the merged SHA256SUMS equals the single-machine one byte for
// byte and prints a Markdown table.
//
//	go run ./bench/shards [-shards 1,2,3,5] [-cache=true] [-out file.md]
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/merge"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/shard"
)

// measure is one timed build: its wall time and the CPU time (user +
// system) of the processes it ran.
type measure struct {
	wall, cpu time.Duration
}

func (m measure) String() string {
	return fmt.Sprintf("%.1f s (CPU %.1f s)", m.wall.Seconds(), m.cpu.Seconds())
}

type bench struct {
	ctx       context.Context
	main      string
	platforms []gobuild.Target
	repo      string
	work      string
	env       []string // the environment without GOCACHE, GOCACHEPROG, GOFLAGS
	report    io.Writer
	// single is the one-machine cold build, once measured.
	single *measure
}

func main() {
	shardsFlag := flag.String("shards", "1,2,3,5", "shard counts to measure")
	cache := flag.Bool("cache", true, "measure a second machine with a shared GOCACHEPROG cache")
	outPath := flag.String("out", "", "also write the Markdown report to this file")
	mainPkg := flag.String("main", "./example-app", "main package to build, relative to the module root")
	plats := flag.String("platforms", platform.Default, "comma-separated os/arch list")
	flag.Parse()
	var targets []gobuild.Target
	for _, p := range strings.Split(*plats, ",") {
		osName, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok {
			fmt.Fprintf(os.Stderr, "shards: platform %q is not os/arch\n", p)
			os.Exit(2)
		}
		targets = append(targets, gobuild.Target{OS: osName, Arch: arch})
	}
	if err := run(*mainPkg, targets, *shardsFlag, *cache, *outPath); err != nil {
		fmt.Fprintln(os.Stderr, "shards:", err)
		os.Exit(1)
	}
}

func run(mainPkg string, targets []gobuild.Target, shardsFlag string, cache bool, outPath string) error {
	repo, err := moduleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "magepack-bench-shards-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != "GOCACHE" && k != "GOCACHEPROG" && k != "GOFLAGS" {
			env = append(env, kv)
		}
	}
	var report bytes.Buffer
	b := &bench{ctx: context.Background(), main: mainPkg, platforms: targets, repo: repo, work: work, env: env, report: io.MultiWriter(os.Stdout, &report)}
	if err := b.shards(shardsFlag); err != nil {
		return err
	}
	if cache {
		if err := b.sharedCache(); err != nil {
			return err
		}
	}
	if outPath != "" {
		return os.WriteFile(outPath, report.Bytes(), 0o644)
	}
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the magepack module")
	}
	return filepath.Dir(gomod), nil
}

func (b *bench) config(distDir string) gobuild.Config {
	return gobuild.Config{
		ModuleDir: b.repo, Main: b.main, Name: filepath.Base(b.main), Dist: distDir,
		Version: "1.0.0", Commit: "0000000000000000000000000000000000000000",
		Date: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// build runs the jobs of spec (every job for the zero Spec) into distDir
// with env on top of the bench's environment, timed.
func (b *bench) build(spec shard.Spec, distDir string, env ...string) (measure, shard.Selection, []gobuild.Result, error) {
	cfg := b.config(distDir)
	jobs, err := gobuild.Plan(cfg, b.platforms, append(append([]string(nil), b.env...), env...))
	if err != nil {
		return measure{}, shard.Selection{}, nil, err
	}
	sel, mine := shard.Split(spec, jobs, dist.JobOf)
	cpu0 := childCPU()
	start := time.Now()
	results, err := gobuild.Run(b.ctx, mine, cfg, nil)
	m := measure{wall: time.Since(start), cpu: childCPU() - cpu0}
	if err != nil {
		return m, sel, results, err
	}
	rec := dist.BuildRecord(jobs, sel, results, cfg.Commit, cfg.Version, runtime.Version())
	err = dist.Update(distDir, func(man *dist.Manifest) error {
		var files []string
		for _, r := range results {
			man.PutBinary(dist.Binary{Service: r.Job.Name, Path: "dist/" + filepath.Base(r.Path), OS: r.Job.Target.OS, Arch: r.Job.Target.Arch, Size: r.Size, SHA256: r.SHA256})
			files = append(files, r.Path)
		}
		man.Build = &rec
		return dist.WriteChecksums(distDir, files)
	})
	return m, sel, results, err
}

// coldCache returns a fresh, empty GOCACHE setting.
func (b *bench) coldCache(name string) (string, error) {
	dir, err := os.MkdirTemp(b.work, "gocache-"+name+"-")
	return "GOCACHE=" + dir, err
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// shards measures the cold build split n ways for every n in list.
func (b *bench) shards(list string) error {
	fmt.Fprintf(b.report, "## Cold %d-platform build of %s split over CI machines\n\n", len(b.platforms), b.main)
	fmt.Fprintf(b.report, "%s, %d CPUs, %s; load average at start %s. Every shard ran alone with its own empty GOCACHE, as its own CI machine would; CPU is user+system time of the go build processes.\n\n", runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), loadavg())
	fmt.Fprintf(b.report, "| shards | each shard: wall (CPU) and jobs | slowest shard | vs one machine | merge |\n|---|---|---|---|---|\n")
	var single measure
	var singleSums []byte
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("bad shard count %q", f)
		}
		var parts []string
		var cells []string
		var slowest measure
		for k := 1; k <= n; k++ {
			spec := shard.Spec{K: k, N: n}
			if n == 1 {
				spec = shard.Spec{}
			}
			cache, err := b.coldCache(fmt.Sprintf("%d-of-%d", k, n))
			if err != nil {
				return err
			}
			part := filepath.Join(b.work, fmt.Sprintf("n%d", n), fmt.Sprintf("dist-%d", k))
			b.logf("shard %d/%d: building (load %s)", k, n, loadavg())
			m, sel, _, err := b.build(spec, part, cache)
			if err != nil {
				return fmt.Errorf("shard %d/%d: %w", k, n, err)
			}
			b.logf("%s: %s", sel, m)
			cells = append(cells, fmt.Sprintf("%d/%d: %s, %s", k, n, m, jobsWord(len(sel.Taken))))
			if m.wall > slowest.wall {
				slowest = m
			}
			parts = append(parts, part)
			_ = os.RemoveAll(strings.TrimPrefix(cache, "GOCACHE="))
		}
		dest := filepath.Join(b.work, fmt.Sprintf("n%d", n), "dist")
		start := time.Now()
		if _, err := merge.Merge(b.ctx, parts, dest, "dist"); err != nil {
			return fmt.Errorf("merge %d shards: %w", n, err)
		}
		mergeTime := time.Since(start)
		sums, err := os.ReadFile(filepath.Join(dest, dist.ChecksumsFile))
		if err != nil {
			return err
		}
		ratio := "1.00×"
		if n == 1 {
			single, singleSums = slowest, sums
			b.single = &single
		} else {
			ratio = fmt.Sprintf("%.2f×", slowest.wall.Seconds()/single.wall.Seconds())
			if singleSums != nil && !bytes.Equal(sums, singleSums) {
				return fmt.Errorf("merged SHA256SUMS of %d shards differs from the single machine's:\n%s\nvs\n%s", n, sums, singleSums)
			}
		}
		fmt.Fprintf(b.report, "| %d | %s | %s | %s | %.2f s |\n", n, strings.Join(cells, "<br>"), slowest, ratio, mergeTime.Seconds())
	}
	fmt.Fprintf(b.report, "\nLoad average at end %s. Merged SHA256SUMS equal the single machine's byte for byte.\n\n", loadavg())
	return nil
}

// sharedCache measures a cold build on machine A and then on machine B
// (its own empty GOCACHE and go-cacher folder) sharing go-cacher-server.
func (b *bench) sharedCache() error {
	bin := filepath.Join(b.work, "bin")
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator),
		"github.com/bradfitz/go-tool-cache/cmd/go-cacher", "github.com/bradfitz/go-tool-cache/cmd/go-cacher-server")
	build.Dir = b.repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build go-cacher: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	_ = l.Close()
	srv := exec.Command(filepath.Join(bin, "go-cacher-server"), "-listen", addr, "-cache-dir", filepath.Join(b.work, "cache-server"))
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			_ = resp.Body.Close()
			break
		}
		if i > 200 {
			return fmt.Errorf("go-cacher-server on %s: %w", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	machine := func(name string) (measure, []gobuild.Result, error) {
		cache, err := b.coldCache(name)
		if err != nil {
			return measure{}, nil, err
		}
		prog := "GOCACHEPROG=" + filepath.Join(bin, "go-cacher") + " --cache-dir=" + filepath.Join(b.work, name+"-go-cacher") + " --cache-server=http://" + addr
		b.logf("%s: building with the shared cache (load %s)", name, loadavg())
		m, _, results, err := b.build(shard.Spec{}, filepath.Join(b.work, name, "dist"), cache, prog)
		b.logf("%s: %s", name, m)
		return m, results, err
	}
	// The cold build without a shared cache: the one-machine shard figure
	// when it was measured, else measured here.
	var without measure
	if b.single != nil {
		without = *b.single
	} else {
		cold, err := b.coldCache("nocache")
		if err != nil {
			return err
		}
		b.logf("no shared cache: building (load %s)", loadavg())
		if without, _, _, err = b.build(shard.Spec{}, filepath.Join(b.work, "nocache", "dist"), cold); err != nil {
			return err
		}
		b.logf("no shared cache: %s", without)
	}
	a, ra, err := machine("machine-a")
	if err != nil {
		return err
	}
	bm, rb, err := machine("machine-b")
	if err != nil {
		return err
	}
	for i := range ra {
		if ra[i].SHA256 != rb[i].SHA256 {
			return fmt.Errorf("%s: machine B's binary differs from machine A's", rb[i].Job.Target)
		}
	}
	fmt.Fprintf(b.report, "## Second machine with a shared build cache (GOCACHEPROG)\n\ngo-cacher + go-cacher-server (github.com/bradfitz/go-tool-cache) on loopback; each machine its own empty GOCACHE and go-cacher folder. Load average at end %s.\n\n", loadavg())
	fmt.Fprintf(b.report, "| build | wall (CPU) | vs no shared cache |\n|---|---|---|\n")
	fmt.Fprintf(b.report, "| cold, no shared cache | %s | 1.00× |\n", without)
	fmt.Fprintf(b.report, "| machine A, shared cache empty (fills it) | %s | %.2f× |\n", a, a.wall.Seconds()/without.wall.Seconds())
	fmt.Fprintf(b.report, "| machine B, shared cache warm | %s | %.2f× |\n\nMachine B's binaries are byte-identical to machine A's.\n", bm, bm.wall.Seconds()/without.wall.Seconds())
	return nil
}

func jobsWord(n int) string {
	if n == 1 {
		return "1 job"
	}
	return strconv.Itoa(n) + " jobs"
}
