//go:build unix

package main

import (
	"syscall"
	"time"
)

// childCPU returns the user and system time of every child process this
// process has waited for (go build and, through it, the compilers).
func childCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
