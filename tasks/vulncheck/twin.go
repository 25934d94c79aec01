package vulncheck

import (
	"debug/elf"
	"debug/gosym"
	"debug/macho"
	"errors"
	"fmt"
	"os"
	"slices"
)

// KeepSymbolsFlag is appended to a build's -ldflags to make the binary
// Scan reads: the linker's -s drops the symbol table, and without it
// govulncheck cannot tell which vulnerable symbols a binary holds (it then
// counts every vulnerable symbol of every module as present, golang/go#57764).
// The linker takes the last value of a flag, so the build is the shipped
// one's with only the symbol table kept: same compile, same code.
const KeepSymbolsFlag = "-s=false"

// ErrNoFuncTable is returned by SameCode for a binary whose function table
// it cannot read (a Windows binary, whose stripped table has no section of
// its own): the comparison is not made.
var ErrNoFuncTable = errors.New("no function table to compare")

// SameCode checks that the binary at twin, built with KeepSymbolsFlag,
// holds exactly the functions of the shipped binary at the same addresses
// and of the same sizes, read from both function tables (which -s keeps):
// only then does what Scan finds in twin hold for shipped. It returns an
// error naming both and the first function that differs when they differ,
// and ErrNoFuncTable when a table cannot be read.
func SameCode(shipped, twin string) error {
	a, err := funcTable(shipped)
	if err != nil {
		return err
	}
	b, err := funcTable(twin)
	if err != nil {
		return err
	}
	if slices.Equal(a, b) {
		return nil
	}
	diff := fmt.Sprintf("%d and %d functions", len(a), len(b))
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			diff = fmt.Sprintf("%s at %#x (%d bytes) against %s at %#x (%d bytes)", a[i].name, a[i].entry, a[i].end-a[i].entry, b[i].name, b[i].entry, b[i].end-b[i].entry)
			break
		}
	}
	return fmt.Errorf("%s and its symbol twin %s hold different functions (%s): rebuild both with the same toolchain and flags", shipped, twin, diff)
}

// fn is one function of a binary's function table: its name and the
// addresses its code starts and ends at.
type fn struct {
	name       string
	entry, end uint64
}

// funcTable is the function table of an ELF or Mach-O Go binary, in
// address order.
func funcTable(path string) ([]fn, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var data []byte
	var text uint64
	if e, err := elf.NewFile(f); err == nil {
		s := e.Section(".gopclntab")
		if s == nil {
			s = e.Section(".data.rel.ro.gopclntab")
		}
		if t := e.Section(".text"); t != nil {
			text = t.Addr
		}
		if s != nil {
			data, err = s.Data()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
	} else if m, err := macho.NewFile(f); err == nil {
		if s := m.Section("__gopclntab"); s != nil {
			if data, err = s.Data(); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		if t := m.Section("__text"); t != nil {
			text = t.Addr
		}
	}
	if data == nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNoFuncTable)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text))
	if err != nil {
		return nil, fmt.Errorf("%s: read the function table: %w", path, err)
	}
	funcs := make([]fn, 0, len(tab.Funcs))
	for _, f := range tab.Funcs {
		funcs = append(funcs, fn{name: f.Name, entry: f.Entry, end: f.End})
	}
	return funcs, nil
}
