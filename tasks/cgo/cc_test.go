package cgo

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/gobuild"
)

var (
	linuxAMD64   = gobuild.Target{OS: "linux", Arch: "amd64"}
	linuxARM64   = gobuild.Target{OS: "linux", Arch: "arm64"}
	linuxRISCV   = gobuild.Target{OS: "linux", Arch: "riscv64"}
	linuxMIPS    = gobuild.Target{OS: "linux", Arch: "mips"}
	darwinARM64  = gobuild.Target{OS: "darwin", Arch: "arm64"}
	darwinAMD64  = gobuild.Target{OS: "darwin", Arch: "amd64"}
	windowsAMD64 = gobuild.Target{OS: "windows", Arch: "amd64"}
	freebsdAMD64 = gobuild.Target{OS: "freebsd", Arch: "amd64"}
)

func TestParseCC(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
	}{
		{"", Spec{}},
		{"musl-gcc", Spec{All: "musl-gcc"}},
		{" /opt/cross/bin/aarch64-linux-musl-gcc ", Spec{All: "/opt/cross/bin/aarch64-linux-musl-gcc"}},
		{"zig cc -target=x86_64-linux-musl", Spec{All: "zig cc -target=x86_64-linux-musl"}},
		{"linux/amd64=musl-gcc,linux/arm64=aarch64-linux-gnu-gcc", Spec{ByTarget: map[gobuild.Target]string{linuxAMD64: "musl-gcc", linuxARM64: "aarch64-linux-gnu-gcc"}}},
		{"linux/arm64 = zig cc -target aarch64-linux-musl, gcc", Spec{All: "gcc", ByTarget: map[gobuild.Target]string{linuxARM64: "zig cc -target aarch64-linux-musl"}}},
	}
	for _, tt := range tests {
		got, err := ParseCC(tt.in)
		require.NoError(t, err, "ParseCC(%q)", tt.in)
		assert.Equal(t, tt.want, got, "ParseCC(%q)", tt.in)
	}
	for in, want := range map[string]string{
		"linux/amd64=musl-gcc,,linux/arm64=x":  `entry ""`,
		"linux/amd64=musl-gcc,gcc,clang":       `entry "clang"`,
		"linux/amd64=":                         "names no compiler",
		"linux/amd64=gcc,linux/amd64=musl-gcc": "linux/amd64 is given twice",
		"linux/amd64=musl-gcc,linux/arm64=":    "linux/arm64=<compiler>",
	} {
		_, err := ParseCC(in)
		if assert.Error(t, err, "ParseCC(%q)", in) {
			assert.Contains(t, err.Error(), want, "ParseCC(%q)", in)
		}
	}
	s, _ := ParseCC("linux/arm64=aarch64-linux-gnu-gcc,musl-gcc")
	assert.Equal(t, "aarch64-linux-gnu-gcc", s.For(linuxARM64))
	assert.Equal(t, "musl-gcc", s.For(linuxAMD64))
}

// lookIn is exec.LookPath over a fixed set of commands.
func lookIn(cmds ...string) func(string) (string, error) {
	return func(name string) (string, error) {
		for _, c := range cmds {
			if c == name {
				return "/usr/bin/" + name, nil
			}
		}
		return "", exec.ErrNotFound
	}
}

