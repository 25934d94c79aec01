package linkage

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "regenerate the seed corpus in testdata/fuzz/FuzzInspect from freshly built binaries")

const (
	seedDir     = "testdata/fuzz/FuzzInspect"
	maxSeedSize = 20 << 10
)

// syntheticSeeds are hand-made headers covering every parser path; the corpus
// directory adds the heads of real binaries.
func syntheticSeeds() map[string][]byte {
	return map[string][]byte{
		"elf_glibc":      buildELF(elfSpec{interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libc.so.6"}}),
		"elf_musl_strip": buildELF(elfSpec{noShdrs: true, interp: "/lib/ld-musl-x86_64.so.1", needed: []string{"libc.so"}}),
		"elf_static_pie": buildELF(elfSpec{typ: elf.ET_DYN, flags1: uint64(elf.DF_1_PIE)}),
		"elf_netbsd":     buildELF(elfSpec{noteName: ".note.netbsd.ident", machine: elf.EM_AARCH64}),
		"macho_darwin":   buildMachO(machoSpec{dylinker: "/usr/lib/dyld", dylibs: []string{"/usr/lib/libSystem.B.dylib"}, platform: 1, pie: true}),
		"macho_fat": buildFat(
			buildMachO(machoSpec{cpu: macho.CpuAmd64, dylibs: []string{"/usr/lib/libSystem.B.dylib"}}),
			buildMachO(machoSpec{cpu: macho.CpuArm64, dylibs: []string{"/usr/lib/libSystem.B.dylib"}}),
		),
		"text": []byte("#!/bin/sh\nexec app\n"),
	}
}

func FuzzInspect(f *testing.F) {
	for _, s := range syntheticSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := InspectReader(bytes.NewReader(data), int64(len(data)), "fuzz.bin")
		if err != nil {
			if r.Linkage != Unknown || r.Libc != UnknownLibc {
				t.Fatalf("error %v with linkage %q libc %q: a failed inspection must be unknown", err, r.Linkage, r.Libc)
			}
			if !strings.Contains(err.Error(), "fuzz.bin") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if CheckScratch(r) == nil && Applies(r) {
				t.Fatalf("an unreadable Linux file passed the scratch check: %+v", r)
			}
		} else {
			if r.Linkage != Static && r.Linkage != Dynamic {
				t.Fatalf("no error but linkage %q", r.Linkage)
			}
			if r.Format == "" || r.Libc == "" || r.OS == "" {
				t.Fatalf("no error but incomplete report %+v", r)
			}
			if r.Linkage == Static && (r.Interpreter != "" || len(r.Needed) > 0) {
				t.Fatalf("static report with interpreter %q / needed %v", r.Interpreter, r.Needed)
			}
		}
		_ = r.Summary()
		_ = CheckAlpine(r)
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("report does not marshal: %v", err)
		}
	})
}

// TestFuzzSeedCorpus keeps the committed corpus small and well-formed; with
// -update it rewrites it from the synthetic headers and the first bytes of
// the real sample binaries (built by the integration helper).
func TestFuzzSeedCorpus(t *testing.T) {
	if *update {
		writeSeeds(t)
	}
	entries, err := os.ReadDir(seedDir)
	require.NoError(t, err, "seed corpus missing; run go test ./tasks/linkage -run TestFuzzSeedCorpus -update")
	require.NotEmpty(t, entries)
	for _, e := range entries {
		t.Run(e.Name(), func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(seedDir, e.Name()))
			require.NoError(t, err)
			assert.Less(t, len(b), maxSeedSize, "seed file too large")
			assert.True(t, strings.HasPrefix(string(b), "go test fuzz v1\n[]byte("), "not in go test fuzz v1 format")
		})
	}
}

func writeSeeds(t *testing.T) {
	t.Helper()
	seeds := syntheticSeeds()
	heads := map[string]int{
		"static_linux_amd64": 4 << 10,
		"cgo_musl":           4 << 10, // PT_INTERP sits just below 4 KiB
		"pie_linux_amd64":    4 << 10,
		"static_linux_arm64": 4 << 10,
		"windows_amd64.exe":  4 << 10,
		"darwin_arm64":       4 << 10,
	}
	for name, n := range heads {
		b, err := os.ReadFile(sampleBinary(t, name))
		require.NoError(t, err)
		seeds["head_"+strings.TrimSuffix(name, ".exe")] = b[:min(n, len(b))]
	}
	require.NoError(t, os.RemoveAll(seedDir))
	require.NoError(t, os.MkdirAll(seedDir, 0o755))
	for name, b := range seeds {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		require.Less(t, len(data), maxSeedSize, name)
		require.NoError(t, os.WriteFile(filepath.Join(seedDir, name), []byte(data), 0o644))
	}
}
