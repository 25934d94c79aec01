// Package linkage reads a compiled binary's own headers (ELF, PE, Mach-O and
// Go build info) for any architecture and says how it is linked: static or
// dynamic, which program interpreter and shared libraries it needs and which
// C library that implies. CheckScratch and CheckAlpine turn such a report into
// a verdict for a container base image.
//
// It never runs the binary and never shells out to ldd or file (neither can
// read a foreign-architecture binary), and it never calls a file it could not
// read "static": such a file gets Linkage Unknown and an error.
package linkage

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Linkage says whether a binary needs a dynamic loader and shared libraries at run time.
type Linkage string

// Linkage values.
const (
	// Static means the binary needs nothing from the file system to start:
	// no program interpreter and no shared libraries. A static-pie binary
	// (ET_DYN, no interpreter, no DT_NEEDED) is Static with PIE set.
	Static Linkage = "static"
	// Dynamic means the binary names a program interpreter or shared libraries.
	Dynamic Linkage = "dynamic"
	// Unknown means the file could not be read well enough to tell.
	Unknown Linkage = "unknown"
)

// Libc names the C library a binary needs at run time.
type Libc string

// Libc values.
const (
	// Glibc is GNU libc (interpreter ld-linux*.so / ld64.so, or NEEDED libc.so.6).
	Glibc Libc = "glibc"
	// Musl is musl libc (interpreter ld-musl-*, or NEEDED libc.musl-* / libc.so).
	Musl Libc = "musl"
	// None means the binary needs no C library at run time (it is static).
	None Libc = "none"
	// System means the operating system's own libraries: libSystem on darwin,
	// the system DLLs on windows, libc on the BSDs and other non-Linux ELF systems.
	System Libc = "system"
	// UnknownLibc means the C library could not be determined.
	UnknownLibc Libc = "unknown"
)

// Formats reported in Report.Format.
const (
	FormatELF   = "elf"
	FormatPE    = "pe"
	FormatMachO = "macho"
)

// ErrUnknownFormat is returned (wrapped, naming the file) when a file is not an
// ELF, PE or Mach-O binary at all: a text file, an archive, an empty file.
var ErrUnknownFormat = errors.New("not an ELF, PE or Mach-O binary")

// ErrMalformed is returned (wrapped, naming the file and the parser's reason)
// when a file starts like a binary but its headers cannot be read: a truncated
// or corrupt file, or one that made a standard-library parser panic.
var ErrMalformed = errors.New("binary headers are truncated or corrupt")

// ErrNotExecutable is returned (wrapped, naming the file) for ELF files that
// are not programs: relocatable objects (.o) and core dumps.
var ErrNotExecutable = errors.New("not an executable")

// Report is what a binary's headers say about how it is linked.
// Inspect fills it; on error it still carries Path, Linkage Unknown and Libc
// UnknownLibc (and Format/OS/Arch when they were readable).
type Report struct {
	// Path is the file as given to Inspect (the name given to InspectReader).
	Path string `json:"path"`
	// Format is "elf", "pe" or "macho"; empty when unknown.
	Format string `json:"format"`
	// OS is a GOOS-style name: from Go build info when present, else from the headers.
	OS string `json:"os"`
	// Arch is a GOARCH-style name from the headers (amd64, arm64, 386, arm,
	// riscv64, ppc64le, s390x, mips64le, loong64, ...). A universal (fat)
	// Mach-O file lists every architecture, comma-separated ("amd64,arm64").
	Arch string `json:"arch"`
	// Linkage is static, dynamic or unknown.
	Linkage Linkage `json:"linkage"`
	// Interpreter is the ELF PT_INTERP path or the Mach-O LC_LOAD_DYLINKER path.
	Interpreter string `json:"interpreter,omitempty"`
	// Needed lists the shared libraries the binary imports, in file order and
	// spelled as in the file: ELF DT_NEEDED, PE imported DLLs, Mach-O dylibs.
	Needed []string `json:"needed,omitempty"`
	// Libc is the C library the binary needs at run time.
	Libc Libc `json:"libc"`
	// LinkedLibc is the C library compiled into a static Linux binary
	// that has one (a cgo or C binary): Glibc or Musl, read from the
	// binary's contents, UnknownLibc when they do not tell. Empty for
	// dynamic binaries and Go binaries built without cgo.
	LinkedLibc Libc `json:"linked_libc,omitempty"`
	// NSS is set for a static glibc binary that carries glibc's name
	// service switch (the code behind getaddrinfo, getpwnam and their
	// kin), which loads glibc's shared libraries at run time: such
	// lookups fail where those are missing, as on scratch.
	NSS bool `json:"nss,omitempty"`
	// GoVersion is the toolchain that built a Go binary ("go1.26.8"); empty otherwise.
	GoVersion string `json:"go_version,omitempty"`
	// CGO is the CGO_ENABLED build setting, "0" or "1"; empty when unknown.
	CGO string `json:"cgo,omitempty"`
	// BuildMode is the -buildmode build setting ("exe", "pie", ...); empty when unknown.
	BuildMode string `json:"build_mode,omitempty"`
	// PIE is true for position-independent executables (ELF ET_DYN programs,
	// Mach-O MH_PIE, PE with a dynamic base).
	PIE bool `json:"pie"`
	// Settings are the Go build settings (CGO_ENABLED, -buildmode, -ldflags,
	// GOOS, GOARCH, vcs.revision, ...); nil for non-Go binaries.
	Settings map[string]string `json:"settings,omitempty"`
	// Notes explain verdicts a reader might find surprising (static-pie,
	// universal binaries, static cgo binaries).
	Notes []string `json:"notes,omitempty"`
}

