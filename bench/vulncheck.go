package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/magepack/magepack/tasks/vulncheck"
)

// vulncheckSet is figure set 12: what vulncheck adds to a
// build of example-app. The bar is the difference of two medians, each
// after a fresh edit, both through the magefile compiled once: `crossCompile
// vulncheck` against `crossCompile` alone. The edit makes the binary new,
// so vulncheck really links the unstripped twin and runs govulncheck on it
// (a binary it saw before is a cache hit and costs next to nothing): the
// difference is what a developer pays for vulncheck in the edit → check
// loop, database check, twin link and scan included. The MAGEPACK_TIMINGS
// "vulncheck" phase (twins, scans, VEX) is in the phase breakdown beside
// it; it leaves out the database check before the build.
//
// The first run is the same command with an empty magepack cache
// (XDG_CACHE_HOME of its own): govulncheck's `go install`, the first twin
// link and scan. The build cache stays the harness's, so govulncheck's
// packages compile only if that cache has not seen them (the report
// quotes the install time vulncheck prints).
//
// The database is the one .ci/install builds (.ci/tools/vulndb.sh), in
// $PEER_TOOLS_DIR/vulndb or /var/cache/magepack/tools/vulndb; without it
// the set is not measured and the report says why. A tiny run (CI) skips
// the first run, and the whole set when govulncheck was never built on the
// machine (its first build compiles for about a minute): about 5 s.
var vulncheckSet = figureSet{
	id: "12", name: "vulncheck beyond the build",
	run: (*harness).vulncheck,
	targets: []target{
		diffBar("12", "vulncheck beyond the build: edit → crossCompile vulncheck vs edit → crossCompile, 1 platform, magefile compiled once", "12 crossCompile vulncheck", "12 crossCompile", time.Second),
	},
	extras: []target{
		ratioInfo("12", "first vulncheck on the machine (empty magepack cache: govulncheck install, twin link, scan) vs a warm one, both after an edit", "12 crossCompile vulncheck, first run", "12 crossCompile vulncheck"),
	},
}

// vulnDB returns the file:// URL of the database .ci/install builds, or
// "" and why it is missing.
func vulnDB() (url, missing string) {
	dir := envOr("PEER_TOOLS_DIR", "/var/cache/magepack/tools")
	db := filepath.Join(dir, "vulndb")
	if _, err := os.Stat(filepath.Join(db, "index", "db.json")); err != nil {
		return "", fmt.Sprintf("no vulnerability database in %s (run .ci/install, which builds it with .ci/tools/vulndb.sh, or set PEER_TOOLS_DIR)", db)
	}
	return "file://" + db, ""
}

// govulncheckBuilt says whether vulncheck has built govulncheck into this
// user's cache (tasks/vulncheck.go: <user cache>/magepack, by version).
func govulncheckBuilt() bool {
	dir, err := os.UserCacheDir()
	if err != nil {
		return false
	}
	_, ver, _ := strings.Cut(vulncheck.Tool, "@")
	_, err = os.Stat(filepath.Join(dir, "magepack", "govulncheck-"+ver, "govulncheck"))
	return err == nil
}

// installLine is what vulncheck prints when it builds govulncheck.
var installLine = regexp.MustCompile(`(?m)^\[vulncheck\] built (\S+) into .* in (\S+) \(once per machine\)`)

