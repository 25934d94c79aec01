//go:build !unix

package gobuild

import "os/exec"

// setProcessGroup keeps exec's default cancellation (kill the go command)
// on platforms without process groups.
func setProcessGroup(*exec.Cmd) {}

func killProcessGroup(*exec.Cmd) {}
