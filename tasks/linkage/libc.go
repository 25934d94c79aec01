package linkage

import (
	"bytes"
	"io"
)

// Strings that only one C library compiles into a static binary. glibc
// (2.26 and later) reads GLIBC_TUNABLES at start, static or not; musl's
// strerror table ends with "No error information", which glibc words
// "Unknown error", and every cgo binary links strerror (runtime/cgo
// reports thread creation failures with it). glibc's NSS code loads its
// modules by the name pattern "libnss_", so a static glibc binary that
// holds it carries lookups (getaddrinfo, getpwnam, …) that need glibc's
// shared libraries at run time.
var (
	glibcMarker = []byte("GLIBC_TUNABLES")
	muslMarker  = []byte("No error information")
	nssMarker   = []byte("libnss_")
)

// scanChunk is how much of a binary staticLibc reads at a time.
const scanChunk = 1 << 20

// staticLibc reads a static binary's contents for the C library linked
// into it: Glibc or Musl, UnknownLibc when neither marker is found, and
// whether a glibc binary carries glibc's NSS code.
func staticLibc(r io.ReaderAt, size int64) (libc Libc, nss bool, err error) {
	markers := [][]byte{glibcMarker, muslMarker, nssMarker}
	found := make([]bool, len(markers))
	overlap := 0
	for _, m := range markers {
		overlap = max(overlap, len(m)-1)
	}
	buf := make([]byte, scanChunk+overlap)
	keep := 0 // bytes carried over from the last chunk, so a marker across chunks is found
	for off := int64(0); off < size; {
		n, err := r.ReadAt(buf[keep:keep+scanChunk], off)
		if err != nil && err != io.EOF {
			return UnknownLibc, false, err
		}
		if n == 0 {
			break
		}
		data := buf[:keep+n]
		for i, m := range markers {
			if !found[i] && bytes.Contains(data, m) {
				found[i] = true
			}
		}
		off += int64(n)
		keep = min(overlap, len(data))
		copy(buf, data[len(data)-keep:])
	}
	switch {
	case found[0]:
		return Glibc, found[2], nil
	case found[1]:
		return Musl, false, nil
	}
	return UnknownLibc, false, nil
}
