package platform

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testGoVersion is the toolchain that wrote testdata/dist-list.json.
const testGoVersion = "go1.26.8"

// loadPorts reads a recorded `go tool dist list -json`, so Parse's tests do
// not change meaning when the toolchain adds or drops a port.
func loadPorts(tb testing.TB) []Port {
	tb.Helper()
	data, err := os.ReadFile("testdata/dist-list.json")
	require.NoError(tb, err)
	var ports []Port
	require.NoError(tb, json.Unmarshal(data, &ports))
	require.NotEmpty(tb, ports)
	return ports
}

func plats(names ...string) []Platform {
	var out []Platform
	for _, n := range names {
		os, arch, _ := strings.Cut(n, "/")
		out = append(out, Platform{OS: os, Arch: arch})
	}
	return out
}

func TestParse(t *testing.T) {
	ports := loadPorts(t)
	tests := []struct {
		name string
		spec string
		want []Platform
	}{
		{"empty means default", "", plats("linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64")},
		{"single", "linux/arm", plats("linux/arm")},
		{"keeps order", "windows/amd64,linux/amd64", plats("windows/amd64", "linux/amd64")},
		{"trims spaces", " linux/amd64 ,\tdarwin/arm64 ", plats("linux/amd64", "darwin/arm64")},
		{"dedupes keeping first", "linux/arm64,linux/amd64,linux/arm64, linux/amd64", plats("linux/arm64", "linux/amd64")},
		{"non first-class port", "openbsd/riscv64", plats("openbsd/riscv64")},
		{"all is first-class sorted", "all", plats("darwin/amd64", "darwin/arm64", "linux/386", "linux/amd64", "linux/arm", "linux/arm64", "windows/386", "windows/amd64")},
		{"all with spaces", "  all ", plats("darwin/amd64", "darwin/arm64", "linux/386", "linux/amd64", "linux/arm", "linux/arm64", "windows/386", "windows/amd64")},
		{"all twice", "all,all", plats("darwin/amd64", "darwin/arm64", "linux/386", "linux/amd64", "linux/arm", "linux/arm64", "windows/386", "windows/amd64")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.spec, ports, testGoVersion)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseErrors(t *testing.T) {
	ports := loadPorts(t)
	tests := []struct {
		name string
		spec string
		is   []error  // every one must match errors.Is
		msgs []string // the joined message must hold each, in order
	}{
		{"dash instead of slash", "linux-amd64", []error{ErrMalformed},
			[]string{`platform "linux-amd64" is malformed: want os/arch, e.g. linux/amd64`}},
		{"example follows intent", "linux_arm64", []error{ErrMalformed},
			[]string{`platform "linux_arm64" is malformed: want os/arch, e.g. linux/arm64`}},
		{"missing arch", "linux/", []error{ErrMalformed},
			[]string{`platform "linux/" is malformed: want os/arch, e.g. linux/amd64`}},
		{"missing os", "/amd64", []error{ErrMalformed},
			[]string{`platform "/amd64" is malformed: want os/arch, e.g. linux/amd64`}},
		{"variant not accepted", "linux/arm/v7", []error{ErrMalformed},
			[]string{`platform "linux/arm/v7" is malformed: want os/arch, e.g. linux/arm`}},
		{"empty entry", "linux/amd64,,darwin/arm64", []error{ErrMalformed},
			[]string{`platform list "linux/amd64,,darwin/arm64" has an empty entry (#2): want os/arch, e.g. linux/amd64`}},
		{"trailing comma", "linux/amd64,", []error{ErrMalformed},
			[]string{`has an empty entry (#2): want os/arch`}},
		{"only spaces", "   ", []error{ErrMalformed},
			[]string{`platform list "   " is empty: want comma-separated os/arch, e.g. linux/amd64,linux/arm64, or all`}},
		{"only commas", " , ", []error{ErrMalformed},
			[]string{`platform list " , " is empty`}},
		{"typo in arch", "linux/amd65", []error{ErrUnknown},
			[]string{`platform "linux/amd65" is not supported by go1.26.8; did you mean linux/amd64?`}},
		{"typo in os", "darwn/arm64", []error{ErrUnknown},
			[]string{`platform "darwn/arm64" is not supported by go1.26.8; did you mean darwin/arm64?`}},
		{"alias from uname", "linux/x86_64", []error{ErrUnknown},
			[]string{`did you mean linux/amd64?`}},
		{"alias os and arch", "macos/aarch64", []error{ErrUnknown},
			[]string{`did you mean darwin/arm64?`}},
		{"wrong case", "Linux/AMD64", []error{ErrUnknown},
			[]string{`did you mean linux/amd64?`}},
		{"nothing close, os known", "linux/sparc", []error{ErrUnknown},
			[]string{`platform "linux/sparc" is not supported by go1.26.8; valid for linux: linux/386, linux/amd64, linux/arm, linux/arm64,`}},
		{"nothing close, os unknown", "beos/ppc", []error{ErrUnknown},
			[]string{`platform "beos/ppc" is not supported by go1.26.8; first-class ports: darwin/amd64, darwin/arm64, linux/386, linux/amd64, linux/arm, linux/arm64, windows/386, windows/amd64; run "go tool dist list" for all`}},
		{"all mixed with names", "all,linux/amd64", []error{ErrAllMixed},
			[]string{`platform list "all,linux/amd64": "all" cannot be combined with platform names; use either all or a list of os/arch`}},
		{"every bad entry reported", "linux-amd64, linux/amd65,darwin/arm64,,windows/arm65", []error{ErrMalformed, ErrUnknown},
			[]string{
				`platform "linux-amd64" is malformed`,
				`platform "linux/amd65" is not supported`,
				`has an empty entry (#4)`,
				`platform "windows/arm65" is not supported by go1.26.8; did you mean windows/arm64?`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.spec, ports, testGoVersion)
			require.Error(t, err)
			assert.Nil(t, got)
			for _, target := range tt.is {
				assert.ErrorIs(t, err, target)
			}
			msg := err.Error()
			for _, want := range tt.msgs {
				i := strings.Index(msg, want)
				if assert.GreaterOrEqual(t, i, 0, "message %q lacks %q", msg, want) {
					msg = msg[i+len(want):]
				}
			}
		})
	}
}

func TestParseUnknownErrorFields(t *testing.T) {
	ports := loadPorts(t)
	tests := []struct {
		name        string
		spec        string
		goVersion   string
		suggestions []string
		validFor    string
	}{
		{"one close", "linux/amd65", testGoVersion, []string{"linux/amd64"}, ""},
		{"ties first-class first", "linux/arm65", testGoVersion, []string{"linux/arm64"}, ""},
		{"os with a different arch, ties", "plan9/arm64", testGoVersion, []string{"plan9/amd64", "plan9/arm"}, ""},
		{"arch with a different os", "ios/386", testGoVersion, nil, "ios"},
		{"no go version", "linux/amd65", "", []string{"linux/amd64"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.spec, ports, tt.goVersion)
			var ue *UnknownError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, tt.spec, ue.Name)
			assert.Equal(t, tt.goVersion, ue.GoVersion)
			assert.Equal(t, tt.suggestions, ue.Suggestions)
			assert.LessOrEqual(t, len(ue.Suggestions), maxSuggestions)
			assert.Equal(t, tt.validFor, ue.ValidFor)
			if tt.validFor != "" {
				assert.Contains(t, ue.Valid, tt.validFor+"/arm64")
			}
			if tt.goVersion == "" {
				assert.Contains(t, ue.Error(), "not supported by this Go toolchain")
			}
		})
	}
}

