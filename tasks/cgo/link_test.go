package cgo

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// linkOutput is what go build printed for a static glibc link of a
// go-sqlite3 service for linux/arm64 (aarch64-linux-gnu-gcc 12, tags
// netgo,osusergo), followed by the lines a build without those tags adds.
const linkOutput = `# example.com/notes
/usr/lib/gcc-cross/aarch64-linux-gnu/12/../../../../aarch64-linux-gnu/bin/ld: /tmp/go-link-1612205545/000011.o: in function ` + "`" + `unixDlOpen':
/_/github.com/mattn/go-sqlite3@v1.14.53/sqlite3-binding.c:47701: warning: Using 'dlopen' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking
/usr/bin/ld: /tmp/go-link-1/000004.o: in function ` + "`" + `_cgo_26061493d47f_C2func_getaddrinfo':
/tmp/go-build/cgo-gcc-prolog:60:(.text+0x3c): warning: Using 'getaddrinfo' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking
/tmp/go-build/cgo-gcc-prolog:61:(.text+0x3c): warning: Using 'getaddrinfo' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking
/tmp/go-build/cgo-gcc-prolog:70:(.text+0x50): warning: Using 'getpwnam_r' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking
`

func TestStaticGlibcCalls(t *testing.T) {
	assert.Equal(t, []string{"dlopen", "getaddrinfo", "getpwnam_r"}, StaticGlibcCalls(linkOutput))
	assert.Nil(t, StaticGlibcCalls(""))
	assert.Nil(t, StaticGlibcCalls("# example.com/notes\n/usr/bin/ld: warning: something else\n"))
}

func TestExplainStaticGlibc(t *testing.T) {
	assert.Equal(t,
		"glibc is linked in statically, but the binary calls dlopen, getaddrinfo, getpwnam_r (loading plug-ins and extensions; host name lookups; user and group lookups), which need glibc's shared libraries at run time; on scratch there are none, so those calls fail there",
		ExplainStaticGlibc(StaticGlibcCalls(linkOutput)))
	assert.Contains(t, ExplainStaticGlibc([]string{"getgrgid_r", "getpwuid_r"}), "(user and group lookups)", "one family named once")
	assert.Contains(t, ExplainStaticGlibc([]string{"mystery"}), "calls mystery (calls into glibc's shared libraries), which needs")
}

func TestSection(t *testing.T) {
	out := "# example.com/app/cmd/api\n" +
		"/usr/bin/ld: warning: Using 'dlopen' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking\n" +
		"# example.com/app/cmd/worker\n" +
		"/usr/bin/ld: warning: Using 'getpwnam_r' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking\n"
	assert.Equal(t, []string{"dlopen"}, StaticGlibcCalls(Section(out, "example.com/app/cmd/api")))
	assert.Equal(t, []string{"getpwnam_r"}, StaticGlibcCalls(Section(out, "example.com/app/cmd/worker")))
	assert.Empty(t, Section(out, "example.com/app/cmd/api/v2"), "another package")
	assert.Empty(t, Section(out, "example.com/app"))
	assert.Equal(t, []string{"dlopen", "getaddrinfo", "getpwnam_r"}, StaticGlibcCalls(Section(linkOutput, "example.com/notes")))
}
