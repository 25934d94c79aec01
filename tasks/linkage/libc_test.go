package linkage

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStaticLibc(t *testing.T) {
	pad := func(n int) []byte { return bytes.Repeat([]byte{0}, n) }
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		data []byte
		libc Libc
		nss  bool
	}{
		{"empty", nil, UnknownLibc, false},
		{"neither", pad(3 * scanChunk), UnknownLibc, false},
		{"musl", join(pad(10), muslMarker, pad(10)), Musl, false},
		{"glibc", join(glibcMarker, pad(10)), Glibc, false},
		{"glibc with NSS", join(nssMarker, pad(scanChunk), glibcMarker), Glibc, true},
		{"NSS without glibc is not glibc", join(nssMarker, muslMarker), Musl, false},
		{"glibc wins over a musl-looking string", join(muslMarker, glibcMarker), Glibc, false},
		{"a marker across two reads", join(pad(scanChunk-5), glibcMarker, pad(scanChunk-5), nssMarker), Glibc, true},
		{"a marker at the very end", join(pad(2*scanChunk+3), muslMarker), Musl, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			libc, nss, err := staticLibc(bytes.NewReader(tt.data), int64(len(tt.data)))
			assert.NoError(t, err)
			assert.Equal(t, tt.libc, libc)
			assert.Equal(t, tt.nss, nss)
		})
	}
}

type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }

func TestStaticLibcReadError(t *testing.T) {
	libc, _, err := staticLibc(failingReader{}, 100)
	assert.ErrorContains(t, err, "disk on fire")
	assert.Equal(t, UnknownLibc, libc)
}

func TestSummaryStaticCgo(t *testing.T) {
	r := Report{Format: FormatELF, OS: "linux", Linkage: Static, Libc: None, CGO: "1"}
	r.LinkedLibc = Musl
	assert.Equal(t, "static, musl linked in", r.Summary())
	r.LinkedLibc, r.NSS = Glibc, true
	assert.Equal(t, "static, glibc linked in, with NSS (lookups need glibc's shared libraries)", r.Summary())
	r.LinkedLibc, r.NSS = UnknownLibc, false
	assert.Equal(t, "static, no libc", r.Summary())
}
