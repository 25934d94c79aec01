package linkage

import (
	"debug/macho"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Mach-O load commands debug/macho has no constant for.
const (
	lcLoadDylinker  = 0xe
	lcBuildVersion  = 0x32
	lcVersionMinIOS = 0x25
)

func isMachO(m [4]byte) bool {
	switch binary.BigEndian.Uint32(m[:]) {
	case macho.Magic32, macho.Magic64:
		return true
	}
	switch binary.LittleEndian.Uint32(m[:]) {
	case macho.Magic32, macho.Magic64:
		return true
	}
	return false
}

func isFat(m [4]byte) bool {
	v := binary.BigEndian.Uint32(m[:])
	return v == macho.MagicFat || v == macho.MagicFat+1 // 0xcafebabf: fat with 64-bit offsets
}

func inspectMachO(r io.ReaderAt, name string) (Report, error) {
	f, err := macho.NewFile(r)
	if err != nil {
		return Report{Path: name, Format: FormatMachO}, malformed(name, "Mach-O", err)
	}
	rep, err := machoReport(f, name)
	if err != nil {
		return rep, err
	}
	applyBuildInfo(r, &rep)
	finishMachO(&rep)
	return rep, nil
}

// inspectFat reports a universal binary: every architecture is listed in
// Arch, and linkage facts are merged (darwin slices all link libSystem).
func inspectFat(r io.ReaderAt, name string) (Report, error) {
	rep := Report{Path: name, Format: FormatMachO}
	ff, err := macho.NewFatFile(r)
	if err != nil {
		// 0xcafebabe also starts Java class files.
		return rep, fmt.Errorf("inspect %s: %w: universal Mach-O header unreadable (%v); if this is a Java class file or other non-binary, point the check at the Go binary", name, ErrMalformed, err)
	}
	var arches []string
	seen := map[string]bool{}
	for i, a := range ff.Arches {
		sub, err := machoReport(a.File, name)
		if err != nil {
			return rep, fmt.Errorf("%w (architecture %d of %d)", err, i+1, len(ff.Arches))
		}
		arches = append(arches, sub.Arch)
		if i == 0 {
			rep = sub
		}
		if sub.Linkage == Dynamic {
			rep.Linkage, rep.Libc = Dynamic, System
		}
		rep.PIE = rep.PIE && sub.PIE
		for _, n := range sub.Needed {
			if !seen[n] {
				seen[n] = true
				if i > 0 {
					rep.Needed = append(rep.Needed, n)
				}
			}
		}
	}
	rep.Arch = strings.Join(arches, ",")
	rep.Notes = append(rep.Notes, fmt.Sprintf("universal Mach-O with %d architectures: %s", len(arches), strings.Join(arches, ", ")))
	applyBuildInfo(r, &rep)
	finishMachO(&rep)
	return rep, nil
}

func machoReport(f *macho.File, name string) (Report, error) {
	rep := Report{Path: name, Format: FormatMachO, OS: "darwin", Arch: machoArch(f.Cpu)}
	if rep.Arch == "" {
		rep.Arch = strings.ToLower(strings.TrimPrefix(f.Cpu.String(), "Cpu"))
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return rep, malformed(name, "Mach-O imports", err)
	}
	rep.Needed = libs
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) < 12 {
			continue
		}
		switch f.ByteOrder.Uint32(raw[0:4]) {
		case lcLoadDylinker:
			off := f.ByteOrder.Uint32(raw[8:12])
			if off < uint32(len(raw)) {
				rep.Interpreter, _, _ = strings.Cut(string(raw[off:]), "\x00")
			}
		case lcBuildVersion:
			if os := machoPlatformOS(f.ByteOrder.Uint32(raw[8:12])); os != "" {
				rep.OS = os
			}
		case lcVersionMinIOS:
			rep.OS = "ios"
		}
	}
	rep.PIE = f.Flags&macho.FlagPIE != 0
	if rep.Interpreter != "" || len(rep.Needed) > 0 {
		// Darwin programs always link libSystem dynamically: that is the
		// platform's only supported system-call interface.
		rep.Linkage, rep.Libc = Dynamic, System
	} else {
		rep.Linkage, rep.Libc = Static, None
	}
	return rep, nil
}

// finishMachO lets Go's own GOOS setting (darwin or ios) win over the header guess.
func finishMachO(rep *Report) {
	if goos := rep.Settings["GOOS"]; goos != "" {
		rep.OS = goos
	}
}

// machoPlatformOS maps an LC_BUILD_VERSION platform to a GOOS name.
func machoPlatformOS(p uint32) string {
	switch p {
	case 1: // PLATFORM_MACOS
		return "darwin"
	case 2, 6, 7: // PLATFORM_IOS, PLATFORM_MACCATALYST, PLATFORM_IOSSIMULATOR
		return "ios"
	}
	return ""
}

func machoArch(c macho.Cpu) string {
	switch c {
	case macho.CpuAmd64:
		return "amd64"
	case macho.CpuArm64:
		return "arm64"
	case macho.Cpu386:
		return "386"
	case macho.CpuArm:
		return "arm"
	case macho.CpuPpc64:
		return "ppc64"
	case macho.CpuPpc:
		return "ppc"
	}
	return ""
}