func TestParseAllNoFirstClass(t *testing.T) {
	_, err := Parse("all", []Port{{GOOS: "plan9", GOARCH: "386"}}, testGoVersion)
	require.ErrorIs(t, err, ErrNoPorts)
	assert.Contains(t, err.Error(), "go1.26.8")
}

func TestParseJoinsEveryError(t *testing.T) {
	_, err := Parse("linux/amd65,darwin/arm65,windows/amd65", loadPorts(t), testGoVersion)
	var joined interface{ Unwrap() []error }
	require.True(t, errors.As(err, &joined), "want errors.Join result, got %T", err)
	var names []string
	for _, e := range joined.Unwrap() {
		var ue *UnknownError
		require.ErrorAs(t, e, &ue)
		names = append(names, ue.Name)
	}
	assert.Equal(t, []string{"linux/amd65", "darwin/arm65", "windows/amd65"}, names)
}

func TestPlatformMethods(t *testing.T) {
	tests := []struct {
		name    string
		p       Platform
		str     string
		exe     string
		variant string
	}{
		{"linux amd64", Platform{OS: "linux", Arch: "amd64"}, "linux/amd64", "", ""},
		{"linux arm64 has no variant", Platform{OS: "linux", Arch: "arm64"}, "linux/arm64", "", ""},
		{"linux arm defaults to v7", Platform{OS: "linux", Arch: "arm"}, "linux/arm", "", "v7"},
		{"explicit variant wins", Platform{OS: "linux", Arch: "arm", Variant: "v6"}, "linux/arm/v6", "", "v6"},
		{"windows exe", Platform{OS: "windows", Arch: "amd64"}, "windows/amd64", ".exe", ""},
		{"darwin", Platform{OS: "darwin", Arch: "arm64"}, "darwin/arm64", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.str, tt.p.String())
			assert.Equal(t, tt.exe, tt.p.Exe())
			assert.Equal(t, tt.variant, tt.p.ImageVariant())
		})
	}
}
