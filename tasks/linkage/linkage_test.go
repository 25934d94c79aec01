package linkage

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func inspectBytes(t *testing.T, name string, data []byte) (Report, error) {
	t.Helper()
	return InspectReader(bytes.NewReader(data), int64(len(data)), name)
}

func TestInspectReaderSynthetic(t *testing.T) {
	tests := []struct {
		name        string
		data        []byte
		wantFormat  string
		wantOS      string
		wantArch    string
		wantLinkage Linkage
		wantLibc    Libc
		wantInterp  string
		wantNeeded  []string
		wantPIE     bool
		scratchOK   bool
		alpineOK    bool
	}{
		{
			name:       "glibc dynamic",
			data:       buildELF(elfSpec{interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libpthread.so.0", "libc.so.6"}}),
			wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: Glibc,
			wantInterp: "/lib64/ld-linux-x86-64.so.2", wantNeeded: []string{"libpthread.so.0", "libc.so.6"},
		},
		{
			name:       "musl dynamic (Alpine's libc.musl name)",
			data:       buildELF(elfSpec{machine: elf.EM_AARCH64, interp: "/lib/ld-musl-aarch64.so.1", needed: []string{"libc.musl-aarch64.so.1"}}),
			wantFormat: FormatELF, wantOS: "linux", wantArch: "arm64",
			wantLinkage: Dynamic, wantLibc: Musl,
			wantInterp: "/lib/ld-musl-aarch64.so.1", wantNeeded: []string{"libc.musl-aarch64.so.1"},
			alpineOK: true,
		},
		{
			name:       "glibc ppc64le loader ld64.so.2 without needed",
			data:       buildELF(elfSpec{machine: elf.EM_PPC64, typ: elf.ET_DYN, interp: "/lib64/ld64.so.2", dynamic: true}),
			wantFormat: FormatELF, wantOS: "linux", wantArch: "ppc64le",
			wantLinkage: Dynamic, wantLibc: Glibc, wantInterp: "/lib64/ld64.so.2", wantPIE: true,
		},
		{
			name:       "static executable",
			data:       buildELF(elfSpec{machine: elf.EM_RISCV}),
			wantFormat: FormatELF, wantOS: "linux", wantArch: "riscv64",
			wantLinkage: Static, wantLibc: None, scratchOK: true, alpineOK: true,
		},
		{
			name:       "static-pie: ET_DYN, no interpreter, no needed",
			data:       buildELF(elfSpec{typ: elf.ET_DYN, flags1: uint64(elf.DF_1_PIE)}),
			wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Static, wantLibc: None, wantPIE: true, scratchOK: true, alpineOK: true,
		},
		{
			name:       "section headers stripped: needed read from PT_DYNAMIC",
			data:       buildELF(elfSpec{noShdrs: true, interp: "/lib/ld-musl-x86_64.so.1", needed: []string{"libc.so"}}),
			wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: Musl,
			wantInterp: "/lib/ld-musl-x86_64.so.1", wantNeeded: []string{"libc.so"}, alpineOK: true,
		},
		{
			name:       "section headers stripped: needed without interpreter is still dynamic",
			data:       buildELF(elfSpec{noShdrs: true, typ: elf.ET_DYN, needed: []string{"libc.so.6"}}),
			wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: Glibc, wantNeeded: []string{"libc.so.6"},
		},
		{
			name:       "freebsd by OSABI is not judged",
			data:       buildELF(elfSpec{osabi: elf.ELFOSABI_FREEBSD, interp: "/libexec/ld-elf.so.1", needed: []string{"libc.so.7"}}),
			wantFormat: FormatELF, wantOS: "freebsd", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: System,
			wantInterp: "/libexec/ld-elf.so.1", wantNeeded: []string{"libc.so.7"}, scratchOK: true, alpineOK: true,
		},
		{
			name:       "netbsd by note section",
			data:       buildELF(elfSpec{noteName: ".note.netbsd.ident", interp: "/usr/libexec/ld.elf_so", needed: []string{"libc.so.12"}}),
			wantFormat: FormatELF, wantOS: "netbsd", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: System,
			wantInterp: "/usr/libexec/ld.elf_so", wantNeeded: []string{"libc.so.12"}, scratchOK: true, alpineOK: true,
		},
		{
			name:       "android by interpreter",
			data:       buildELF(elfSpec{machine: elf.EM_AARCH64, typ: elf.ET_DYN, interp: "/system/bin/linker64", needed: []string{"libc.so"}}),
			wantFormat: FormatELF, wantOS: "android", wantArch: "arm64",
			wantLinkage: Dynamic, wantLibc: System, wantPIE: true,
			wantInterp: "/system/bin/linker64", wantNeeded: []string{"libc.so"}, scratchOK: true, alpineOK: true,
		},
		{
			name:       "unknown dynamic loader on linux",
			data:       buildELF(elfSpec{interp: "/opt/weird/loader.so"}),
			wantFormat: FormatELF, wantOS: "linux", wantArch: "amd64",
			wantLinkage: Dynamic, wantLibc: UnknownLibc, wantInterp: "/opt/weird/loader.so",
		},
		{
			name:       "mach-o darwin/arm64",
			data:       buildMachO(machoSpec{dylinker: "/usr/lib/dyld", dylibs: []string{"/usr/lib/libSystem.B.dylib"}, platform: 1, pie: true}),
			wantFormat: FormatMachO, wantOS: "darwin", wantArch: "arm64",
			wantLinkage: Dynamic, wantLibc: System, wantPIE: true,
			wantInterp: "/usr/lib/dyld", wantNeeded: []string{"/usr/lib/libSystem.B.dylib"}, scratchOK: true, alpineOK: true,
		},
		{
			name:       "mach-o ios by build version",
			data:       buildMachO(machoSpec{dylibs: []string{"/usr/lib/libSystem.B.dylib"}, platform: 2}),
			wantFormat: FormatMachO, wantOS: "ios", wantArch: "arm64",
			wantLinkage: Dynamic, wantLibc: System,
			wantNeeded: []string{"/usr/lib/libSystem.B.dylib"}, scratchOK: true, alpineOK: true,
		},
		{
			name: "universal mach-o lists both architectures",
			data: buildFat(
				buildMachO(machoSpec{cpu: macho.CpuAmd64, dylibs: []string{"/usr/lib/libSystem.B.dylib"}, platform: 1, pie: true}),
				buildMachO(machoSpec{cpu: macho.CpuArm64, dylibs: []string{"/usr/lib/libSystem.B.dylib", "/usr/lib/libresolv.9.dylib"}, platform: 1, pie: true}),
			),
			wantFormat: FormatMachO, wantOS: "darwin", wantArch: "amd64,arm64",
			wantLinkage: Dynamic, wantLibc: System, wantPIE: true,
			wantNeeded: []string{"/usr/lib/libSystem.B.dylib", "/usr/lib/libresolv.9.dylib"}, scratchOK: true, alpineOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := inspectBytes(t, "bin/app", tt.data)
			require.NoError(t, err)
			assert.Equal(t, "bin/app", r.Path)
			assert.Equal(t, tt.wantFormat, r.Format)
			assert.Equal(t, tt.wantOS, r.OS)
			assert.Equal(t, tt.wantArch, r.Arch)
			assert.Equal(t, tt.wantLinkage, r.Linkage)
			assert.Equal(t, tt.wantLibc, r.Libc)
			assert.Equal(t, tt.wantInterp, r.Interpreter)
			assert.Equal(t, tt.wantNeeded, r.Needed)
			assert.Equal(t, tt.wantPIE, r.PIE)
			assert.Empty(t, r.GoVersion, "hand-made fixtures carry no Go build info")
			assertVerdict(t, tt.scratchOK, CheckScratch(r), TargetScratch)
			assertVerdict(t, tt.alpineOK, CheckAlpine(r), TargetAlpine)
		})
	}
}

func assertVerdict(t *testing.T, wantOK bool, err error, target string) {
	t.Helper()
	if wantOK {
		assert.NoError(t, err, target)
		return
	}
	var v *Violation
	if assert.ErrorAs(t, err, &v, target) {
		assert.Equal(t, target, v.Target)
		assert.Contains(t, err.Error(), v.Path)
	}
}

func TestInspectReaderBadInput(t *testing.T) {
	glibc := buildELF(elfSpec{interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libc.so.6"}})
	stripped := buildELF(elfSpec{noShdrs: true, needed: []string{"libc.so.6"}})
	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{name: "text file", data: []byte("#!/bin/sh\necho hello\n"), wantErr: ErrUnknownFormat},
		{name: "empty file", data: nil, wantErr: ErrUnknownFormat},
		{name: "three bytes", data: []byte("\x7fEL"), wantErr: ErrUnknownFormat},
		{name: "ELF magic only", data: []byte("\x7fELF"), wantErr: ErrMalformed},
		{name: "ELF header only", data: glibc[:64], wantErr: ErrMalformed},
		{name: "ELF cut inside the section headers", data: glibc[:len(glibc)-10], wantErr: ErrMalformed},
		{name: "ELF cut inside the interpreter", data: glibc[:64+56*3+5], wantErr: ErrMalformed},
		{name: "stripped ELF cut inside the dynamic segment", data: stripped[:len(stripped)-40], wantErr: ErrMalformed},
		{name: "relocatable object", data: buildELF(elfSpec{typ: elf.ET_REL}), wantErr: ErrNotExecutable},
		{name: "MZ without PE", data: []byte("MZ this is not a PE file at all"), wantErr: ErrMalformed},
		{name: "Mach-O header only", data: buildMachO(machoSpec{dylibs: []string{"/usr/lib/libSystem.B.dylib"}})[:20], wantErr: ErrMalformed},
		{name: "Java class file (0xcafebabe)", data: []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34\x00\x10"), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := inspectBytes(t, "dist/app_linux_amd64", tt.data)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), "dist/app_linux_amd64")
			assert.Equal(t, Unknown, r.Linkage, "an unreadable file is never static")
			assert.Equal(t, UnknownLibc, r.Libc)
			assert.Equal(t, "dist/app_linux_amd64", r.Path)
			assertVerdict(t, false, CheckScratch(r), TargetScratch)
		})
	}
}

func TestInspectFileErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "README.txt")
	require.NoError(t, os.WriteFile(text, []byte("just text\n"), 0o644))
	tests := []struct {
		name    string
		path    string
		wantIs  error
		wantMsg string
	}{
		{name: "missing file", path: filepath.Join(dir, "nope"), wantIs: os.ErrNotExist, wantMsg: "was the binary built?"},
		{name: "directory", path: dir, wantIs: ErrUnknownFormat, wantMsg: "not a regular file"},
		{name: "text file", path: text, wantIs: ErrUnknownFormat, wantMsg: `starts with "just"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Inspect(tt.path)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.wantIs)
			assert.Contains(t, err.Error(), tt.path)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.Equal(t, Unknown, r.Linkage)
			assert.Equal(t, UnknownLibc, r.Libc)
		})
	}
}

func TestElfArch(t *testing.T) {
	tests := []struct {
		machine elf.Machine
		class   elf.Class
		data    elf.Data
		want    string
	}{
		{elf.EM_X86_64, elf.ELFCLASS64, elf.ELFDATA2LSB, "amd64"},
		{elf.EM_386, elf.ELFCLASS32, elf.ELFDATA2LSB, "386"},
		{elf.EM_AARCH64, elf.ELFCLASS64, elf.ELFDATA2LSB, "arm64"},
		{elf.EM_ARM, elf.ELFCLASS32, elf.ELFDATA2LSB, "arm"},
		{elf.EM_RISCV, elf.ELFCLASS64, elf.ELFDATA2LSB, "riscv64"},
		{elf.EM_PPC64, elf.ELFCLASS64, elf.ELFDATA2LSB, "ppc64le"},
		{elf.EM_PPC64, elf.ELFCLASS64, elf.ELFDATA2MSB, "ppc64"},
		{elf.EM_S390, elf.ELFCLASS64, elf.ELFDATA2MSB, "s390x"},
		{elf.EM_MIPS, elf.ELFCLASS32, elf.ELFDATA2MSB, "mips"},
		{elf.EM_MIPS, elf.ELFCLASS32, elf.ELFDATA2LSB, "mipsle"},
		{elf.EM_MIPS, elf.ELFCLASS64, elf.ELFDATA2MSB, "mips64"},
		{elf.EM_MIPS, elf.ELFCLASS64, elf.ELFDATA2LSB, "mips64le"},
		{elf.EM_LOONGARCH, elf.ELFCLASS64, elf.ELFDATA2LSB, "loong64"},
		{elf.EM_IA_64, elf.ELFCLASS64, elf.ELFDATA2LSB, ""},
	}
	for _, tt := range tests {
		t.Run(tt.machine.String()+"/"+tt.want, func(t *testing.T) {
			f := &elf.File{FileHeader: elf.FileHeader{Machine: tt.machine, Class: tt.class, Data: tt.data}}
			assert.Equal(t, tt.want, elfArch(f))
		})
	}
}

func TestInspectUnknownMachineNamesIt(t *testing.T) {
	r, err := inspectBytes(t, "app", buildELF(elfSpec{machine: elf.EM_IA_64}))
	require.NoError(t, err)
	assert.Equal(t, "ia_64", r.Arch)
	assert.Contains(t, r.Notes, "machine EM_IA_64 has no Go port")
}

func TestErrorsAreDistinct(t *testing.T) {
	assert.False(t, errors.Is(ErrUnknownFormat, ErrMalformed))
	assert.False(t, errors.Is(ErrMalformed, ErrNotExecutable))
}
