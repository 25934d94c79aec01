package vulncheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Install returns the path of govulncheck (Tool's version), building it
// with `go install` into dir/<version>/ the first time (dir is typically
// <user cache>/magepack). goBin is the go command ("" is "go") and env
// its environment (nil inherits the process's, so GOPROXY and
// GOTOOLCHAIN apply). The first build needs the module proxy, or the
// module cache holding golang.org/x/vuln; later calls only check the file.
// built reports whether this call built it. It returns an error carrying
// the go command's output when the build fails.
func Install(ctx context.Context, dir, goBin string, env []string) (path string, built bool, err error) {
	if goBin == "" {
		goBin = "go"
	}
	_, ver, _ := strings.Cut(Tool, "@")
	binDir := filepath.Join(dir, "govulncheck-"+ver)
	path = filepath.Join(binDir, "govulncheck")
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return path, false, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", false, fmt.Errorf("install govulncheck: %w", err)
	}
	// Built into a folder of its own, then renamed: a run killed
	// half-way leaves no half-written govulncheck behind.
	tmp, err := os.MkdirTemp(binDir, ".install-")
	if err != nil {
		return "", false, fmt.Errorf("install govulncheck: %w", err)
	}
	defer os.RemoveAll(tmp)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, goBin, "install", "-trimpath", Tool)
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env[:len(env):len(env)], "GOBIN="+tmp, "GOFLAGS=", "GOWORK=off")
	cmd.Dir = tmp // outside any module: `go install pkg@version` ignores the current one anyway
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", false, ctx.Err()
		}
		return "", false, fmt.Errorf("install %s (go install, needs the module proxy the first time): %v: %s", Tool, err, strings.TrimSpace(out.String()))
	}
	if err := os.Rename(filepath.Join(tmp, "govulncheck"), path); err != nil {
		return "", false, fmt.Errorf("install govulncheck: %w", err)
	}
	return path, true, nil
}
