// Package cgo decides what a cgo build needs and explains what cgo does to
// a build: the C compiler of each platform (ParseCC, Choose), the packages
// whose C code a build without cgo leaves out (Dropped, Explain), and what
// a static glibc link's warnings mean for a binary on scratch
// (StaticGlibcCalls).
//
// It runs no build. Choose looks compilers up on PATH through a function
// the caller passes (exec.LookPath), and Dropped runs one `go list`.
package cgo

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/magepack/magepack/tasks/gobuild"
)

// Spec is a parsed C compiler setting: one compiler for every platform
// (All), or one per platform (ByTarget), or both (All then serves the
// platforms ByTarget does not name). The zero Spec names none: Choose
// finds one.
type Spec struct {
	All      string
	ByTarget map[gobuild.Target]string
}

// perTarget matches the start of a per-platform entry, "linux/arm64=".
var perTarget = regexp.MustCompile(`^\s*[a-z0-9]+/[a-z0-9]+\s*=`)

// ParseCC reads a C compiler setting: "musl-gcc" (one for all), or a
// comma-separated list of os/arch=compiler entries
// ("linux/amd64=musl-gcc,linux/arm64=aarch64-linux-gnu-gcc"), which may
// hold one entry without a platform, for the others. A compiler may carry
// arguments ("zig cc -target aarch64-linux-musl"). It returns an error
// naming the bad entry for an empty compiler, a platform listed twice or
// two entries without a platform.
func ParseCC(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if s == "" || !perTarget.MatchString(s) {
		return Spec{All: s}, nil
	}
	var spec Spec
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if !perTarget.MatchString(entry) {
			if entry == "" || spec.All != "" {
				return Spec{}, fmt.Errorf("C compiler entry %q: want os/arch=compiler, e.g. linux/arm64=aarch64-linux-gnu-gcc (one entry without a platform serves the others)", entry)
			}
			spec.All = entry
			continue
		}
		key, cc, _ := strings.Cut(entry, "=")
		os, arch, _ := strings.Cut(strings.TrimSpace(key), "/")
		t := gobuild.Target{OS: os, Arch: arch}
		cc = strings.TrimSpace(cc)
		if cc == "" {
			return Spec{}, fmt.Errorf("C compiler entry %q names no compiler: want %s=<compiler>", entry, t)
		}
		if spec.ByTarget == nil {
			spec.ByTarget = map[gobuild.Target]string{}
		}
		if _, dup := spec.ByTarget[t]; dup {
			return Spec{}, fmt.Errorf("C compiler for %s is given twice: keep one entry", t)
		}
		spec.ByTarget[t] = cc
	}
	return spec, nil
}

// For returns the compiler s names for t, or "".
func (s Spec) For(t gobuild.Target) string {
	if cc := s.ByTarget[t]; cc != "" {
		return cc
	}
	return s.All
}

// CompilerError is a cgo build for a platform that has no C compiler to
// build with: the one named is not on PATH or builds only for the build
// machine, or none of the usual ones is on PATH.
type CompilerError struct {
	Target gobuild.Target
	// Given is the compiler the setting named; empty when none was named
	// and Tried lists the usual ones looked for.
	Given string
	Tried []string
	// Host is set when Given is on PATH but builds only for the build
	// machine's platform Host (gcc, musl-gcc), not for Target; Usual is
	// then Target's usual cross compiler, when one is known.
	Host  gobuild.Target
	Usual string
	// Packages are the Debian packages that provide one; empty when none
	// is known.
	Packages []string
}

// Error says which compiler is missing and which Debian packages to
// install.
func (e *CompilerError) Error() string {
	var b strings.Builder
	if e.Host != (gobuild.Target{}) {
		fmt.Fprintf(&b, "C compiler %q builds for the build machine (%s), not for %s: name %s's own", e.Given, e.Host, e.Target, e.Target)
		if e.Usual != "" {
			fmt.Fprintf(&b, ", e.g. %s", e.Usual)
		}
		if len(e.Packages) > 0 {
			fmt.Fprintf(&b, " (apt-get install %s)", strings.Join(e.Packages, " "))
		}
		return b.String()
	}
	if e.Given != "" {
		fmt.Fprintf(&b, "C compiler %q for %s is not on PATH", e.Given, e.Target)
	} else {
		fmt.Fprintf(&b, "no C compiler for %s on PATH (looked for %s)", e.Target, strings.Join(e.Tried, ", "))
	}
	if len(e.Packages) > 0 {
		fmt.Fprintf(&b, ": install Debian's %s (apt-get install %s), or name another compiler for it", strings.Join(e.Packages, " and "), strings.Join(e.Packages, " "))
	} else {
		b.WriteString(": install a C cross compiler for it and name it")
	}
	return b.String()
}

