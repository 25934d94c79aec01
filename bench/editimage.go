package main

import (
	"errors"
	"time"
)

// editImageSet is figure set 2: a one-line edit to a new scratch image in
// the engine, against ko and the multi-stage Dockerfile.
var editImageSet = figureSet{
	id: "2", name: "edit to image",
	run:   (*harness).editToImage,
	peers: true, registry: true, // ko, and its base in the registry
	// The bars.
	targets: []target{
		ratioBar("2", "edit → scratch image, smoke off, magefile compiled once, vs ko", "2 smoke off, precompiled", "2 ko", 0.65),
		ratioBar("2", "edit → scratch image, smoke off, through go tool mage, vs ko", "2 smoke off", "2 ko", 1.0),
		diffBar("2", "edit → scratch image: smoke /healthz on vs off", "2 smoke on", "2 smoke off", 300*time.Millisecond),
		ratioBar("2", "edit → scratch image, smoke off, vs multi-stage Dockerfile", "2 smoke off", "2 dockerfile", 0.07),
	},
	extras: []target{
		ratioInfo("2", "edit → scratch image, smoke on, vs multi-stage Dockerfile (bar: ≤ 0.08×)", "2 smoke on", "2 dockerfile"),
	},
}

// editToImage is figure set 2: one-line edit, then time to a new scratch
// image in the engine.
func (h *harness) editToImage() error {
	scratch := h.image + ":scratch"
	off := []string{"MAGEPACK_SMOKE=off"}
	on := []string{"MAGEPACK_SMOKE=/healthz"}
	dockerfile := []string{"MAGEPACK_SMOKE=off", "MAGEPACK_DOCKERFILE=example-app/Dockerfile.scratch"}
	koCmd := cmd{dir: h.repo, env: []string{"KO_DOCKER_REPO=ko.local"}, args: []string{"build", "--local", "--platform=linux/amd64", "./example-app"}}
	ko := h.tools["ko"]
	haveKo := !h.tiny && ko != nil && ko.unavailable == "" && h.koBase != ""

	// Prime: the magefile binary, the engine's copy of the previous image,
	// ko's base in its cache, the Dockerfile's cached first steps.
	h.lastID["2 scratch"] = h.imageID(scratch)
	if !h.tiny {
		if _, _, err := h.run("prime dockerScratch", mage(h.repo, off, "dockerScratch")); err != nil {
			return err
		}
		h.lastID["2 scratch"] = h.imageID(scratch)
		if _, _, err := h.run("prime Dockerfile.scratch", mage(h.repo, dockerfile, "dockerScratch")); err != nil {
			return err
		}
		if haveKo {
			c := koCmd
			c.name = ko.path
			if _, out, err := h.run("prime ko --local", c); err != nil {
				ko.unavailable = "ko build --local failed: " + firstLine(tail(out, 1))
				haveKo = false
			}
		}
	}
	for i := 0; i < h.n; i++ {
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure("2 smoke off", "edit → go tool mage dockerScratch, MAGEPACK_SMOKE=off", mage(h.repo, off, "dockerScratch")); err != nil {
			return err
		}
		if err := h.expectNewImage("2 scratch", scratch); err != nil {
			return err
		}
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure("2 smoke on", "edit → go tool mage dockerScratch, MAGEPACK_SMOKE=/healthz", mage(h.repo, on, "dockerScratch")); err != nil {
			return err
		}
		if err := h.expectNewImage("2 scratch", scratch); err != nil {
			return err
		}
		if h.tiny {
			continue
		}
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure("2 smoke off, precompiled", "edit → dockerScratch by the magefile compiled beforehand (mage start-up excluded), smoke off", cmd{dir: h.repo, env: off, name: h.mageBin, args: []string{"dockerScratch"}}); err != nil {
			return err
		}
		if err := h.expectNewImage("2 scratch", scratch); err != nil {
			return err
		}
		if err := h.edit(); err != nil {
			return err
		}
		out, err := h.peer("ko", "2 ko", "edit → ko build --local --platform=linux/amd64", koCmd)
		if err == nil {
			if err := h.expectNewImage("2 ko", lastRef(out)); err != nil {
				return err
			}
		} else if !errors.Is(err, errUnavailable) {
			return err
		}
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.measure("2 dockerfile", "edit → dockerScratch with MAGEPACK_DOCKERFILE=example-app/Dockerfile.scratch (engine's legacy builder), smoke off", mage(h.repo, dockerfile, "dockerScratch")); err != nil {
			return err
		}
		if err := h.expectNewImage("2 dockerfile", scratch); err != nil {
			return err
		}
	}
	if !haveKo && !h.tiny {
		h.fig("2 ko", "edit → ko build --local").unavailable = unavailableWhy(ko, h.koBase)
	}
	return nil
}
