package linkage

import (
	"fmt"
	"strings"
)

// Targets named in Violation.Target.
const (
	TargetScratch = "scratch"
	TargetAlpine  = "alpine"
)

// reasonUnknown is the Violation.Reason for a binary whose linkage could not be read.
const reasonUnknown = "could not be inspected (linkage unknown)"

// Violation is the error CheckScratch and CheckAlpine return when a binary
// will not (or cannot be shown to) run on a base image.
type Violation struct {
	// Path is the binary, as in Report.Path.
	Path string
	// Target is the base image: "scratch" or "alpine".
	Target string
	// Reason completes a sentence that starts with the path, e.g.
	// "is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2, needs libc.so.6)".
	Reason string
	// Fix says how to build a binary that passes.
	Fix string
	// CGO is set when the binary was built with cgo: building it without
	// would leave its C code out, so Fix does not suggest it.
	CGO bool
}

// Error renders "<path> <reason>: it will not run on <target>; <fix>".
func (v *Violation) Error() string {
	consequence := "it will not run on " + v.Target
	if v.Reason == reasonUnknown {
		consequence = "it cannot be verified to run on " + v.Target
	}
	return fmt.Sprintf("%s %s: %s; %s", v.Path, v.Reason, consequence, v.Fix)
}

// Applies reports whether the scratch and Alpine checks judge r at all: they
// judge Linux binaries and binaries whose OS could not be read; darwin,
// windows and other systems never go into a Linux image, so they are skipped.
func Applies(r Report) bool {
	return r.OS == "" || r.OS == "linux"
}

// CheckScratch returns nil when the binary r describes runs on an empty
// (scratch) image: it is static, a static-pie included, or it is not a Linux
// binary (not applicable; see Applies). It returns a *Violation when r is
// dynamic (an interpreter such as ld-linux or ld-musl, which scratch lacks, or
// needed libraries) or when its linkage is unknown, since it cannot be verified.
func CheckScratch(r Report) error {
	if !Applies(r) {
		return nil
	}
	switch r.Linkage {
	case Static:
		return nil
	case Dynamic:
		return &Violation{Path: r.Path, Target: TargetScratch, Reason: "is " + dynamicReason(r), Fix: scratchFix(r), CGO: r.CGO == "1"}
	default:
		return unknownViolation(r, TargetScratch)
	}
}

// CheckAlpine returns nil when the binary r describes runs on Alpine: it is
// static, or dynamically linked against musl, or it is not a Linux binary (not
// applicable; see Applies). It returns a *Violation for binaries that need
// glibc (interpreter ld-linux*, NEEDED libc.so.6), whose loader Alpine lacks,
// for dynamic binaries whose C library is not recognised, and for binaries
// whose linkage is unknown.
func CheckAlpine(r Report) error {
	if !Applies(r) {
		return nil
	}
	switch {
	case r.Linkage == Static:
		return nil
	case r.Linkage == Dynamic && r.Libc == Musl:
		return nil
	case r.Linkage == Dynamic:
		fix := "build with CGO_ENABLED=0, or build against musl with CC=musl-gcc CGO_ENABLED=1"
		switch {
		case r.CGO == "0" && r.PIE:
			fix = "build without -buildmode=pie: with CGO_ENABLED=0 Go then links a static binary"
		case r.CGO == "1":
			fix = "build against musl (CC=musl-gcc), or link it statically (" + staticCgo + ")"
		}
		what := "is " + dynamicReason(r)
		if r.Libc == Glibc {
			what = "needs glibc: it " + what
		} else {
			what += " against an unrecognised C library"
		}
		return &Violation{Path: r.Path, Target: TargetAlpine, Reason: what, Fix: fix, CGO: r.CGO == "1"}
	default:
		return unknownViolation(r, TargetAlpine)
	}
}

// dynamicReason says what makes r dynamic, e.g.
// "dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2, needs libc.so.6)".
func dynamicReason(r Report) string {
	var why []string
	if r.Interpreter != "" {
		why = append(why, "interpreter "+r.Interpreter)
	}
	if len(r.Needed) > 0 {
		why = append(why, "needs "+strings.Join(r.Needed, ", "))
	}
	if r.BuildMode == "pie" {
		why = append(why, "-buildmode=pie")
	}
	if len(why) == 0 {
		return "dynamically linked"
	}
	return "dynamically linked (" + strings.Join(why, ", ") + ")"
}

// staticCgo is how a cgo binary is linked statically.
const staticCgo = "keep cgo, add -ldflags '-linkmode external -extldflags -static' and the tags netgo,osusergo; CGO_ENABLED=0 would leave its C code out"

func scratchFix(r Report) string {
	switch {
	case r.CGO == "0" && r.PIE:
		return "build without -buildmode=pie: with CGO_ENABLED=0 Go then links a static binary"
	case r.CGO == "1" && r.Libc == Musl:
		return "link it statically (" + staticCgo + "), or ship it on the alpine variant, which has the musl loader"
	case r.CGO == "1":
		return "link it statically (" + staticCgo + ")"
	case r.Libc == Musl:
		return "build with CGO_ENABLED=0 and without -buildmode=pie, or ship it on the alpine variant, which has the musl loader"
	default:
		return "build with CGO_ENABLED=0 and without -buildmode=pie"
	}
}

func unknownViolation(r Report, target string) *Violation {
	return &Violation{
		Path:   r.Path,
		Target: target,
		Reason: reasonUnknown,
		Fix:    "check that the file is a complete Linux executable (rebuild it) and run the check again",
	}
}
