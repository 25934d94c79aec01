package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// rebuildSet is figure set 14: what proving a release costs. `rebuild`
// of example-app's signed two-platform publish (scratch, dist/oci only)
// against that publish, both by the magefile compiled once, warm cache:
// the rebuild checks the commit out into a temporary folder, builds there
// (the go build cache hits: -trimpath makes the folder irrelevant),
// reassembles and compares.
var rebuildSet = figureSet{
	id: "14", name: "rebuild",
	run: (*harness).rebuild,
	targets: []target{
		ratioBar("14", "rebuild of a two-platform publish vs the publish itself, warm cache, magefile compiled once", "14 rebuild", "14 publish", 1.5),
	},
}

// rebuild measures publish and rebuild of what it published, alternating,
// h.n times each after one unmeasured run of each, on example-app as
// committed (earlier sets' edits undone: a rebuild of an edited tree
// differs, by design).
func (h *harness) rebuild() error {
	if err := h.compileMagefile(); err != nil {
		return err
	}
	if _, _, err := h.run("undo edits", cmd{dir: h.repo, name: "git", args: []string{"checkout", "--", "example-app"}}); err != nil {
		return err
	}
	key := filepath.Join(h.work, "keys", "rebuild.pem")
	if err := writeKey(key, "Ed25519"); err != nil {
		return err
	}
	plats := "linux/amd64,linux/arm64"
	if h.tiny {
		plats = "linux/amd64"
	}
	dist := filepath.Join(h.work, "rebuild-dist")
	if err := os.RemoveAll(dist); err != nil {
		return err
	}
	env := []string{"MAGEPACK_VARIANTS=scratch", "MAGEPACK_PLATFORMS=" + plats, "MAGEPACK_PUSH=never", "MAGEPACK_DIST=" + dist,
		"MAGEPACK_IMAGE=registry.example/magepack/example-app", "MAGEPACK_SIGN_KEY=" + key}
	steps := []struct{ key, label, target, want string }{
		{"14 publish", "publish, scratch, " + plats + ", signed (Ed25519), MAGEPACK_PUSH=never, nothing changed", "publish", "signed the index"},
		{"14 rebuild", "rebuild of that publish from dist/oci: temporary checkout, build, assemble, compare", "rebuild", "] identical"},
	}
	for i := 0; i <= h.n; i++ {
		for _, s := range steps {
			c := cmd{dir: h.repo, env: env, name: h.mageBin, args: []string{s.target}}
			var out string
			var err error
			if i == 0 {
				_, out, err = h.run("prime "+s.key, c)
			} else {
				out, err = h.measure(s.key, s.label, c)
			}
			if err != nil {
				return err
			}
			if !strings.Contains(out, s.want) {
				return fmt.Errorf("%s: no %q in its output:\n%s", s.key, s.want, tail(out, 10))
			}
		}
	}
	return nil
}
