package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// bytesSet is figure set 5: image bytes against binary bytes. Its bar is
// checked in the report from the sizes, not from timed figures.
var bytesSet = figureSet{
	id: "5", name: "bytes",
	run: (*harness).bytes,
}

// sizeRow is one image's bytes against its binary's.
type sizeRow struct {
	what          string
	image, binary int64
	base          int64
}

// bytes is figure 5: image bytes against binary bytes for both variants,
// from dist/artifacts.json and the engine.
func (h *harness) bytes() error {
	variants := []string{"scratch", "alpine"}
	base := envOr("MAGEPACK_ALPINE_BASE", "magepack-test/alpine:3")
	if h.imageID(base) == "" {
		h.notes = append(h.notes, "Alpine image not measured: its base "+base+" is not in the engine (the tests create it; or set MAGEPACK_ALPINE_BASE)")
		variants = variants[:1]
	} else if _, _, err := h.run("dockerAlpine", mage(h.repo, []string{"MAGEPACK_SMOKE=/healthz"}, "dockerAlpine")); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(h.repo, "dist", "artifacts.json"))
	if err != nil {
		return err
	}
	var m struct {
		Binaries []struct {
			Path, OS, Arch string
			Size           int64
		}
		Images []struct {
			Reference, Variant, Platform string
			Size                         int64
		}
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("read dist/artifacts.json: %w", err)
	}
	plat := "linux/" + runtime.GOARCH
	var bin int64
	for _, x := range m.Binaries {
		if x.OS+"/"+x.Arch == plat && filepath.Dir(x.Path) == "dist" {
			bin = x.Size
		}
	}
	if bin == 0 {
		return fmt.Errorf("dist/artifacts.json lists no %s binary", plat)
	}
	for _, v := range variants {
		var size int64
		for _, x := range m.Images {
			if x.Variant == v && x.Platform == plat && !strings.HasPrefix(x.Reference, "oci:") {
				size = x.Size
			}
		}
		if size == 0 {
			return fmt.Errorf("dist/artifacts.json lists no %s image for %s", v, plat)
		}
		row := sizeRow{what: v, image: size, binary: bin}
		if v == "alpine" {
			row.base = parseInt(output(h.ctx, h.repo, "docker", "image", "inspect", "--format", "{{.Size}}", base))
		}
		h.sizes = append(h.sizes, row)
	}
	return nil
}
