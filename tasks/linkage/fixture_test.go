package linkage

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"encoding/binary"
)

// elfSpec describes a tiny hand-made ELF64 little-endian file: enough headers
// for debug/elf, none of the code. It lets tests cover the shapes a real
// toolchain here cannot produce cheaply (stripped section headers, other
// OSABIs, relocatable objects) and gives the fuzzer small, valid seeds.
type elfSpec struct {
	typ      elf.Type    // default ET_EXEC
	machine  elf.Machine // default EM_X86_64
	osabi    elf.OSABI
	interp   string
	needed   []string
	dynamic  bool   // emit PT_DYNAMIC even without needed libraries
	flags1   uint64 // DT_FLAGS_1 when non-zero
	noShdrs  bool   // drop section headers, as sstrip does
	noteName string // extra SHT_NOTE section name, e.g. ".note.netbsd.ident"
}

const fixtureBase = 0x400000

func buildELF(s elfSpec) []byte {
	if s.typ == 0 {
		s.typ = elf.ET_EXEC
	}
	if s.machine == 0 {
		s.machine = elf.EM_X86_64
	}
	le := binary.LittleEndian
	hasDyn := s.dynamic || len(s.needed) > 0 || s.flags1 != 0

	nph := 1
	if s.interp != "" {
		nph++
	}
	if hasDyn {
		nph++
	}
	off := 64 + 56*nph
	interpOff := off
	off += len(s.interp) + 1

	dynstr := []byte{0}
	var neededOff []uint64
	for _, n := range s.needed {
		neededOff = append(neededOff, uint64(len(dynstr)))
		dynstr = append(append(dynstr, n...), 0)
	}
	dynstrOff := off
	off += len(dynstr)
	off = (off + 7) &^ 7
	var dyn bytes.Buffer
	put := func(tag elf.DynTag, v uint64) {
		_ = binary.Write(&dyn, le, uint64(tag))
		_ = binary.Write(&dyn, le, v)
	}
	for _, o := range neededOff {
		put(elf.DT_NEEDED, o)
	}
	put(elf.DT_STRTAB, fixtureBase+uint64(dynstrOff))
	put(elf.DT_STRSZ, uint64(len(dynstr)))
	if s.flags1 != 0 {
		put(elf.DT_FLAGS_1, s.flags1)
	}
	put(elf.DT_NULL, 0)
	dynOff := off
	if hasDyn {
		off += dyn.Len()
	}
	shstr := []byte("\x00.dynstr\x00.dynamic\x00.shstrtab\x00" + s.noteName + "\x00")
	shstrOff := off
	off += len(shstr)
	off = (off + 7) &^ 7
	shOff := off

	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, le, v) }
	b.Write([]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT), byte(s.osabi)})
	b.Write(make([]byte, 8))
	w(uint16(s.typ))
	w(uint16(s.machine))
	w(uint32(elf.EV_CURRENT))
	w(uint64(fixtureBase + 0x1000)) // entry
	w(uint64(64))                   // phoff
	if s.noShdrs {
		w(uint64(0))
	} else {
		w(uint64(shOff))
	}
	w(uint32(0))  // flags
	w(uint16(64)) // ehsize
	w(uint16(56)) // phentsize
	w(uint16(nph))
	w(uint16(64)) // shentsize
	nsh := 4
	if s.noteName != "" {
		nsh++
	}
	if s.noShdrs {
		w(uint16(0))
		w(uint16(0))
	} else {
		w(uint16(nsh))
		w(uint16(3)) // shstrndx
	}
	prog := func(typ elf.ProgType, flags elf.ProgFlag, o, sz, align int) {
		w(uint32(typ))
		w(uint32(flags))
		w(uint64(o))
		w(uint64(fixtureBase + o))
		w(uint64(fixtureBase + o))
		w(uint64(sz))
		w(uint64(sz))
		w(uint64(align))
	}
	total := shOff
	if !s.noShdrs {
		total += 64 * nsh
	}
	prog(elf.PT_LOAD, elf.PF_R|elf.PF_X, 0, total, 0x1000)
	if s.interp != "" {
		prog(elf.PT_INTERP, elf.PF_R, interpOff, len(s.interp)+1, 1)
	}
	if hasDyn {
		prog(elf.PT_DYNAMIC, elf.PF_R|elf.PF_W, dynOff, dyn.Len(), 8)
	}
	b.WriteString(s.interp)
	b.WriteByte(0)
	b.Write(dynstr)
	pad := func(to int) { b.Write(make([]byte, to-b.Len())) }
	pad(dynOff)
	if hasDyn {
		b.Write(dyn.Bytes())
	}
	b.Write(shstr)
	pad(shOff)
	if s.noShdrs {
		return b.Bytes()
	}
	sect := func(name uint32, typ elf.SectionType, o, sz, link, entsize int) {
		w(name)
		w(uint32(typ))
		w(uint64(elf.SHF_ALLOC))
		w(uint64(fixtureBase + o))
		w(uint64(o))
		w(uint64(sz))
		w(uint32(link))
		w(uint32(0))
		w(uint64(1))
		w(uint64(entsize))
	}
	b.Write(make([]byte, 64)) // SHT_NULL
	sect(1, elf.SHT_STRTAB, dynstrOff, len(dynstr), 0, 0)
	if hasDyn {
		sect(9, elf.SHT_DYNAMIC, dynOff, dyn.Len(), 1, 16)
	} else {
		sect(9, elf.SHT_PROGBITS, dynOff, 0, 0, 0)
	}
	sect(18, elf.SHT_STRTAB, shstrOff, len(shstr), 0, 0)
	if s.noteName != "" {
		sect(28, elf.SHT_NOTE, shstrOff, 0, 0, 0)
	}
	return b.Bytes()
}

