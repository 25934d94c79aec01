package sbom

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// The official CycloneDX 1.6 JSON schema and the two it references, as
// cyclonedx-go v0.12.0 ships them (schema/), vendored in testdata/schema
// so validation needs no network.
const schemaURL = "http://cyclonedx.org/schema/bom-1.6.schema.json"

var schemaFiles = map[string]string{
	schemaURL: "bom-1.6.schema.json",
	"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
	"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schemax.json",
}

var (
	schemaOnce sync.Once
	schemaVal  *jsonschema.Schema
	schemaErr  error
)

// cycloneDXSchema compiles the official schema once, with format
// assertions on (date-time, iri-reference, …), using
// github.com/santhosh-tekuri/jsonschema: a validator independent of
// cyclonedx-go.
func cycloneDXSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for url, file := range schemaFiles {
			f, err := os.Open(filepath.Join("testdata", "schema", file))
			if err != nil {
				schemaErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(f)
			f.Close()
			if err != nil {
				schemaErr = err
				return
			}
			if err := c.AddResource(url, doc); err != nil {
				schemaErr = err
				return
			}
		}
		schemaVal, schemaErr = c.Compile(schemaURL)
	})
	require.NoError(t, schemaErr, "compile the CycloneDX 1.6 schema")
	return schemaVal
}

// validateSchema fails the test when data is not a valid CycloneDX 1.6
// document.
func validateSchema(t *testing.T, data []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	require.NoError(t, cycloneDXSchema(t).Validate(inst), "CycloneDX 1.6 schema")
}

func TestSchemaValidates(t *testing.T) {
	apk, err := os.ReadFile("testdata/apk-installed")
	require.NoError(t, err)
	bin := binaryBOM(t)
	data, err := Encode(bin)
	require.NoError(t, err)
	validateSchema(t, data)

	img, err := ForImage(bin, Image{
		Name: "ghcr.io/team/server", Digest: imgDigest, OS: "linux", Arch: "amd64", BinaryPath: "/usr/local/bin/server",
		CABundle: &File{Path: "/etc/ssl/certs/ca-certificates.crt", SHA256: caSum},
		TZData:   &File{Path: "/usr/share/zoneinfo"},
		Base:     &Base{Name: "alpine:3.20", Digest: baseDigest, APKInstalled: apk},
	}, Options{Version: "1.2.3"})
	require.NoError(t, err)
	data, err = Encode(img)
	require.NoError(t, err)
	validateSchema(t, data)
}

// TestSchemaRejects shows the validator is not a rubber stamp.
func TestSchemaRejects(t *testing.T) {
	data, err := Encode(binaryBOM(t))
	require.NoError(t, err)
	bad := bytes.Replace(data, []byte(`"type": "library"`), []byte(`"type": "gadget"`), 1)
	require.NotEqual(t, data, bad)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(bad))
	require.NoError(t, err)
	require.Error(t, cycloneDXSchema(t).Validate(inst))
}
