package linkage

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// maxDynamic caps what is read of a PT_DYNAMIC segment or its string table
// when section headers are missing, so a corrupt size cannot exhaust memory.
const maxDynamic = 1 << 20

func inspectELF(r io.ReaderAt, size int64, name string) (Report, error) {
	rep := Report{Path: name, Format: FormatELF}
	f, err := elf.NewFile(r)
	if err != nil {
		return rep, malformed(name, "ELF", err)
	}
	rep.Arch = elfArch(f)
	switch f.Type {
	case elf.ET_EXEC, elf.ET_DYN:
	default:
		return rep, fmt.Errorf("inspect %s: %w: ELF type %v; point the check at a linked program, not an object or core file", name, ErrNotExecutable, f.Type)
	}

	var hasDynamic bool
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			interp, err := readInterp(p)
			if err != nil {
				return rep, malformed(name, "ELF PT_INTERP", err)
			}
			rep.Interpreter = interp
		case elf.PT_DYNAMIC:
			hasDynamic = true
		}
	}

	var flags1 uint64
	if f.SectionByType(elf.SHT_DYNAMIC) != nil {
		rep.Needed, err = f.ImportedLibraries()
		if err != nil {
			return rep, malformed(name, "ELF dynamic section", err)
		}
		if v, err := f.DynValue(elf.DT_FLAGS_1); err == nil && len(v) > 0 {
			flags1 = v[0]
		}
	} else if hasDynamic {
		// Section headers stripped (sstrip, some packers): read the dynamic
		// segment itself, since that is what the loader reads.
		rep.Needed, flags1, err = dynamicFromProgs(f, r, size)
		if err != nil {
			return rep, malformed(name, "ELF PT_DYNAMIC", err)
		}
	}

	applyBuildInfo(r, &rep)
	rep.OS = elfOS(f, rep)
	if rep.Arch == "" {
		rep.Arch = rep.Settings["GOARCH"]
	}
	if rep.Arch == "" {
		rep.Arch = strings.ToLower(strings.TrimPrefix(f.Machine.String(), "EM_"))
		rep.Notes = append(rep.Notes, fmt.Sprintf("machine %v has no Go port", f.Machine))
	}
	rep.PIE = f.Type == elf.ET_DYN && (rep.Interpreter != "" || flags1&uint64(elf.DF_1_PIE) != 0 || rep.BuildMode == "pie")

	if rep.Interpreter != "" || len(rep.Needed) > 0 {
		rep.Linkage = Dynamic
		rep.Libc = elfLibc(rep)
		return rep, nil
	}
	rep.Linkage = Static
	rep.Libc = None
	switch {
	case f.Type == elf.ET_DYN && rep.PIE:
		rep.Notes = append(rep.Notes, "static-pie: position-independent but no interpreter and no shared libraries, so it runs on scratch")
	case f.Type == elf.ET_DYN:
		rep.Notes = append(rep.Notes, "ET_DYN without interpreter or needed libraries (a self-contained shared object or static-pie)")
	}
	if rep.CGO == "1" || rep.GoVersion == "" {
		rep.LinkedLibc, rep.NSS, err = staticLibc(r, size)
		if err != nil {
			return rep, malformed(name, "ELF contents", err)
		}
	}
	switch {
	case rep.CGO == "1" && rep.NSS:
		rep.Notes = append(rep.Notes, "cgo binary linked statically with glibc, whose NSS lookups (getaddrinfo, getpwnam, …) load glibc's shared libraries at run time: they fail on scratch")
	case rep.CGO == "1" && rep.LinkedLibc != UnknownLibc:
		rep.Notes = append(rep.Notes, "cgo binary linked statically: "+string(rep.LinkedLibc)+" is compiled into the binary")
	case rep.CGO == "1":
		rep.Notes = append(rep.Notes, "cgo binary linked statically: the C library is compiled into the binary")
	}
	return rep, nil
}

