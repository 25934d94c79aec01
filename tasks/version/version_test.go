package version

import (
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "1.2.3", "1.2.3"},
		{"leading v", "v1.2.3", "1.2.3"},
		{"spaces", " v1.2.3\n", "1.2.3"},
		{"prerelease", "1.2.3-rc.1", "1.2.3-rc.1"},
		{"build metadata", "1.2.3+g0123abc.dirty", "1.2.3+g0123abc.dirty"},
		{"dev version", "v0.0.0-dev.12+gdeadbee", "0.0.0-dev.12+gdeadbee"},
		{"zeros", "0.0.0", "0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.String())
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"two parts", "1.2", `version "1.2" is not semver (want X.Y.Z[-prerelease][+build], e.g. 1.2.0)`},
		{"one part with v", "v2", `version "v2" is not semver (want X.Y.Z[-prerelease][+build], e.g. 2.0.0)`},
		{"empty", "", `version "" is not semver (want X.Y.Z[-prerelease][+build], e.g. 1.2.3)`},
		{"leading zero", "01.2.3", `version "01.2.3" is not semver`},
		{"two vs", "vv1.2.3", `version "vv1.2.3" is not semver`},
		{"capital V", "V1.2.3", `version "V1.2.3" is not semver`},
		{"empty prerelease", "1.2.3-", `version "1.2.3-" is not semver`},
		{"empty build", "1.2.3+", `version "1.2.3+" is not semver`},
		{"bad build chars", "1.2.3+a_b", `version "1.2.3+a_b" is not semver`},
		{"words", "latest", `version "latest" is not semver (want X.Y.Z[-prerelease][+build], e.g. 1.2.3)`},
		{"too long", "1.2.3-" + strings.Repeat("a", 300), `is not semver`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Parse(tt.in)
			require.Error(t, err)
			assert.Nil(t, v)
			assert.ErrorIs(t, err, ErrNotSemver)
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.in, pe.Input)
			assert.NotNil(t, pe.Unwrap(), "the semver library's reason is kept")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestTags(t *testing.T) {
	long := "1.2.3-" + strings.Repeat("x", 200)
	tests := []struct {
		name    string
		version string // "" means nil
		variant string
		want    []string
	}{
		{"stable", "1.2.3", "scratch", []string{"1.2.3-scratch", "1.2-scratch", "1-scratch", "scratch"}},
		{"stable zero", "0.0.0", "alpine", []string{"0.0.0-alpine", "0.0-alpine", "0-alpine", "alpine"}},
		{"dev build", "1.2.3-dev.2+gabc1234", "alpine", []string{"1.2.3-dev.2-gabc1234-alpine", "alpine"}},
		{"dirty tag", "1.2.3+dirty", "scratch", []string{"1.2.3-dirty-scratch", "scratch"}},
		{"prerelease", "2.0.0-rc.1", "scratch", []string{"2.0.0-rc.1-scratch", "scratch"}},
		{"no variant", "1.2.3", "", []string{"1.2.3", "1.2", "1", "latest"}},
		{"no variant dev", "0.0.0-dev.3+g1234567", "", []string{"0.0.0-dev.3-g1234567", "latest"}},
		{"nil version", "", "scratch", []string{"scratch"}},
		{"variant repaired", "1.0.0", "my variant/x", []string{"1.0.0-my-variant-x", "1.0-my-variant-x", "1-my-variant-x", "my-variant-x"}},
		{"variant leading dot", "1.0.0-a", ".hidden", []string{"1.0.0-a-_hidden", "_hidden"}},
		{"long version keeps variant", long, "scratch", []string{long[:128-len("-scratch")] + "-scratch", "scratch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v *semver.Version
			if tt.version != "" {
				var err error
				v, err = semver.StrictNewVersion(tt.version)
				require.NoError(t, err)
			}
			got := Tags(v, tt.variant)
			assert.Equal(t, tt.want, got)
			for _, tag := range got {
				assert.NoError(t, ValidTag(tag))
			}
		})
	}
}

func TestValidTag(t *testing.T) {
	tests := []struct {
		name string
		tag  string
		ok   bool
	}{
		{"simple", "scratch", true},
		{"version", "1.2.3-dev.2-gabc1234-alpine", true},
		{"underscore first", "_x", true},
		{"max length", strings.Repeat("a", 128), true},
		{"too long", strings.Repeat("a", 129), false},
		{"empty", "", false},
		{"plus", "1.2.3+dirty", false},
		{"leading dash", "-x", false},
		{"leading dot", ".x", false},
		{"slash", "a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidTag(tt.tag)
			if tt.ok {
				assert.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), `image tag "`+tt.tag+`" is invalid`)
			}
		})
	}
}

func TestInfoString(t *testing.T) {
	assert.Equal(t, "", Info{}.String())
	v, err := Parse("v1.2.3+dirty")
	require.NoError(t, err)
	assert.Equal(t, "1.2.3+dirty", Info{Version: v}.String())
}
