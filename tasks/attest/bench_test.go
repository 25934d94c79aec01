package attest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkSignImage is the signing cost of one image: its signature,
// its provenance and its signed SBOM (a 40 kB stand-in of 300 components), with ECDSA P-256.
func BenchmarkSignImage(b *testing.B) {
	s, err := newSigner(newECDSA(b), "")
	if err != nil {
		b.Fatal(err)
	}
	digest := "sha256:" + hex.EncodeToString(make([]byte, 32))
	build := testBuild()
	for i := range 150 {
		build.Modules = append(build.Modules, Module{Path: "example.com/m" + hex.EncodeToString([]byte{byte(i)}), Version: "v1.0.0", Sum: build.Modules[0].Sum})
	}
	var components []map[string]string
	for i := range 300 {
		components = append(components, map[string]string{"type": "library", "name": fmt.Sprintf("example.com/m%d", i), "purl": fmt.Sprintf("pkg:golang/example.com/m%d@v1.0.0", i)})
	}
	sbom, err := json.Marshal(map[string]any{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sub := Subject("127.0.0.1:5000/app", digest)
		pred, err := build.Predicate()
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range []struct {
			typ  string
			pred any
		}{{PredicateSign, nil}, {PredicateSLSA, pred}, {PredicateCycloneDX, json.RawMessage(sbom)}} {
			statement, err := NewStatement(st.typ, st.pred, sub)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := Sign(context.Background(), s, statement); err != nil {
				b.Fatal(err)
			}
		}
	}
}
