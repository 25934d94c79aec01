package vulncheck

import (
	"encoding/json"
	"fmt"
)

// MediaType is an OpenVEX document's media type: the artifactType of the
// OCI referrer that attaches it to an image, as oras and Harbor name it.
const MediaType = "application/vnd.openvex+json"

// StaleError is a binary's VEX that is about other bytes than the binary
// now in dist/: it was written before the binary was rebuilt.
type StaleError struct {
	// Want is the binary's SHA-256, Got the one its VEX names.
	Want, Got string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the VEX is about a binary of sha256 %s, not this one (%s): it predates the build; run vulncheck again", short(e.Got), short(e.Want))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// ForImage returns the OpenVEX document of an image from the document
// VEX wrote for the binary it carries (binVEX, about the binary of
// SHA-256 binSHA256): the same statements, author, tooling and time, each
// naming img (a pkg:oci package URL and the manifest digest) as the
// product instead of the binary, and a new @id from the content. It
// returns a *StaleError when a statement names another binary, and an
// error when binVEX cannot be read.
func ForImage(binVEX []byte, binSHA256 string, img Product) ([]byte, error) {
	doc, err := readFor(binVEX, binSHA256)
	if err != nil {
		return nil, err
	}
	for i, s := range doc.Statements {
		var subs []vexComponent
		for _, p := range s.Products {
			subs = append(subs, p.Subcomponents...)
		}
		doc.Statements[i].Products = []vexProduct{{ID: img.ID, Hashes: map[string]string{"sha-256": img.SHA256}, Subcomponents: subs}}
	}
	return encode(doc)
}

// About checks that binVEX, a document VEX wrote, is about the binary of
// SHA-256 binSHA256: a *StaleError when a statement names other bytes, an
// error when it cannot be read. A document without statements names no
// bytes; vulncheck removes a binary's VEX when the binary is rebuilt.
func About(binVEX []byte, binSHA256 string) error {
	_, err := readFor(binVEX, binSHA256)
	return err
}

func readFor(binVEX []byte, binSHA256 string) (vexDoc, error) {
	var doc vexDoc
	if err := json.Unmarshal(binVEX, &doc); err != nil {
		return doc, fmt.Errorf("not an OpenVEX document: %w", err)
	}
	if doc.Context != vexContext {
		return doc, fmt.Errorf("an OpenVEX document of context %q, want %s", doc.Context, vexContext)
	}
	for _, s := range doc.Statements {
		for _, p := range s.Products {
			if got := p.Hashes["sha-256"]; got != binSHA256 {
				return doc, &StaleError{Want: binSHA256, Got: got}
			}
		}
	}
	return doc, nil
}

// encode sets doc's @id to a digest of its content and returns it as
// indented JSON ending in a newline.
func encode(doc vexDoc) ([]byte, error) {
	doc.ID = ""
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	doc.ID = vexIDBase + sha256Hex(body)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