// machoSpec describes a tiny hand-made 64-bit little-endian Mach-O executable.
type machoSpec struct {
	cpu      macho.Cpu // default CpuArm64
	dylinker string
	dylibs   []string
	platform uint32 // LC_BUILD_VERSION platform when non-zero
	pie      bool
}

func buildMachO(s machoSpec) []byte {
	if s.cpu == 0 {
		s.cpu = macho.CpuArm64
	}
	le := binary.LittleEndian
	var cmds bytes.Buffer
	ncmds := 0
	w := func(v any) { _ = binary.Write(&cmds, le, v) }
	padded := func(str string, fixed int) (int, []byte) {
		n := fixed + len(str) + 1
		n = (n + 7) &^ 7
		out := make([]byte, n-fixed)
		copy(out, str)
		return n, out
	}
	if s.dylinker != "" {
		n, name := padded(s.dylinker, 12)
		w(uint32(lcLoadDylinker))
		w(uint32(n))
		w(uint32(12))
		cmds.Write(name)
		ncmds++
	}
	for _, d := range s.dylibs {
		n, name := padded(d, 24)
		w(uint32(macho.LoadCmdDylib))
		w(uint32(n))
		w(uint32(24))      // name offset
		w(uint32(2))       // timestamp
		w(uint32(0x10000)) // current version
		w(uint32(0x10000)) // compatibility version
		cmds.Write(name)
		ncmds++
	}
	if s.platform != 0 {
		w(uint32(lcBuildVersion))
		w(uint32(24))
		w(s.platform)
		w(uint32(0xb0000)) // minos 11.0
		w(uint32(0xb0000)) // sdk
		w(uint32(0))       // ntools
		ncmds++
	}
	var flags uint32 = macho.FlagNoUndefs | macho.FlagDyldLink | macho.FlagTwoLevel
	if s.pie {
		flags |= macho.FlagPIE
	}
	var b bytes.Buffer
	hw := func(v any) { _ = binary.Write(&b, le, v) }
	hw(uint32(macho.Magic64))
	hw(uint32(s.cpu))
	hw(uint32(0)) // subtype
	hw(uint32(macho.TypeExec))
	hw(uint32(ncmds))
	hw(uint32(cmds.Len()))
	hw(flags)
	hw(uint32(0)) // reserved
	b.Write(cmds.Bytes())
	return b.Bytes()
}

// buildFat wraps Mach-O files into a universal (fat) file.
func buildFat(files ...[]byte) []byte {
	be := binary.BigEndian
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, be, v) }
	w(uint32(macho.MagicFat))
	w(uint32(len(files)))
	const align = 8 // 256 bytes keeps seeds small
	off := 0x100
	offs := make([]int, len(files))
	for i, f := range files {
		offs[i] = off
		cpu := binary.LittleEndian.Uint32(f[4:8])
		w(cpu)
		w(uint32(0))
		w(uint32(off))
		w(uint32(len(f)))
		w(uint32(align))
		off += (len(f) + 0xff) &^ 0xff
	}
	for i, f := range files {
		b.Write(make([]byte, offs[i]-b.Len()))
		b.Write(f)
	}
	return b.Bytes()
}
