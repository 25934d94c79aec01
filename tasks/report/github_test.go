package report

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseGitHubOutput reads a GITHUB_OUTPUT file the way the Actions runner
// documents it: "name=value" lines, or "name<<DELIMITER", the value's
// lines, and a line holding only DELIMITER.
func parseGitHubOutput(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	lines := strings.Split(data, "\n")
	require.Equal(t, "", lines[len(lines)-1], "the file ends with a newline")
	lines = lines[:len(lines)-1]
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var value []string
			closed := false
			for i++; i < len(lines); i++ {
				if lines[i] == delim {
					closed = true
					break
				}
				value = append(value, lines[i])
			}
			require.True(t, closed, "delimiter %q of %s not found", delim, name)
			out[name] = strings.Join(value, "\n")
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		require.True(t, ok, "line %q", line)
		out[name] = value
	}
	return out
}

func TestGitHubOutput(t *testing.T) {
	tests := []struct {
		name    string
		outputs []Output
		want    string
	}{
		{name: "none", outputs: nil, want: ""},
		{
			name:    "single line",
			outputs: []Output{{Name: "version", Value: "1.2.3"}},
			want:    "version<<magepack_EOF\n1.2.3\nmagepack_EOF\n",
		},
		{
			name:    "several lines and an empty value",
			outputs: []Output{{Name: "refs", Value: "a:1\nb:2"}, {Name: "empty", Value: ""}},
			want:    "refs<<magepack_EOF\na:1\nb:2\nmagepack_EOF\nempty<<magepack_EOF\n\nmagepack_EOF\n",
		},
		{
			name:    "value holding the delimiter",
			outputs: []Output{{Name: "x", Value: "magepack_EOF\nmagepack_EOF_1"}},
			want:    "x<<magepack_EOF_2\nmagepack_EOF\nmagepack_EOF_1\nmagepack_EOF_2\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GitHubOutput(tt.outputs)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			parsed := parseGitHubOutput(t, string(got))
			for _, o := range tt.outputs {
				assert.Equal(t, o.Value, parsed[o.Name], "the runner reads %s back", o.Name)
			}
		})
	}
}

func TestGitHubOutputRoundTrip(t *testing.T) {
	values := []string{"", "\n", "a\n", "\nb", "a<<b", "x=y", "magepack_EOF", "line\nmagepack_EOF\nmore", "tab\there", "ünïcode"}
	var outs []Output
	for i, v := range values {
		outs = append(outs, Output{Name: "v" + string(rune('a'+i)), Value: v})
	}
	data, err := GitHubOutput(outs)
	require.NoError(t, err)
	parsed := parseGitHubOutput(t, string(data))
	for _, o := range outs {
		assert.Equal(t, o.Value, parsed[o.Name], "%s = %q", o.Name, o.Value)
	}
}