// UnreachableError is a static cgo build for platforms it cannot make:
// darwin and ios (Apple's platforms link libSystem dynamically, always),
// and others with no C cross compiler named or known.
type UnreachableError struct {
	Targets []gobuild.Target
	Reason  string
}

// Error names the platforms and why.
func (e *UnreachableError) Error() string {
	names := make([]string, len(e.Targets))
	for i, t := range e.Targets {
		names[i] = t.String()
	}
	return fmt.Sprintf("a static cgo binary cannot be built for %s: %s", strings.Join(names, ", "), e.Reason)
}

// toolchain is what Debian calls a GOARCH's C toolchains.
type toolchain struct {
	gnu     string // GNU triple, e.g. aarch64-linux-gnu
	musl    string // musl triple of cross toolchains such as musl.cc's
	debArch string // Debian architecture, e.g. arm64
}

var linuxToolchains = map[string]toolchain{
	"amd64":    {"x86_64-linux-gnu", "x86_64-linux-musl", "amd64"},
	"arm64":    {"aarch64-linux-gnu", "aarch64-linux-musl", "arm64"},
	"386":      {"i686-linux-gnu", "i686-linux-musl", "i386"},
	"arm":      {"arm-linux-gnueabihf", "arm-linux-musleabihf", "armhf"},
	"ppc64le":  {"powerpc64le-linux-gnu", "powerpc64le-linux-musl", "ppc64el"},
	"s390x":    {"s390x-linux-gnu", "s390x-linux-musl", "s390x"},
	"riscv64":  {"riscv64-linux-gnu", "riscv64-linux-musl", "riscv64"},
	"mips64le": {"mips64el-linux-gnuabi64", "mips64el-linux-musl", "mips64el"},
	"loong64":  {"loongarch64-linux-gnu", "loongarch64-linux-musl", "loong64"},
}

// windowsToolchains are Debian's MinGW-w64 cross compilers by GOARCH.
var windowsToolchains = map[string]struct{ cc, pkg string }{
	"amd64": {"x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64"},
	"386":   {"i686-w64-mingw32-gcc", "gcc-mingw-w64-i686"},
}

// candidates are the compilers looked for, in order, when none is named
// for t, and the Debian packages that provide the last (the usual one).
// The build machine's own platform prefers musl-gcc for a static build:
// a static musl binary needs nothing at run time, a static glibc one may.
func candidates(t, host gobuild.Target, static bool) (ccs, pkgs []string) {
	switch t.OS {
	case "linux":
		if t == host {
			if static {
				return []string{"musl-gcc", "gcc"}, []string{"musl-tools", "gcc"}
			}
			return nil, nil
		}
		tc, ok := linuxToolchains[t.Arch]
		if !ok {
			return nil, nil
		}
		return []string{tc.musl + "-gcc", tc.gnu + "-gcc"},
			[]string{"gcc-" + strings.ReplaceAll(tc.gnu, "_", "-"), "libc6-dev-" + tc.debArch + "-cross"}
	case "windows":
		if tc, ok := windowsToolchains[t.Arch]; ok {
			return []string{tc.cc}, []string{tc.pkg}
		}
	}
	return nil, nil
}

// knownPackages maps a compiler the setting names to the Debian packages
// that provide it, for the error when it is missing.
func knownPackages(cc string, t gobuild.Target) []string {
	switch cc {
	case "musl-gcc":
		return []string{"musl-tools", "gcc"}
	case "gcc", "cc":
		return []string{"gcc"}
	case "clang":
		return []string{"clang"}
	}
	for _, host := range []gobuild.Target{{}, t} {
		if ccs, pkgs := candidates(t, host, true); len(ccs) > 0 && ccs[len(ccs)-1] == cc {
			return pkgs
		}
	}
	return nil
}

