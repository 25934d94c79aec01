// Package engine is magepack's edge to the Docker Engine API: finding the
// engine, loading, pulling and tagging images, building with a Dockerfile,
// and smoke-running containers. It talks to the engine only through
// github.com/moby/moby/client, never through the docker CLI.
package engine

import "github.com/moby/moby/client"

// Engine is a connected Docker engine.
type Engine struct {
	cli *client.Client
	// where says where the engine is and how it was found (for messages),
	// e.g. "unix:///var/run/docker.sock (default socket)".
	where string
}

// New wraps an existing client; where describes how it was found.
func New(cli *client.Client, where string) *Engine { return &Engine{cli: cli, where: where} }

// Client returns the underlying Engine API client.
func (e *Engine) Client() *client.Client { return e.cli }

// Where returns the engine's address and how it was found, e.g.
// "unix:///var/run/docker.sock (default socket)".
func (e *Engine) Where() string { return e.where }

// Close releases the client's idle connections; it never fails for a
// local engine.
func (e *Engine) Close() error { return e.cli.Close() }
