package linkage

import (
	"debug/pe"
	"fmt"
	"io"
	"strings"
)

func inspectPE(r io.ReaderAt, name string) (Report, error) {
	rep := Report{Path: name, Format: FormatPE}
	f, err := pe.NewFile(r)
	if err != nil {
		return rep, malformed(name, "PE", err)
	}
	rep.OS = "windows"
	rep.Arch = peArch(f.Machine)
	// debug/pe's ImportedLibraries always returns nil; the DLLs are the
	// suffixes of the imported symbols ("GetProcAddress:kernel32.dll").
	syms, err := f.ImportedSymbols()
	if err != nil {
		return rep, malformed(name, "PE import table", err)
	}
	seen := map[string]bool{}
	for _, s := range syms {
		i := strings.LastIndexByte(s, ':')
		if i < 0 {
			continue
		}
		dll := s[i+1:]
		if key := strings.ToLower(dll); dll != "" && !seen[key] {
			seen[key] = true
			rep.Needed = append(rep.Needed, dll)
		}
	}
	var dllChars uint16
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		dllChars = oh.DllCharacteristics
	case *pe.OptionalHeader64:
		dllChars = oh.DllCharacteristics
	}
	isDLL := f.Characteristics&pe.IMAGE_FILE_DLL != 0
	rep.PIE = !isDLL && dllChars&pe.IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE != 0

	applyBuildInfo(r, &rep)
	if goos := rep.Settings["GOOS"]; goos != "" {
		rep.OS = goos
	}
	if rep.Arch == "" {
		rep.Arch = rep.Settings["GOARCH"]
	}
	if rep.Arch == "" {
		rep.Arch = fmt.Sprintf("machine-%#x", f.Machine)
		rep.Notes = append(rep.Notes, fmt.Sprintf("PE machine %#x has no Go port", f.Machine))
	}
	if len(rep.Needed) == 0 {
		rep.Linkage, rep.Libc = Static, None
		rep.Notes = append(rep.Notes, "PE file imports no DLLs")
		return rep, nil
	}
	// Every Windows program reaches the kernel through system DLLs
	// (kernel32.dll at least); that is how the platform works, not a defect.
	rep.Linkage, rep.Libc = Dynamic, System
	return rep, nil
}

func peArch(m uint16) string {
	switch m {
	case pe.IMAGE_FILE_MACHINE_AMD64:
		return "amd64"
	case pe.IMAGE_FILE_MACHINE_I386:
		return "386"
	case pe.IMAGE_FILE_MACHINE_ARM64:
		return "arm64"
	case pe.IMAGE_FILE_MACHINE_ARMNT, pe.IMAGE_FILE_MACHINE_ARM, pe.IMAGE_FILE_MACHINE_THUMB:
		return "arm"
	case pe.IMAGE_FILE_MACHINE_RISCV64:
		return "riscv64"
	case pe.IMAGE_FILE_MACHINE_LOONGARCH64:
		return "loong64"
	}
	return ""
}
