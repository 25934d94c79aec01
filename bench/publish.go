package main

import (
	"fmt"
	"strings"
)

// publishSet is figure set 4: a one-line edit to images pushed to a
// registry, against ko.
var publishSet = figureSet{
	id: "4", name: "publish",
	run:   (*harness).publish,
	peers: true, registry: true,
	targets: []target{
		// The bars.
		ratioBar("4", "edit → publish 2 platforms, magefile compiled once, vs ko", "4 publish, precompiled", "4 ko", 0.9),
		ratioBar("4", "edit → publish 2 platforms through go tool mage vs ko", "4 publish", "4 ko", 1.1),
	},
}

// publish is figure 4: edit, then push the scratch variant for
// linux/amd64 and linux/arm64 to the local registry, against ko.
func (h *harness) publish() error {
	if h.registry == "" {
		return nil
	}
	plats := "linux/amd64,linux/arm64"
	if h.tiny {
		plats = "linux/amd64"
	}
	env := []string{"MAGEPACK_VARIANTS=scratch", "MAGEPACK_PLATFORMS=" + plats, "MAGEPACK_IMAGE=" + h.registry + "/magepack/example-app"}
	koCmd := cmd{dir: h.repo, env: []string{"KO_DOCKER_REPO=" + h.registry + "/ko"}, args: []string{"build", "--platform=" + plats, "./example-app"}}
	ko := h.tools["ko"]
	haveKo := !h.tiny && ko != nil && ko.unavailable == ""
	if !h.tiny {
		if _, _, err := h.run("prime publish", mage(h.repo, env, "publish")); err != nil {
			return err
		}
		if haveKo {
			c := koCmd
			c.name = ko.path
			if _, out, err := h.run("prime ko push", c); err != nil {
				ko.unavailable = "ko build (push) failed: " + firstLine(tail(out, 1))
				haveKo = false
			}
		}
	}
	var prev string
	for i := 0; i < h.n; i++ {
		if err := h.edit(); err != nil {
			return err
		}
		out, err := h.measure("4 publish", "edit → go tool mage publish, scratch, "+plats+", push to local registry", mage(h.repo, env, "publish"))
		if err != nil {
			return err
		}
		ref := lastRef(out)
		if !strings.Contains(ref, "@sha256:") || ref == prev {
			return fmt.Errorf("publish printed no new pushed reference (got %q, before %q)", ref, prev)
		}
		prev = ref
		if !h.tiny {
			if err := h.edit(); err != nil {
				return err
			}
			if _, err := h.measure("4 publish, precompiled", "edit → publish by the magefile compiled beforehand (mage start-up excluded)", cmd{dir: h.repo, env: env, name: h.mageBin, args: []string{"publish"}}); err != nil {
				return err
			}
		}
		if !haveKo {
			continue
		}
		if err := h.edit(); err != nil {
			return err
		}
		if _, err := h.peer("ko", "4 ko", "edit → ko build --platform="+plats+", push to the same registry", koCmd); ignoreUnavailable(err) != nil {
			return err
		}
	}
	if !haveKo && !h.tiny {
		h.fig("4 ko", "edit → ko build (push)").unavailable = unavailableWhy(ko, "-")
	}
	return nil
}
