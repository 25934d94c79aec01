package attest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// TestProvenanceGolden pins the statement's bytes: what consumers and
// policies read, and what two clones must agree on.
func TestProvenanceGolden(t *testing.T) {
	pred, err := testBuild().Predicate()
	require.NoError(t, err)
	st, err := NewStatement(PredicateSLSA, pred, Subject("127.0.0.1:5000/app", "sha256:"+hex.EncodeToString(make([]byte, 32))))
	require.NoError(t, err)
	got, err := st.Encode()
	require.NoError(t, err)
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, got, "", "  "))
	pretty.WriteByte('\n')
	golden := filepath.Join("testdata", "provenance.golden.json")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(golden, pretty.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err, "run go test -update ./tasks/attest to write it")
	assert.Equal(t, string(want), pretty.String())
}
