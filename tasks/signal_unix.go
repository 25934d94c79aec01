//go:build unix

package tasks

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// relayTerm turns SIGTERM into SIGINT for the rest of the process, from the
// first target on. SIGTERM is what CI runners, timeout(1) and container
// stops send. Mage's generated main cancels the targets' context only on
// SIGINT (and gives them 5 seconds to clean up); SIGTERM would kill the
// run on the spot and leave smoke containers, go build processes and
// temporary files behind. Relayed, it gives the same orderly stop (exit
// code 130); a second SIGTERM, like a second Ctrl-C, makes mage exit at
// once. It is installed when a target starts, not at package init, so a
// program that merely imports tasks keeps its own signal handling.
var relayTerm = sync.OnceFunc(func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	go func() {
		for range ch {
			_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
		}
	}()
})
