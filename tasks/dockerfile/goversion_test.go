package dockerfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseGoVersion(t *testing.T) {
	tests := []struct {
		name, in, want, original string
		wantErr                  bool
	}{
		{name: "major.minor means .0", in: "1.25", want: "1.25.0", original: "1.25"},
		{name: "patch release", in: "1.25.3", want: "1.25.3", original: "1.25.3"},
		{name: "go prefix as GOVERSION prints it", in: "go1.26.8", want: "1.26.8", original: "1.26.8"},
		{name: "release candidate sorts before release", in: "1.26rc1", want: "1.26.0-rc.1"},
		{name: "beta", in: "go1.21beta2", want: "1.21.0-beta.2"},
		{name: "surrounding space", in: " 1.24.1\n", want: "1.24.1"},
		{name: "empty", in: "", wantErr: true},
		{name: "major only", in: "1", wantErr: true},
		{name: "v prefix is not Go's spelling", in: "v1.25.0", wantErr: true},
		{name: "four parts", in: "1.25.3.4", wantErr: true},
		{name: "word", in: "latest", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseGoVersion(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "not a Go version")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.String())
			if tt.original != "" {
				assert.Equal(t, tt.original, v.Original())
			}
		})
	}
}

func TestGoModVersion(t *testing.T) {
	tests := []struct {
		name, content, want, errContains string
	}{
		{name: "full version", content: "module example.com/app\n\ngo 1.25.0\n\nrequire example.com/x v1.0.0\n", want: "1.25.0"},
		{name: "major.minor", content: "module example.com/app\ngo 1.25\n", want: "1.25.0"},
		{name: "comment after directive", content: "module m\ngo 1.24.3 // keep in sync with CI\ntoolchain go1.26.8\n", want: "1.24.3"},
		{name: "toolchain line is not the go directive", content: "module m\ntoolchain go1.26.8\n", errContains: "has no go directive"},
		{name: "no go directive", content: "module m\n", errContains: "has no go directive"},
		{name: "directive without version", content: "module m\ngo\n", errContains: "malformed go directive"},
		{name: "bad version", content: "module m\ngo one.two\n", errContains: `"one.two" is not a Go version`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "go.mod")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))
			v, err := GoModVersion(path)
			if tt.errContains != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errContains)
				assert.Contains(t, err.Error(), path, "the error names the file")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.String())
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := GoModVersion(filepath.Join(t.TempDir(), "go.mod"))
		require.Error(t, err)
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
}

func TestBuilderVersionFromTag(t *testing.T) {
	tests := []struct {
		name, ref, want string
		unknown         bool
	}{
		{name: "alpine variant", ref: "golang:1.25-alpine", want: "1.25.0"},
		{name: "patch tag", ref: "golang:1.25.3", want: "1.25.3"},
		{name: "full reference with distro", ref: "docker.io/library/golang:1.24.9-bookworm", want: "1.24.9"},
		{name: "release candidate", ref: "golang:1.26rc1-alpine3.22", want: "1.26.0-rc.1"},
		{name: "mirror with port", ref: "mirror.example:5000/golang:1.23", want: "1.23.0"},
		{name: "test fixture name", ref: "magepack-test/golang:1.26", want: "1.26.0"},
		{name: "no version in tag", ref: "golang:alpine", unknown: true},
		{name: "implicit latest", ref: "golang", unknown: true},
		{name: "digest", ref: "golang@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", unknown: true},
		{name: "not a golang image", ref: "alpine:3.20", unknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := BuilderVersionFromTag(tt.ref)
			if tt.unknown {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrUnknownBuilderVersion)
				assert.Contains(t, err.Error(), tt.ref)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v.String())
		})
	}
	t.Run("malformed reference", func(t *testing.T) {
		_, err := BuilderVersionFromTag("Golang:1.25")
		require.Error(t, err)
		assert.NotErrorIs(t, err, ErrUnknownBuilderVersion)
		assert.Contains(t, err.Error(), `"Golang:1.25"`)
	})
}

func TestCheckBuilder(t *testing.T) {
	tests := []struct {
		name, builder, required, image string
		wantErr                        string
	}{
		{name: "too old", builder: "1.18", required: "1.25.0", image: "golang:1.18-alpine",
			wantErr: "builder image golang:1.18-alpine has Go 1.18, but go.mod asks for go 1.25.0: use golang:1.25-alpine or newer"},
		{name: "newer minor", builder: "1.26.8", required: "1.25.0", image: "golang:1.26"},
		{name: "major.minor tag meets .0", builder: "1.25", required: "1.25.0", image: "golang:1.25-alpine"},
		{name: "exact", builder: "1.25.0", required: "1.25", image: "golang:1.25.0"},
		{name: "older patch", builder: "1.25.1", required: "1.25.2", image: "golang:1.25.1",
			wantErr: "has Go 1.25.1, but go.mod asks for go 1.25.2: use golang:1.25-alpine or newer"},
		{name: "previous minor's last patch", builder: "1.24.9", required: "1.25", image: "golang:1.24",
			wantErr: "has Go 1.24.9, but go.mod asks for go 1.25"},
		{name: "next release candidate is newer", builder: "1.26rc1", required: "1.25.0", image: "golang:1.26rc1"},
		{name: "release candidate of the required release is older", builder: "1.25rc1", required: "1.25.0", image: "golang:1.25rc1",
			wantErr: "but go.mod asks for go 1.25.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := ParseGoVersion(tt.builder)
			require.NoError(t, err)
			r, err := ParseGoVersion(tt.required)
			require.NoError(t, err)
			err = CheckBuilder(b, r, tt.image)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			var tooOld *BuilderTooOldError
			require.ErrorAs(t, err, &tooOld)
			assert.Equal(t, tt.image, tooOld.Image)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
	t.Run("nil version", func(t *testing.T) {
		err := CheckBuilder(nil, semver.MustParse("1.25.0"), "golang:x")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "golang:x")
	})
}

func TestDefaultBuilder(t *testing.T) {
	for in, want := range map[string]string{"1.25.0": "golang:1.25-alpine", "1.26.8": "golang:1.26-alpine", "1.24": "golang:1.24-alpine"} {
		v, err := ParseGoVersion(in)
		require.NoError(t, err)
		assert.Equal(t, want, DefaultBuilder(v), in)
	}
}

func FuzzParseGoVersion(f *testing.F) {
	for _, s := range []string{"1.25", "1.25.3", "go1.26.8", "1.26rc1", "1.21beta2", "", "v1.2.3", "1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseGoVersion(s)
		if err != nil {
			return
		}
		// Whatever parses names a release that DefaultBuilder and
		// CheckBuilder can work with.
		assert.Regexp(t, `^golang:\d+\.\d+-alpine$`, DefaultBuilder(v))
		assert.NoError(t, CheckBuilder(v, v, "golang:fuzz"), "a version satisfies itself")
	})
}
