package tasks

import (
	"context"

	"github.com/Masterminds/semver/v3"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/magepack/magepack/tasks/engine"
)

// dockerEngine is what the targets ask of the Docker engine, declared
// where it is used: an *engine.Engine in a run, and in tests a fake for
// the failures a real engine cannot show on demand (an engine that dies
// mid-load, a smoke container that exits, Ctrl-C half-way).
type dockerEngine interface {
	// Where says where the engine is and how it was found.
	Where() string
	Platform(ctx context.Context) (goos, arch, variant string, err error)
	EnsureImage(ctx context.Context, ref string, policy engine.PullPolicy) error
	Inspect(ctx context.Context, ref string) (engine.ImageInfo, error)
	Image(ctx context.Context, ref string) (v1.Image, error)
	Load(ctx context.Context, img v1.Image, tags []string, progress func(string)) (engine.LoadResult, error)
	Smoke(ctx context.Context, ref string, opts engine.SmokeOptions) (engine.SmokeResult, error)
	Build(ctx context.Context, opts engine.BuildOptions) (engine.BuildResult, error)
	Facts(ctx context.Context, ref string) (engine.ImageFacts, error)
	BuilderGoVersion(ctx context.Context, image string) (*semver.Version, error)
}

// connectEngine finds the Docker engine the way the docker CLI does (see
// engine.Connect).
func connectEngine(ctx context.Context) (dockerEngine, error) {
	e, err := engine.Connect(ctx)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return e, nil
}
