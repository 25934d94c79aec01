package report

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTable(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		rows    [][]string
		want    string
	}{
		{
			name:    "aligned with a rule",
			headers: []string{"Platform", "Size", "Linkage"},
			rows:    [][]string{{"linux/amd64", "6.5 MB", "static"}, {"darwin/arm64", "7.1 MB", "dynamic"}},
			want: "Platform      Size    Linkage\n" +
				"------------  ------  -------\n" +
				"linux/amd64   6.5 MB  static\n" +
				"darwin/arm64  7.1 MB  dynamic\n",
		},
		{
			name:    "short and long rows",
			headers: []string{"a", "b"},
			rows:    [][]string{{"1"}, {"1", "2", "3"}},
			want: "a  b\n" +
				"-  -  -\n" +
				"1\n" +
				"1  2  3\n",
		},
		{
			name:    "non-ASCII counted as one column each",
			headers: []string{"name", "x"},
			rows:    [][]string{{"größe—", "1"}, {"ab", "2"}},
			want: "name    x\n" +
				"------  -\n" +
				"größe—  1\n" +
				"ab      2\n",
		},
		{
			name:    "tabs and newlines flattened",
			headers: []string{"k", "v"},
			rows:    [][]string{{"a\tb", "line1\nline2"}},
			want: "k    v\n" +
				"---  -----------\n" +
				"a b  line1 line2\n",
		},
		{
			name: "rows without headers",
			rows: [][]string{{"x", "y"}, {"long", "z"}},
			want: "x     y\n" +
				"long  z\n",
		},
		{name: "nothing", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, Table(&b, tt.headers, tt.rows))
			assert.Equal(t, tt.want, b.String())
		})
	}
}

func TestTableWriteError(t *testing.T) {
	err := Table(failingWriter{}, []string{"a"}, [][]string{{"b"}})
	assert.ErrorIs(t, err, io.ErrShortWrite)
	assert.ErrorContains(t, err, "write table")
}

func TestMarkdownTable(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		rows    [][]string
		want    string
	}{
		{
			name:    "plain",
			headers: []string{"Feature", "Alpine"},
			rows:    [][]string{{"Size", "14.8 MB"}},
			want:    "| Feature | Alpine |\n| --- | --- |\n| Size | 14.8 MB |\n",
		},
		{
			name:    "pipes escaped and line breaks flattened",
			headers: []string{"cmd"},
			rows:    [][]string{{"a | b\nc"}},
			want:    "| cmd |\n| --- |\n| a \\| b c |\n",
		},
		{
			name:    "rows padded to the widest",
			headers: []string{"a"},
			rows:    [][]string{{"1", "2"}, {}},
			want:    "| a |  |\n| --- | --- |\n| 1 | 2 |\n|  |  |\n",
		},
		{name: "nothing", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, MarkdownTable(tt.headers, tt.rows))
		})
	}
}
