package vulncheck

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/openvex/go-vex/pkg/vex"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestForImageNamesTheImage(t *testing.T) {
	rep, err := Scan(context.Background(), "dist/app", fakeTool(string(exampleApp(t)), "", nil))
	require.NoError(t, err)
	more, err := Scan(context.Background(), "dist/app", fakeTool(notReached, "", nil))
	require.NoError(t, err)
	rep.Findings = append(rep.Findings, more.Findings...)
	binSum := strings.Repeat("ab", 32)
	binDoc, err := VEX(rep, Product{ID: "pkg:golang/example.com/app@1.0.0", SHA256: binSum})
	require.NoError(t, err)
	img := Product{ID: "pkg:oci/app@sha256%3A" + strings.Repeat("cd", 32) + "?arch=amd64&repository_url=registry.example%2Fteam%2Fapp", SHA256: strings.Repeat("cd", 32)}

	data, err := ForImage(binDoc, binSum, img)
	require.NoError(t, err)
	again, err := ForImage(binDoc, binSum, img)
	require.NoError(t, err)
	assert.Equal(t, string(data), string(again), "one binary VEX, one image: the same bytes")

	bin, err := vex.Parse(binDoc)
	require.NoError(t, err)
	doc, err := vex.Parse(data)
	require.NoError(t, err)
	assert.Equal(t, bin.Context, doc.Context)
	assert.Equal(t, bin.Timestamp, doc.Timestamp, "the binary VEX's time, not the clock")
	assert.NotEqual(t, bin.ID, doc.ID, "another document, another @id")
	assert.True(t, strings.HasPrefix(doc.ID, vexIDBase))
	require.Len(t, doc.Statements, len(bin.Statements))
	for i, s := range doc.Statements {
		b := bin.Statements[i]
		assert.NoError(t, s.Validate(), s.Vulnerability.Name)
		assert.Equal(t, b.Vulnerability, s.Vulnerability)
		assert.Equal(t, b.Status, s.Status)
		assert.Equal(t, b.Justification, s.Justification)
		assert.Equal(t, b.ActionStatement, s.ActionStatement)
		require.Len(t, s.Products, 1)
		assert.Equal(t, img.ID, s.Products[0].ID)
		assert.Equal(t, img.SHA256, string(s.Products[0].Hashes[vex.SHA256]))
		assert.Equal(t, b.Products[0].Subcomponents, s.Products[0].Subcomponents, "the modules are the image's too")
	}

	_, err = ForImage(binDoc, strings.Repeat("ef", 32), img)
	var stale *StaleError
	require.True(t, errors.As(err, &stale), "a VEX of other bytes: %v", err)
	assert.Equal(t, binSum, stale.Got)
	assert.Contains(t, err.Error(), "run vulncheck again")

	_, err = ForImage([]byte(`{"@context":"https://example.com"}`), binSum, img)
	assert.ErrorContains(t, err, "context")
}
