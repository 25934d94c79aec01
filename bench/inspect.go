package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// inspectSet is figure set 6: the linkage check against a loop of file(1).
var inspectSet = figureSet{
	id: "6", name: "linkage check vs file",
	run:   (*harness).inspect,
	needs: []string{"1"}, // reads the binaries crossCompile put in dist/
	targets: []target{
		ratioBar("6", "linkage check vs `file` loop, 50 binaries", "6 linkage check", "6 file loop", 0.2),
	},
}

// inspect is figure 6: the linkage check (linkage.Inspect and the scratch
// verdict, in a program built beforehand) against a shell loop of `file`,
// over 10 copies of every built binary (50 for the five platforms).
func (h *harness) inspect() error {
	dir := filepath.Join(h.work, "inspect")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var paths []string
	for _, j := range h.jobs {
		src := filepath.Join(h.repo, "dist", filepath.Base(j.Output))
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		for i := 0; i < 10; i++ {
			p := filepath.Join(dir, fmt.Sprintf("%s.%d", filepath.Base(j.Output), i))
			if err := os.WriteFile(p, data, 0o755); err != nil {
				return err
			}
			paths = append(paths, p)
		}
	}
	nb := fmt.Sprintf("%d binaries", len(paths))
	fileBin, fileErr := exec.LookPath("file")
	for i := 0; i < h.n; i++ {
		if _, err := h.measure("6 linkage check", "linkage.Inspect + scratch verdict over "+nb+" (bench/inspect, built beforehand)", cmd{dir: dir, name: h.inspectBin, args: paths}); err != nil {
			return err
		}
		if fileErr != nil {
			h.fig("6 file loop", "shell loop of file over "+nb).unavailable = "file is not installed (apt-get install file)"
			continue
		}
		script := `for f in "$@"; do ` + fileBin + ` "$f"; done`
		if _, err := h.measure("6 file loop", "shell loop of `file` over "+nb, cmd{dir: dir, name: "sh", args: append([]string{"-c", script, "sh"}, paths...)}); err != nil {
			return err
		}
	}
	return nil
}
