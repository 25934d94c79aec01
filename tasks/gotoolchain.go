package tasks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	goversion "go/version"
	"os"
	"strings"

	"github.com/magepack/magepack/tasks/plan"
	"github.com/magepack/magepack/tasks/toolchain"
)

// withToolchain is environ with GOTOOLCHAIN set to tc, last so that it
// wins over the user's own; environ unchanged when tc is "". The go
// command then runs (and first fetches from the module proxy) exactly that
// release.
func withToolchain(environ []string, tc string) []string {
	if tc == "" {
		return environ
	}
	return append(environ[:len(environ):len(environ)], "GOTOOLCHAIN="+tc)
}

// goEnv is the environment of every go command the run starts.
func (r *run) goEnv() []string { return r.environ }

// toolchainNotes are said when a run starts: which Go the configured
// toolchain turned out to be, and a toolchain line in go.mod newer than
// the Go that builds.
func toolchainNotes(configured string, tc *toolchain.Info) []string {
	var notes []string
	if configured != "" {
		notes = append(notes, fmt.Sprintf("toolchain %s (MAGEPACK_TOOLCHAIN): every go command runs with GOTOOLCHAIN=%s", tc.GOVERSION, configured))
	}
	if !tc.InModule() {
		return notes
	}
	data, err := os.ReadFile(tc.GOMOD)
	if err != nil {
		return notes
	}
	if want := modToolchain(data); want != "" && goversion.IsValid(want) && goversion.Compare(want, tc.GOVERSION) > 0 {
		notes = append(notes, fmt.Sprintf("toolchain: go.mod names %s, newer than %s that builds here (GOTOOLCHAIN=%s); set MAGEPACK_TOOLCHAIN=%s to build with it", want, tc.GOVERSION, tc.GOTOOLCHAIN, want))
	}
	return notes
}

// modToolchain is the toolchain line of a go.mod ("go1.26.10"), or "".
func modToolchain(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "toolchain" {
			return f[1]
		}
	}
	return ""
}

// toolchainError is a failed probe of the configured toolchain (a release
// the module proxy does not have, one older than go.mod's go line): a
// configuration error naming the setting. Without a configured toolchain,
// or when the probe was cancelled or ran out of time, err is returned
// unchanged.
func toolchainError(err error, configured string) error {
	if configured == "" || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return plan.Bad("MAGEPACK_TOOLCHAIN", fmt.Errorf("toolchain %s: %w; set MAGEPACK_TOOLCHAIN to a Go release the module proxy has and go.mod allows, or unset it", configured, err))
}