// readInterp returns the NUL-terminated path in a PT_INTERP segment.
func readInterp(p *elf.Prog) (string, error) {
	n := p.Filesz
	if n > 4096 {
		return "", fmt.Errorf("interpreter path is %d bytes long", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(p.Open(), buf); err != nil {
		return "", err
	}
	s, _, _ := strings.Cut(string(buf), "\x00")
	if s == "" {
		return "", errors.New("empty interpreter path")
	}
	return s, nil
}

// dynamicFromProgs reads DT_NEEDED and DT_FLAGS_1 from the PT_DYNAMIC segment,
// locating the string table through the PT_LOAD segments.
func dynamicFromProgs(f *elf.File, r io.ReaderAt, size int64) (needed []string, flags1 uint64, err error) {
	var dyn *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_DYNAMIC {
			dyn = p
			break
		}
	}
	if dyn.Filesz > maxDynamic || int64(dyn.Filesz) > size {
		return nil, 0, fmt.Errorf("dynamic segment size %d is larger than the file", dyn.Filesz)
	}
	d := make([]byte, dyn.Filesz)
	if _, err := io.ReadFull(dyn.Open(), d); err != nil {
		return nil, 0, err
	}
	entSize := 8
	if f.Class == elf.ELFCLASS64 {
		entSize = 16
	}
	var strtab, strsz uint64
	var offsets []uint64
	for ; len(d) >= entSize; d = d[entSize:] {
		var tag, val uint64
		if entSize == 16 {
			tag, val = f.ByteOrder.Uint64(d[0:8]), f.ByteOrder.Uint64(d[8:16])
		} else {
			tag, val = uint64(f.ByteOrder.Uint32(d[0:4])), uint64(f.ByteOrder.Uint32(d[4:8]))
		}
		switch elf.DynTag(tag) {
		case elf.DT_NULL:
			d = d[:entSize] // stop after this entry
		case elf.DT_NEEDED:
			offsets = append(offsets, val)
		case elf.DT_STRTAB:
			strtab = val
		case elf.DT_STRSZ:
			strsz = val
		case elf.DT_FLAGS_1:
			flags1 = val
		}
	}
	if len(offsets) == 0 {
		return nil, flags1, nil
	}
	off, ok := vaddrToOffset(f, strtab)
	if !ok || strsz == 0 || strsz > maxDynamic || off+int64(strsz) > size || off < 0 {
		return nil, 0, fmt.Errorf("dynamic string table at %#x (%d bytes) is outside the file", strtab, strsz)
	}
	str := make([]byte, strsz)
	if _, err := io.ReadFull(io.NewSectionReader(r, off, int64(strsz)), str); err != nil {
		return nil, 0, err
	}
	for _, o := range offsets {
		if o >= strsz {
			return nil, 0, fmt.Errorf("DT_NEEDED offset %d is outside the string table", o)
		}
		s, _, _ := strings.Cut(string(str[o:]), "\x00")
		needed = append(needed, s)
	}
	return needed, flags1, nil
}

// vaddrToOffset maps a virtual address to a file offset via the PT_LOAD segments.
func vaddrToOffset(f *elf.File, vaddr uint64) (int64, bool) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && vaddr >= p.Vaddr && vaddr-p.Vaddr < p.Filesz {
			return int64(p.Off + (vaddr - p.Vaddr)), true
		}
	}
	return 0, false
}

// elfArch maps the ELF machine, class and byte order to a GOARCH name; "" if none fits.
func elfArch(f *elf.File) string {
	is64 := f.Class == elf.ELFCLASS64
	le := f.Data == elf.ELFDATA2LSB
	switch f.Machine {
	case elf.EM_X86_64:
		if !is64 {
			return "amd64p32"
		}
		return "amd64"
	case elf.EM_386:
		return "386"
	case elf.EM_AARCH64:
		if !le {
			return "arm64be"
		}
		return "arm64"
	case elf.EM_ARM:
		return "arm"
	case elf.EM_RISCV:
		if is64 {
			return "riscv64"
		}
		return "riscv"
	case elf.EM_PPC64:
		if le {
			return "ppc64le"
		}
		return "ppc64"
	case elf.EM_PPC:
		return "ppc"
	case elf.EM_S390:
		if is64 {
			return "s390x"
		}
		return "s390"
	case elf.EM_MIPS, elf.EM_MIPS_RS3_LE:
		switch {
		case is64 && le:
			return "mips64le"
		case is64:
			return "mips64"
		case le:
			return "mipsle"
		default:
			return "mips"
		}
	case elf.EM_LOONGARCH:
		return "loong64"
	case elf.EM_SPARCV9:
		return "sparc64"
	}
	return ""
}

// elfOS prefers Go's own GOOS setting, then the OSABI byte, the OS-specific
// note sections and the interpreter path; everything else is Linux.
func elfOS(f *elf.File, rep Report) string {
	if goos := rep.Settings["GOOS"]; goos != "" {
		return goos
	}
	switch f.OSABI {
	case elf.ELFOSABI_FREEBSD:
		return "freebsd"
	case elf.ELFOSABI_NETBSD:
		return "netbsd"
	case elf.ELFOSABI_OPENBSD:
		return "openbsd"
	case elf.ELFOSABI_SOLARIS:
		return "solaris"
	case elf.ELFOSABI_AIX:
		return "aix"
	}
	for _, s := range f.Sections {
		switch s.Name {
		case ".note.android.ident":
			return "android"
		case ".note.netbsd.ident":
			return "netbsd"
		case ".note.openbsd.ident":
			return "openbsd"
		}
	}
	switch {
	case strings.HasPrefix(rep.Interpreter, "/system/bin/linker"):
		return "android"
	case rep.Interpreter == "/libexec/ld-elf.so.1":
		return "freebsd"
	case rep.Interpreter == "/usr/libexec/ld.elf_so":
		return "netbsd"
	case rep.Interpreter == "/usr/libexec/ld.so":
		return "openbsd"
	case strings.HasPrefix(rep.Interpreter, "/usr/lib/") && path.Base(rep.Interpreter) == "ld.so.1":
		return "solaris"
	}
	return "linux"
}

// elfLibc classifies the C library of a dynamic ELF binary. A NEEDED libc.so.6
// means glibc whatever the interpreter (its symbols are glibc's); otherwise the
// musl loader or libc names mean musl, and a glibc loader means glibc.
func elfLibc(rep Report) Libc {
	if rep.OS != "linux" {
		return System
	}
	var musl, glibc bool
	for _, n := range rep.Needed {
		switch {
		case n == "libc.so.6" || n == "libc.so.6.1":
			return Glibc
		case strings.HasPrefix(n, "libc.musl-") || n == "libc.so":
			musl = true
		}
	}
	base := path.Base(rep.Interpreter)
	switch {
	case strings.HasPrefix(base, "ld-musl-"):
		musl = true
	case strings.HasPrefix(base, "ld-linux"), strings.HasPrefix(base, "ld64.so."), base == "ld.so.1":
		glibc = true
	}
	switch {
	case musl:
		return Musl
	case glibc:
		return Glibc
	}
	return UnknownLibc
}
