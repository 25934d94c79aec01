package toolchain

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// errNoModuleLine is ModulePath's error for a go.mod without a module line.
var errNoModuleLine = errors.New("no module line")

// ModulePath returns the module path declared by the go.mod contents data,
// read the way golang.org/x/mod/modfile.ModulePath reads it (and so the go
// command): the first line whose first word is "module" (or, for the block
// form "module (", the first line inside it), with any // comment removed
// and the path unquoted when it is a double-quoted Go string. It does not check the rest of the file, which the go
// command does on every build anyway.
//
// It returns an error when no line declares the module, or when the
// declared path is a malformed quoted string or is not a single word (for
// example "module a b" or an empty block, which go rejects too).
func ModulePath(data []byte) (string, error) {
	inBlock := false
	for len(data) > 0 {
		line := data
		data = nil
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line, data = line[:i], line[i+1:]
		}
		if i := bytes.Index(line, []byte("//")); i >= 0 {
			line = line[:i]
		}
		line = bytes.TrimSpace(line)
		if inBlock {
			if len(line) == 0 {
				continue
			}
			return word(line)
		}
		rest, ok := bytes.CutPrefix(line, []byte("module"))
		if !ok {
			continue
		}
		trimmed := bytes.TrimSpace(rest)
		if len(trimmed) == len(rest) || len(trimmed) == 0 {
			continue // "modulex ..." or a bare "module": not a module line
		}
		if string(trimmed) == "(" {
			inBlock = true // module (\n\tpath\n): go accepts the block form
			continue
		}
		return word(trimmed)
	}
	return "", errNoModuleLine
}

// word reads one module path: a double-quoted Go string is unquoted,
// anything else taken as it is.
func word(w []byte) (string, error) {
	if w[0] == '"' {
		p, err := strconv.Unquote(string(w))
		if err != nil {
			return "", fmt.Errorf("module path %s is not a valid quoted string", w)
		}
		return checkPath(p)
	}
	return checkPath(string(w))
}

// checkPath rejects what no module path can be: empty, several words, or
// punctuation go.mod uses for blocks.
func checkPath(p string) (string, error) {
	if p == "" || p == "(" || p == ")" || strings.ContainsAny(p, "\"`'") {
		return "", fmt.Errorf("module path %q is not a module path", p)
	}
	for _, r := range p {
		if unicode.IsSpace(r) {
			return "", fmt.Errorf("module path %q has a space in it", p)
		}
	}
	return p, nil
}
