package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/magepack/magepack/tasks/dockerfile"
)

// BuilderGoVersion tells the Go version of the builder image: from the
// GOLANG_VERSION variable in its config (official golang images set it) when
// the engine has the image, else from its tag (see BuilderVersionFromTag).
// It returns an error wrapping dockerfile.ErrUnknownBuilderVersion, saying how to fix
// it, when neither tells, and the engine's own error, wrapped, when the
// engine cannot be asked (ctx's error when ctx ends).
func (e *Engine) BuilderGoVersion(ctx context.Context, image string) (*semver.Version, error) {
	res, inspectErr := e.cli.ImageInspect(ctx, image)
	if inspectErr != nil && !cerrdefs.IsNotFound(inspectErr) {
		// The engine could not answer (or ctx ended): not something a
		// tag can stand in for, nor a configuration mistake.
		return nil, fmt.Errorf("inspect builder image %s at %s: %w", image, e.where, inspectErr)
	}
	if inspectErr == nil && res.Config != nil {
		for _, kv := range res.Config.Env {
			if val, ok := strings.CutPrefix(kv, "GOLANG_VERSION="); ok {
				v, err := dockerfile.ParseGoVersion(val)
				if err != nil {
					return nil, fmt.Errorf("builder image %s sets GOLANG_VERSION=%s: %w", image, val, err)
				}
				return v, nil
			}
		}
	}
	v, tagErr := dockerfile.BuilderVersionFromTag(image)
	if tagErr == nil {
		return v, nil
	}
	why := "its config has no GOLANG_VERSION"
	if inspectErr != nil {
		why = "the engine does not have it"
	}
	return nil, fmt.Errorf("%w of builder image %s: %s and its tag names no Go version; use an official golang image (e.g. golang:1.25-alpine) or one that sets ENV GOLANG_VERSION",
		dockerfile.ErrUnknownBuilderVersion, image, why)
}