func TestChoose(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		targets []gobuild.Target
		static  bool
		path    []string
		want    map[gobuild.Target]string
	}{
		{
			name:    "static: musl-gcc for the host, the GNU cross compiler for arm64",
			targets: []gobuild.Target{linuxAMD64, linuxARM64},
			static:  true,
			path:    []string{"gcc", "musl-gcc", "aarch64-linux-gnu-gcc"},
			want:    map[gobuild.Target]string{linuxAMD64: "musl-gcc", linuxARM64: "aarch64-linux-gnu-gcc"},
		},
		{
			name:    "static: gcc for the host without musl-gcc; a musl cross compiler first",
			targets: []gobuild.Target{linuxAMD64, linuxARM64},
			static:  true,
			path:    []string{"gcc", "aarch64-linux-musl-gcc", "aarch64-linux-gnu-gcc"},
			want:    map[gobuild.Target]string{linuxAMD64: "gcc", linuxARM64: "aarch64-linux-musl-gcc"},
		},
		{
			name:    "dynamic: the host keeps go's choice, others get a cross compiler",
			targets: []gobuild.Target{linuxAMD64, linuxARM64, windowsAMD64},
			path:    []string{"aarch64-linux-gnu-gcc", "x86_64-w64-mingw32-gcc"},
			want:    map[gobuild.Target]string{linuxARM64: "aarch64-linux-gnu-gcc", windowsAMD64: "x86_64-w64-mingw32-gcc"},
		},
		{
			name:    "named compilers win, per platform over the one for all",
			spec:    Spec{All: "zig cc", ByTarget: map[gobuild.Target]string{linuxARM64: "/opt/x/bin/aarch64-linux-musl-gcc"}},
			targets: []gobuild.Target{linuxAMD64, linuxARM64, freebsdAMD64},
			static:  true,
			path:    []string{"zig", "/opt/x/bin/aarch64-linux-musl-gcc", "musl-gcc"},
			want:    map[gobuild.Target]string{linuxAMD64: "zig cc", linuxARM64: "/opt/x/bin/aarch64-linux-musl-gcc", freebsdAMD64: "zig cc"},
		},
		{
			name:    "dynamic darwin without a compiler keeps go's choice (the build says what is missing)",
			targets: []gobuild.Target{darwinARM64},
			want:    map[gobuild.Target]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Choose(tc.spec, tc.targets, linuxAMD64, tc.static, lookIn(tc.path...))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestChooseErrors(t *testing.T) {
	t.Run("static darwin and unknown platforms are refused, every missing compiler named with its package", func(t *testing.T) {
		_, err := Choose(Spec{ByTarget: map[gobuild.Target]string{windowsAMD64: "x86_64-w64-mingw32-gcc"}},
			[]gobuild.Target{darwinARM64, linuxARM64, linuxAMD64, linuxMIPS, darwinAMD64, linuxRISCV, windowsAMD64}, linuxAMD64, true, lookIn())
		require.Error(t, err)
		var unreachable []*UnreachableError
		var missing []*CompilerError
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ue *UnreachableError
			var ce *CompilerError
			switch {
			case errors.As(e, &ue):
				unreachable = append(unreachable, ue)
			case errors.As(e, &ce):
				missing = append(missing, ce)
			}
		}
		require.Len(t, unreachable, 2)
		assert.Equal(t, []gobuild.Target{darwinARM64, darwinAMD64}, unreachable[0].Targets)
		assert.Contains(t, unreachable[0].Error(), "darwin/arm64, darwin/amd64: Apple's platforms always link their system library (libSystem) dynamically")
		assert.Equal(t, []gobuild.Target{linuxMIPS}, unreachable[1].Targets)
		assert.Contains(t, unreachable[1].Error(), "no C cross compiler is known")
		require.Len(t, missing, 4)
		msgs := []string{
			"no C compiler for linux/amd64 on PATH (looked for musl-gcc, gcc): install Debian's musl-tools and gcc (apt-get install musl-tools gcc)",
			"no C compiler for linux/arm64 on PATH (looked for aarch64-linux-musl-gcc, aarch64-linux-gnu-gcc): install Debian's gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)",
			"no C compiler for linux/riscv64 on PATH (looked for riscv64-linux-musl-gcc, riscv64-linux-gnu-gcc): install Debian's gcc-riscv64-linux-gnu and libc6-dev-riscv64-cross",
			`C compiler "x86_64-w64-mingw32-gcc" for windows/amd64 is not on PATH: install Debian's gcc-mingw-w64-x86-64`,
		}
		for i, m := range msgs {
			assert.Contains(t, missing[i].Error(), m)
		}
		assert.Less(t, strings.Index(err.Error(), "linux/amd64"), strings.Index(err.Error(), "darwin/arm64"), "missing compilers first, by platform")
	})
	t.Run("a named compiler that is missing names its package when known", func(t *testing.T) {
		_, err := Choose(Spec{All: "musl-gcc"}, []gobuild.Target{linuxAMD64}, linuxAMD64, false, lookIn("gcc"))
		var ce *CompilerError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, `C compiler "musl-gcc" for linux/amd64 is not on PATH: install Debian's musl-tools and gcc (apt-get install musl-tools gcc), or name another compiler for it`, ce.Error())
		_, err = Choose(Spec{All: "my-cc"}, []gobuild.Target{linuxAMD64}, linuxAMD64, false, lookIn("gcc"))
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, `C compiler "my-cc" for linux/amd64 is not on PATH: install a C cross compiler for it and name it`, ce.Error())
	})
}