// Choose returns the C compiler of every target of a cgo build, before
// any build runs: the one spec names for it, checked to be on PATH (look
// is exec.LookPath, or a stand-in) and not to be a compiler that builds
// only for the build machine (gcc, musl-gcc) when t is another platform
// (see hostBuilds), else the first of the usual ones
// found: musl-gcc or gcc for the build machine's own Linux platform (host)
// in a static build, <arch>-linux-musl-gcc or <gnu triple>-gcc for other
// Linux platforms (aarch64-linux-gnu-gcc), MinGW-w64's gcc for windows. A
// target left out of the map keeps go's own choice (the build machine's
// platform in a dynamic build).
//
// With static set it refuses darwin and ios (they cannot link statically)
// and platforms with no compiler named or known, in one
// *UnreachableError. A missing compiler is a *CompilerError naming the
// Debian packages that provide one. All problems are returned together.
func Choose(spec Spec, targets []gobuild.Target, host gobuild.Target, static bool, look func(string) (string, error)) (map[gobuild.Target]string, error) {
	chosen := map[gobuild.Target]string{}
	var errs []error
	var apple, unknown []gobuild.Target
	for _, t := range targets {
		if _, done := chosen[t]; done {
			continue
		}
		if static && (t.OS == "darwin" || t.OS == "ios") {
			apple = append(apple, t)
			continue
		}
		if cc := spec.For(t); cc != "" {
			if !found(cc, look) {
				errs = append(errs, &CompilerError{Target: t, Given: cc, Packages: knownPackages(cc, t)})
				continue
			}
			if hostOnly(cc) && !hostBuilds(t, host) {
				e := &CompilerError{Target: t, Given: cc, Host: host}
				if ccs, pkgs := candidates(t, host, static); len(ccs) > 0 {
					e.Usual, e.Packages = ccs[len(ccs)-1], pkgs
				}
				errs = append(errs, e)
				continue
			}
			chosen[t] = cc
			continue
		}
		ccs, pkgs := candidates(t, host, static)
		if len(ccs) == 0 {
			if static {
				unknown = append(unknown, t)
			}
			continue
		}
		cc := ""
		for _, c := range ccs {
			if found(c, look) {
				cc = c
				break
			}
		}
		if cc == "" {
			errs = append(errs, &CompilerError{Target: t, Tried: ccs, Packages: pkgs})
			continue
		}
		chosen[t] = cc
	}
	if len(apple) > 0 {
		errs = append(errs, &UnreachableError{Targets: apple, Reason: "Apple's platforms always link their system library (libSystem) dynamically; build them without cgo, or with cgo dynamically on a Mac"})
	}
	if len(unknown) > 0 {
		errs = append(errs, &UnreachableError{Targets: unknown, Reason: "no C cross compiler is known for them: name one for each"})
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errKey(errs[i]) < errKey(errs[j]) })
		return nil, errors.Join(errs...)
	}
	return chosen, nil
}

// errKey orders Choose's errors: missing compilers by platform, then the
// refused platforms.
func errKey(err error) string {
	var ce *CompilerError
	if errors.As(err, &ce) {
		return "0 " + ce.Target.String()
	}
	return "1"
}

// hostOnly reports whether cc is a compiler that, given no arguments,
// builds only for the machine it runs on: gcc, cc, musl-gcc, clang.
func hostOnly(cc string) bool {
	f := strings.Fields(cc)
	if len(f) != 1 {
		return false
	}
	switch path.Base(f[0]) {
	case "gcc", "cc", "musl-gcc", "clang":
		return true
	}
	return false
}

// hostBuilds reports whether a host compiler of host builds for t with the
// machine flags the go command passes it: its own platform, the other
// Apple architecture (-arch), 386 beside amd64 (-m32, -m64: multilib).
func hostBuilds(t, host gobuild.Target) bool {
	switch {
	case t == host:
		return true
	case t.OS != host.OS:
		return false
	case t.OS == "darwin" || t.OS == "ios":
		return true
	}
	pair := []string{t.Arch, host.Arch}
	slices.Sort(pair)
	return pair[0] == "386" && pair[1] == "amd64"
}

// found reports whether the command of cc (its first word: a compiler
// may carry arguments) is on PATH, or is a path to a file look accepts.
func found(cc string, look func(string) (string, error)) bool {
	f := strings.Fields(cc)
	if len(f) == 0 {
		return false
	}
	_, err := look(f[0])
	return err == nil
}

// MuslCompiler is the usual musl C compiler for t: musl-gcc on the build
// machine's own platform (host), <arch>-linux-musl-gcc (as musl.cc's
// cross toolchains name theirs) for other Linux platforms; "" for others.
func MuslCompiler(t, host gobuild.Target) string {
	if t.OS != "linux" {
		return ""
	}
	if t == host {
		return "musl-gcc"
	}
	if tc, ok := linuxToolchains[t.Arch]; ok {
		return tc.musl + "-gcc"
	}
	return ""
}
