package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// greeting matches the line of example-app that edit rewrites, with or
// without an earlier edit's nonce.
var greeting = regexp.MustCompile(`Try /healthz and /version\.( \[bench [0-9a-z-]+\])?\\n`)

// edit changes one line of example-app so the binary changes: the
// greeting gets a new string every time.
func (h *harness) edit() error {
	path := filepath.Join(h.repo, "example-app", "handler.go")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if n := len(greeting.FindAll(b, -1)); n != 1 {
		return fmt.Errorf("%s has %d greeting lines matching %s, want 1: update bench's edit() to the new handler", path, n, greeting)
	}
	h.edits++
	nonce := fmt.Sprintf("%d-%d", time.Now().UnixNano(), h.edits)
	b = greeting.ReplaceAllLiteral(b, []byte(`Try /healthz and /version. [bench `+nonce+`]\n`))
	return os.WriteFile(path, b, 0o644)
}

// imageID returns the engine's ID for ref, or "".
func (h *harness) imageID(ref string) string {
	return output(h.ctx, h.repo, "docker", "image", "inspect", "--format", "{{.Id}}", ref)
}

// expectNewImage fails when ref's image did not change since the last
// call for the same key: the edit must reach the image.
func (h *harness) expectNewImage(key, ref string) error {
	id := h.imageID(ref)
	if id == "" {
		return fmt.Errorf("%s: no image %s in the engine after the build", key, ref)
	}
	if prev := h.lastID[key]; prev == id {
		return fmt.Errorf("%s: image %s is still %s after an edit: the edit did not reach the image", key, ref, id)
	}
	h.lastID[key] = id
	return nil
}

var koRef = regexp.MustCompile(`(?m)^(\S+/\S+(?::\S+|@sha256:[0-9a-f]{64}))\s*$`)

// lastRef is the last image reference a tool printed on a line of its own.
func lastRef(out string) string {
	m := koRef.FindAllStringSubmatch(out, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

func unavailableWhy(t *tool, base string) string {
	switch {
	case t == nil:
		return "not installed"
	case t.unavailable != "":
		return t.unavailable
	case base == "":
		return "no registry for its base image"
	}
	return ""
}