// Summary renders the report as one line, e.g. "static, no libc" or
// "dynamic, interpreter /lib/ld-musl-x86_64.so.1, needs libc.so, musl".
func (r Report) Summary() string {
	switch r.Linkage {
	case Static:
		libc := libcPhrase(r.Libc)
		switch {
		case r.LinkedLibc == Glibc && r.NSS:
			libc = "glibc linked in, with NSS (lookups need glibc's shared libraries)"
		case r.LinkedLibc == Glibc || r.LinkedLibc == Musl:
			libc = string(r.LinkedLibc) + " linked in"
		}
		if r.PIE && r.Format == FormatELF {
			return "static (static-pie), " + libc
		}
		return "static, " + libc
	case Dynamic:
		parts := []string{"dynamic"}
		if r.Interpreter != "" {
			parts = append(parts, "interpreter "+r.Interpreter)
		}
		if len(r.Needed) > 0 {
			parts = append(parts, "needs "+strings.Join(r.Needed, ", "))
		}
		parts = append(parts, libcPhrase(r.Libc))
		return strings.Join(parts, ", ")
	default:
		return "unknown linkage"
	}
}

func libcPhrase(l Libc) string {
	switch l {
	case None:
		return "no libc"
	case System:
		return "system libraries"
	case Glibc, Musl:
		return string(l)
	default:
		return "libc unknown"
	}
}

// Inspect opens the file at path and reads its headers; see InspectReader.
// It returns an error naming the file when the file cannot be opened or read
// (the report then has Linkage Unknown and Libc UnknownLibc).
func Inspect(path string) (Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return unknownReport(path), fmt.Errorf("inspect binary: %w; check the path (was the binary built?)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return unknownReport(path), fmt.Errorf("inspect binary: %w", err)
	}
	if !st.Mode().IsRegular() {
		return unknownReport(path), fmt.Errorf("inspect %s: %w: it is not a regular file (mode %s); point the check at the built binary", path, ErrUnknownFormat, st.Mode())
	}
	return InspectReader(f, st.Size(), path)
}

// InspectReader reads the headers of the size-byte binary in r, detecting the
// format by its magic number; name is used as Report.Path and in errors.
//
// It never panics on arbitrary input: a file that is not a binary returns an
// error wrapping ErrUnknownFormat, one with unreadable headers an error
// wrapping ErrMalformed (a panic inside a debug/* parser is recovered into
// ErrMalformed), an ELF object or core file ErrNotExecutable. In every error
// case the report has Linkage Unknown and Libc UnknownLibc, never Static.
func InspectReader(r io.ReaderAt, size int64, name string) (rep Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			partial := rep
			rep = unknownReport(name)
			rep.Format, rep.OS, rep.Arch = partial.Format, partial.OS, partial.Arch
			err = fmt.Errorf("inspect %s: %w: the header parser failed (%v); rebuild the binary", name, ErrMalformed, p)
		}
	}()
	var magic [4]byte
	n, _ := r.ReadAt(magic[:], 0)
	m := magic[:n]
	switch {
	case bytes.HasPrefix(m, []byte("\x7fELF")):
		rep, err = inspectELF(r, size, name)
	case bytes.HasPrefix(m, []byte("MZ")):
		rep, err = inspectPE(r, name)
	case n == 4 && isMachO(magic):
		rep, err = inspectMachO(r, name)
	case n == 4 && isFat(magic):
		rep, err = inspectFat(r, name)
	default:
		what := "is empty"
		if size > 0 {
			what = fmt.Sprintf("starts with %q", m)
		}
		return unknownReport(name), fmt.Errorf("inspect %s: %w: the file %s; point the check at a binary built by go build", name, ErrUnknownFormat, what)
	}
	if err != nil {
		partial := rep
		rep = unknownReport(name)
		rep.Format, rep.OS, rep.Arch = partial.Format, partial.OS, partial.Arch
		return rep, err
	}
	return rep, nil
}

func unknownReport(name string) Report {
	return Report{Path: name, Linkage: Unknown, Libc: UnknownLibc}
}

// malformed wraps a parser error so that it names the file, the class and the fix.
func malformed(name, format string, err error) error {
	return fmt.Errorf("inspect %s: %w: %s: %v; rebuild the binary (is the file complete?)", name, ErrMalformed, format, err)
}

// applyBuildInfo copies the Go build info in r, if any, into rep. A missing or
// unreadable build info is not an error: non-Go binaries have none.
func applyBuildInfo(r io.ReaderAt, rep *Report) {
	defer func() {
		if p := recover(); p != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("Go build info unreadable: %v", p))
		}
	}()
	bi, err := buildinfo.Read(r)
	if err != nil || bi == nil {
		return
	}
	rep.GoVersion = bi.GoVersion
	if len(bi.Settings) > 0 {
		rep.Settings = make(map[string]string, len(bi.Settings))
		for _, s := range bi.Settings {
			rep.Settings[s.Key] = s.Value
		}
	}
	rep.CGO = rep.Settings["CGO_ENABLED"]
	rep.BuildMode = rep.Settings["-buildmode"]
}
