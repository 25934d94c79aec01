//go:build !unix

package tasks

// relayTerm does nothing where there is no SIGTERM to relay.
func relayTerm() {}
