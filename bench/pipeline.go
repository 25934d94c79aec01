package main

import "os"

// pipelineSet is figure set 3: the whole pipeline warm against cold.
var pipelineSet = figureSet{
	id: "3", name: "pipeline",
	run: (*harness).pipeline,
	targets: []target{
		ratioBar("3", "whole pipeline warm vs cold", "3 warm", "3 cold", 0.1),
	},
}

// pipeline is figure 3: the whole pipeline with nothing changed, warm, and
// cold (empty GOCACHE: go tool mage compiles mage and the magefile too).
func (h *harness) pipeline() error {
	targets := []string{"crossCompile", "staticCheck", "dockerScratch"}
	if !h.tiny {
		if _, _, err := h.run("prime pipeline", mage(h.repo, nil, targets...)); err != nil {
			return err
		}
	}
	for i := 0; i < h.n; i++ {
		if _, err := h.measure("3 warm", "go tool mage crossCompile staticCheck dockerScratch, nothing changed", mage(h.repo, nil, targets...)); err != nil {
			return err
		}
	}
	for i := 0; i < h.coldN; i++ {
		cache, err := h.coldCache()
		if err != nil {
			return err
		}
		_, err = h.measure("3 cold", "the same, empty GOCACHE (compiles mage and the magefile too)", mage(h.repo, []string{"GOCACHE=" + cache}, targets...))
		os.RemoveAll(cache)
		if err != nil {
			return err
		}
	}
	return nil
}
