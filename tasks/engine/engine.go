// Package engine is magepack's edge to the Docker Engine API: finding the
// engine, loading, pulling and tagging images, building with a Dockerfile,
// and smoke-running containers. It talks to the engine only through
// github.com/moby/moby/client, never through the docker CLI.
package engine

import "github.com/moby/moby/client"

// Engine is a connected Docker engine.
type Engine struct {
	cli *client.Client
	// where says how the engine was found (for messages), e.g.
	// "DOCKER_HOST=unix:///var/run/docker.sock".
	where string
}

// New wraps an existing client; where describes how it was found.
func New(cli *client.Client, where string) *Engine { return &Engine{cli: cli, where: where} }

// Client returns the underlying Engine API client.
func (e *Engine) Client() *client.Client { return e.cli }