// vulncheck times, for the first platform, edit → crossCompile with and
// without vulncheck (h.n times each, alternating), after one first run
// with an empty magepack cache.
func (h *harness) vulncheck() error {
	const (
		cc, vc, first = "12 crossCompile", "12 crossCompile vulncheck", "12 crossCompile vulncheck, first run"
	)
	db, missing := vulnDB()
	if missing != "" {
		for _, k := range []string{cc, vc, first} {
			h.fig(k, k).unavailable = missing
		}
		h.notes = append(h.notes, "set 12 not measured: "+missing)
		return nil
	}
	if h.tiny && !h.partial && !govulncheckBuilt() {
		why := "not measured in a tiny run: govulncheck is not built on this machine yet (its first build compiles for about a minute); go run ./bench -tiny -only 12 measures it"
		for _, k := range []string{cc, vc, first} {
			h.fig(k, k).unavailable = why
		}
		h.notes = append(h.notes, "set 12 "+why)
		return nil
	}
	if err := h.compileMagefile(); err != nil {
		return err
	}
	plat := h.jobs[0].Target.String()
	env := []string{"MAGEPACK_VULNDB=" + db, "MAGEPACK_PLATFORMS=" + plat, "MAGEPACK_DIST=" + filepath.Join(h.work, "vulncheck-dist")}
	// The real database finds vulnerable standard library code in most
	// toolchains: vulncheck then exits 10 after scanning everything, which
	// is a finished run here.
	run := func(targets ...string) cmd {
		c := cmd{dir: h.repo, env: env, name: h.mageBin, args: targets}
		if slices.Contains(targets, "vulncheck") {
			c.okCodes = []int{10}
		}
		return c
	}
	label := "edit → crossCompile, example-app for " + plat + ", magefile compiled once"

	if h.tiny && !h.partial {
		h.fig(first, first).unavailable = "not measured in a tiny run (go run ./bench -tiny -only 12 measures it)"
		h.notes = append(h.notes, "12 crossCompile vulncheck, first run: not measured in a tiny run, which keeps to the machine's caches (go run ./bench -tiny -only 12 measures it)")
	} else if err := h.firstVulncheck(first, plat, env, run); err != nil {
		return err
	}

	// Prime the machine's magepack cache (govulncheck installed there once;
	// twins and scans of other binaries do not matter) and the dist folder.
	if _, _, err := h.run("prime vulncheck", run("crossCompile", "vulncheck")); err != nil {
		return err
	}
	for i := 0; i < h.n; i++ {
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure(cc, label, run("crossCompile")); err != nil {
			return err
		}
		if err := h.edit(); err != nil {
			return err
		}
		out, err := h.measure(vc, strings.Replace(label, "crossCompile", "crossCompile vulncheck", 1), run("crossCompile", "vulncheck"))
		if err != nil {
			return err
		}
		if !strings.Contains(out, "[vulncheck]") {
			return fmt.Errorf("crossCompile vulncheck printed no [vulncheck] line:\n%s", tail(out, 10))
		}
	}
	return nil
}

// firstVulncheck measures the first run: edit → crossCompile vulncheck
// with an empty magepack cache, after the build is primed.
func (h *harness) firstVulncheck(key, plat string, env []string, run func(...string) cmd) error {
	// A magepack cache of its own, empty; the build cache named
	// explicitly, as XDG_CACHE_HOME would move go's default one too.
	gocache := output(h.ctx, h.repo, "go", "env", "GOCACHE")
	if h.warmCache != "" {
		gocache = h.warmCache
	}
	fresh := filepath.Join(h.work, "vulncheck-first-cache")
	if err := os.RemoveAll(fresh); err != nil {
		return err
	}
	defer os.RemoveAll(fresh)
	// The build is primed first: the first run's figure is vulncheck's
	// first time, not the build cache's.
	if _, _, err := h.run("prime crossCompile", run("crossCompile")); err != nil {
		return err
	}
	if err := h.edit(); err != nil {
		return err
	}
	c := run("crossCompile", "vulncheck")
	c.env = append(append([]string(nil), env...), "XDG_CACHE_HOME="+fresh, "GOCACHE="+gocache)
	out, err := h.measure(key, "edit → crossCompile vulncheck, "+plat+", empty magepack cache (govulncheck installed, twin linked, scanned)", c)
	if err != nil {
		return err
	}
	install := "vulncheck printed no install line: govulncheck was already built in the fresh cache (unexpected)"
	if m := installLine.FindStringSubmatch(out); m != nil {
		install = fmt.Sprintf("the first run built %s in %s (`go install` against the build cache %s)", m[1], m[2], gocache)
	}
	db, _ := vulnDB()
	h.sections = append(h.sections, "\n## vulncheck's first run (set 12)\n\n- "+install+".\n- database: "+db+"\n")
	return nil
}

// compileMagefile compiles the scratch clone's magefile once (setup does
// it in full mode for the peers' sets) into h.mageBin.
func (h *harness) compileMagefile() error {
	if h.mageBin != "" {
		return nil
	}
	h.mageBin = filepath.Join(h.work, "bin", "magefile")
	_, _, err := h.run("mage -compile", mage(h.repo, nil, "-compile", h.mageBin))
	return err
}
