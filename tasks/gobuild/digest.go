package gobuild

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// outputEnv lists the environment variables that change what go build
// writes, apart from GOOS and GOARCH (which every job sets for itself):
// module mode and flags, the architecture levels, experiments, FIPS mode,
// cgo and the linker's external-linking switch. Anything else in a job's
// environment (PATH, HOME, GOPATH, GOMODCACHE, GOCACHE, GOCACHEPROG,
// GOTMPDIR, GOPROXY, CI variables…) says where things are on one machine,
// not what the binary is.
var outputEnv = map[string]bool{
	"GO111MODULE": true, "GOFLAGS": true, "GOEXPERIMENT": true, "GOFIPS140": true,
	"GOAMD64": true, "GOARM": true, "GOARM64": true, "GO386": true, "GOMIPS": true,
	"GOMIPS64": true, "GOPPC64": true, "GORISCV64": true, "GOWASM": true,
	"CGO_ENABLED": true, "GO_EXTLINK_ENABLED": true,
}

// cgoEnv lists the variables that only matter when cgo is on: with
// CGO_ENABLED=0 they are left out, so a CC set on one CI machine and not
// on another does not split a pure-Go build.
var cgoEnv = map[string]bool{
	"CC": true, "CXX": true, "FC": true, "AR": true, "PKG_CONFIG": true,
	"CGO_CFLAGS": true, "CGO_CPPFLAGS": true, "CGO_CXXFLAGS": true,
	"CGO_FFLAGS": true, "CGO_LDFLAGS": true,
}

// ConfigDigest returns the digest ("sha256:<hex>") of what jobs do to the
// bytes they build, and the lines it is computed from, sorted. Two runs
// with equal digests pass the same go build flags (-trimpath, -buildvcs,
// -ldflags with its -X version variables, the main package) and the same
// output-changing environment (CGO_ENABLED, GOFLAGS, GOAMD64/GOARM/…,
// GOEXPERIMENT, GOFIPS140, GO111MODULE, GO_EXTLINK_ENABLED, and with cgo
// on CC/CXX/CGO_*FLAGS/…) for every service, so equal sources and
// toolchains give equal bytes.
//
// What differs between machines is left out: the output path (-o), GOOS and
// GOARCH (the job's own platform, recorded separately), and every other
// variable (PATH, HOME, GOPATH, GOCACHE, GOCACHEPROG, GOTMPDIR…). Which
// platforms are built is not part of it either: every platform of a service
// gives the same lines, so pass every job of the run, before sharding, and
// each shard computes the same digest. Settings made with `go env -w`
// live in a file, not in the jobs, and are not seen.
//
// A line is "<service>: go <argv>" or "<service>: env KEY=value", with
// words that hold anything but plain characters Go-quoted.
func ConfigDigest(jobs []Job) (digest string, lines []string) {
	for _, j := range jobs {
		lines = append(lines, j.Name+": go "+quoteWords(withoutOutput(j.Args)))
		cgo := envValue(j.Env, "CGO_ENABLED") == "1"
		for _, kv := range j.Env {
			k, v, _ := strings.Cut(kv, "=")
			if outputEnv[k] || (cgo && cgoEnv[k]) {
				lines = append(lines, j.Name+": env "+k+"="+quoteWord(v))
			}
		}
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), lines
}

// withoutOutput returns args with the value of every -o flag (a path of one
// machine, naming the job's platform) replaced by "<output>".
func withoutOutput(args []string) []string {
	a := slices.Clone(args)
	for i := 0; i < len(a)-1; i++ {
		if a[i] == "-o" {
			a[i+1] = "<output>"
			i++
		}
	}
	return a
}

// quoteWords joins words with spaces, quoting those that need it, so that
// different argv never give the same line.
func quoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = quoteWord(w)
	}
	return strings.Join(q, " ")
}

// quoteWord returns w as is when it is non-empty and holds only characters
// that need no quoting, else Go-quoted.
func quoteWord(w string) string {
	if w == "" || strings.IndexFunc(w, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=,:+@%<>", r))
	}) >= 0 {
		return strconv.Quote(w)
	}
	return w
}