func TestChooseRefusesAHostCompilerForAnotherPlatform(t *testing.T) {
	_, err := Choose(Spec{All: "musl-gcc"}, []gobuild.Target{linuxAMD64, linuxARM64}, linuxAMD64, true, lookIn("musl-gcc"))
	var ce *CompilerError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, linuxARM64, ce.Target)
	assert.Equal(t, `C compiler "musl-gcc" builds for the build machine (linux/amd64), not for linux/arm64: name linux/arm64's own, e.g. aarch64-linux-gnu-gcc (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)`, ce.Error())

	got, err := Choose(Spec{All: "musl-gcc", ByTarget: map[gobuild.Target]string{linuxARM64: "aarch64-linux-musl-gcc"}}, []gobuild.Target{linuxAMD64, linuxARM64}, linuxAMD64, true, lookIn("musl-gcc", "aarch64-linux-musl-gcc"))
	require.NoError(t, err, "the one for all serves the build machine's platform only")
	assert.Equal(t, map[gobuild.Target]string{linuxAMD64: "musl-gcc", linuxARM64: "aarch64-linux-musl-gcc"}, got)

	linux386, darwinAMD64 := gobuild.Target{OS: "linux", Arch: "386"}, gobuild.Target{OS: "darwin", Arch: "amd64"}
	got, err = Choose(Spec{All: "gcc"}, []gobuild.Target{linux386}, linuxAMD64, false, lookIn("gcc"))
	require.NoError(t, err, "gcc builds 386 on amd64 with the -m32 go passes it (multilib)")
	assert.Equal(t, map[gobuild.Target]string{linux386: "gcc"}, got)
	got, err = Choose(Spec{All: "clang"}, []gobuild.Target{darwinAMD64}, darwinARM64, false, lookIn("clang"))
	require.NoError(t, err, "Apple's clang builds either architecture with the -arch go passes it")
	assert.Equal(t, map[gobuild.Target]string{darwinAMD64: "clang"}, got)
	got, err = Choose(Spec{All: "zig cc -target aarch64-linux-musl"}, []gobuild.Target{linuxARM64}, linuxAMD64, true, lookIn("zig"))
	require.NoError(t, err, "a compiler with arguments may build for another platform")
	assert.Equal(t, map[gobuild.Target]string{linuxARM64: "zig cc -target aarch64-linux-musl"}, got)
}

func TestMuslCompiler(t *testing.T) {
	assert.Equal(t, "musl-gcc", MuslCompiler(linuxAMD64, linuxAMD64))
	assert.Equal(t, "aarch64-linux-musl-gcc", MuslCompiler(linuxARM64, linuxAMD64))
	assert.Equal(t, "x86_64-linux-musl-gcc", MuslCompiler(linuxAMD64, linuxARM64))
	assert.Equal(t, "", MuslCompiler(linuxMIPS, linuxAMD64))
	assert.Equal(t, "", MuslCompiler(windowsAMD64, linuxAMD64))
}
