package image

import (
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadFiles(t *testing.T) {
	s := scratchSpec(t)
	img := mustBuild(t, s)
	ca, err := os.ReadFile(s.CABundle)
	require.NoError(t, err)

	got, err := ReadFiles(img, CABundlePath, "/lib/apk/db/installed")
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{CABundlePath: ca}, got, "a missing file is left out")

	base, err := mutate.AppendLayers(empty.Image,
		tarLayer(t, [2]string{"lib/apk/db/installed", "P:musl\nV:1.2.5-r0\n"}),
		tarLayer(t, [2]string{"lib/apk/db/.wh.installed", ""}, [2]string{"etc/", ""}, [2]string{"etc/os-release", "ID=alpine\n"}))
	require.NoError(t, err)
	got, err = ReadFiles(base, "/lib/apk/db/installed", "/etc/os-release")
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"/etc/os-release": []byte("ID=alpine\n")}, got, "a whiteout deletes the file")

	_, err = ReadFiles(img, "/usr/local/bin")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read /usr/local/bin from the image")
	assert.Contains(t, err.Error(), "is not a regular file")

	_, err = ReadFiles(nil, CABundlePath)
	assert.Error(t, err)
}
