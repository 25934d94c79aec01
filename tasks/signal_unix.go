//go:build unix

package tasks

import (
	"os"
	"os/signal"
	"syscall"
)

// SIGTERM is what CI runners, timeout(1) and container stops send. Mage's
// generated main cancels the targets' context only on SIGINT (and gives
// them 5 seconds to clean up); SIGTERM would kill the run on the spot and
// leave smoke containers, go build processes and temporary files behind.
// Turning SIGTERM into SIGINT gives it the same orderly stop (exit code
// 130); a second SIGTERM, like a second Ctrl-C, makes mage exit at once.
func init() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	go func() {
		for range ch {
			_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		}
	}()
}