func TestGitHubOutputErrors(t *testing.T) {
	tests := []struct {
		name    string
		outputs []Output
		want    string
	}{
		{"empty name", []Output{{Name: ""}}, `name "" is not valid`},
		{"name with space", []Output{{Name: "a b"}}, `name "a b" is not valid`},
		{"name with newline", []Output{{Name: "a\nb"}}, "is not valid"},
		{"name starting with a digit", []Output{{Name: "1a"}}, "is not valid"},
		{"name with heredoc", []Output{{Name: "a<<b"}}, "is not valid"},
		{"twice", []Output{{Name: "a"}, {Name: "a"}}, `output "a" is given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := GitHubOutput(tt.outputs)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

const (
	dScratch = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	dAlpine  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

func TestPublishOutputs(t *testing.T) {
	tests := []struct {
		name    string
		indexes []PublishedIndex
		want    []Output
	}{
		{
			name: "one service, two variants",
			indexes: []PublishedIndex{
				{Variant: "scratch", Digest: dScratch, Refs: []string{"ghcr.io/t/app:1.2.3-scratch", "ghcr.io/t/app:scratch"}},
				{Variant: "alpine", Digest: dAlpine, Refs: []string{"ghcr.io/t/app:1.2.3-alpine", "ghcr.io/t/app:alpine"}},
			},
			want: []Output{
				{"version", "1.2.3"},
				{"digest-alpine", dAlpine},
				{"digest-scratch", dScratch},
				{"digest", `{"alpine":"` + dAlpine + `","scratch":"` + dScratch + `"}`},
				{"refs", "ghcr.io/t/app:1.2.3-scratch\nghcr.io/t/app:scratch\nghcr.io/t/app:1.2.3-alpine\nghcr.io/t/app:alpine"},
			},
		},
		{
			name: "several services",
			indexes: []PublishedIndex{
				{Service: "api", Variant: "scratch", Digest: dScratch, Refs: []string{"ghcr.io/t/api:scratch"}},
				{Service: "web.ui", Variant: "scratch", Digest: dAlpine, Refs: []string{"ghcr.io/t/web.ui:scratch"}},
			},
			want: []Output{
				{"version", "1.2.3"},
				{"digest-api-scratch", dScratch},
				{"digest-web-ui-scratch", dAlpine},
				{"digest", `{"api-scratch":"` + dScratch + `","web-ui-scratch":"` + dAlpine + `"}`},
				{"refs", "ghcr.io/t/api:scratch\nghcr.io/t/web.ui:scratch"},
			},
		},
		{
			name:    "nothing pushed",
			indexes: nil,
			want:    []Output{{"version", "1.2.3"}, {"digest", "{}"}, {"refs", ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PublishOutputs("1.2.3", tt.indexes)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			_, err = GitHubOutput(got)
			assert.NoError(t, err, "every name is one GitHub takes")
		})
	}
}

func TestPublishOutputsErrors(t *testing.T) {
	_, err := PublishOutputs("1", []PublishedIndex{{Variant: "scratch", Digest: dScratch}, {Variant: "scratch", Digest: dAlpine}})
	assert.ErrorContains(t, err, `two indexes are both "scratch"`)
	_, err = PublishOutputs("1", []PublishedIndex{{Service: "a.b", Variant: "x", Digest: dScratch}, {Service: "a/b", Variant: "x", Digest: dAlpine}})
	assert.ErrorContains(t, err, `two indexes are both "a-b-x"`)
	_, err = PublishOutputs("1", []PublishedIndex{{Variant: "scratch"}})
	assert.ErrorContains(t, err, "the scratch index has no digest")
}

// parseSubjectChecksums reads a checksums file the way
// actions/attest-build-provenance documents subject-checksums (and its
// source, actions/attest src/subject.ts, does): per line, the hex digest up
// to the first space, then a one-character flag (' ' or '*'), then the name.
func parseSubjectChecksums(t *testing.T, data string) []Subject {
	t.Helper()
	hexRE := regexp.MustCompile(`^[0-9a-fA-F]+$`)
	var out []Subject
	for _, line := range strings.Split(data, "\n") {
		if line == "" {
			continue
		}
		i := strings.IndexByte(line, ' ')
		require.Positive(t, i, "line %q", line)
		digest, rest := line[:i], line[i+1:]
		if strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "*") {
			rest = rest[1:]
		}
		require.Regexp(t, hexRE, digest)
		alg := map[int]string{64: "sha256", 128: "sha512"}[len(digest)]
		require.NotEmpty(t, alg, "digest length %d", len(digest))
		out = append(out, Subject{Name: rest, Digest: alg + ":" + digest})
	}
	return out
}

func TestDigests(t *testing.T) {
	sha512 := "sha512:" + strings.Repeat("ab", 64)
	in := []Subject{
		{Name: "ghcr.io/t/app:scratch", Digest: dScratch},
		{Name: "ghcr.io/t/app:1.2.3-scratch", Digest: dScratch},
		{Name: "ghcr.io/t/app:1.2.3-alpine", Digest: dAlpine},
		{Name: "ghcr.io/t/app:scratch", Digest: dScratch},
		{Name: "file with spaces.tar", Digest: sha512},
	}
	got, err := Digests(in)
	require.NoError(t, err)
	want := strings.Repeat("ab", 64) + "  file with spaces.tar\n" +
		strings.Repeat("2", 64) + "  ghcr.io/t/app:1.2.3-alpine\n" +
		strings.Repeat("1", 64) + "  ghcr.io/t/app:1.2.3-scratch\n" +
		strings.Repeat("1", 64) + "  ghcr.io/t/app:scratch\n"
	assert.Equal(t, want, string(got), "sorted, each once")
	assert.Equal(t, []Subject{
		{Name: "file with spaces.tar", Digest: sha512},
		{Name: "ghcr.io/t/app:1.2.3-alpine", Digest: dAlpine},
		{Name: "ghcr.io/t/app:1.2.3-scratch", Digest: dScratch},
		{Name: "ghcr.io/t/app:scratch", Digest: dScratch},
	}, parseSubjectChecksums(t, string(got)), "what attest-build-provenance reads back")

	empty, err := Digests(nil)
	require.NoError(t, err)
	assert.Empty(t, empty)
}

// TestDigestsSha256sum checks the format with sha256sum -c itself, on
// files named like the subjects.
func TestDigestsSha256sum(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("sha256sum not installed")
	}
	dir := t.TempDir()
	var subjects []Subject
	for _, name := range []string{"app_linux_amd64", "app_linux_amd64.cdx.json", "with space"} {
		data := []byte("content of " + name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
		h := sha256.Sum256(data)
		subjects = append(subjects, Subject{Name: name, Digest: "sha256:" + hex.EncodeToString(h[:])})
	}
	data, err := Digests(subjects)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "digests.txt"), data, 0o644))
	cmd := exec.Command("sha256sum", "--strict", "-c", "digests.txt")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	n := 0
	for sc.Scan() {
		assert.True(t, strings.HasSuffix(sc.Text(), ": OK"), sc.Text())
		n++
	}
	assert.Equal(t, 3, n)
}

func TestDigestsErrors(t *testing.T) {
	tests := []struct {
		name string
		in   Subject
		want string
	}{
		{"short digest", Subject{Name: "a", Digest: "sha256:abc"}, `"sha256:abc" of a is not sha256`},
		{"upper-case hex", Subject{Name: "a", Digest: "sha256:" + strings.Repeat("A", 64)}, "is not sha256"},
		{"no algorithm", Subject{Name: "a", Digest: strings.Repeat("a", 64)}, "is not sha256"},
		{"md5", Subject{Name: "a", Digest: "md5:" + strings.Repeat("a", 32)}, "is not sha256"},
		{"empty name", Subject{Name: "", Digest: dScratch}, `subject name "" is empty`},
		{"newline in name", Subject{Name: "a\nb", Digest: dScratch}, "holds a line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Digests([]Subject{tt.in})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
