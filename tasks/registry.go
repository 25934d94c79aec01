package tasks

import (
	"context"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/magepack/magepack/tasks/image"
)

// imageRegistry is what publish asks of container registries, declared
// where it is used: the image package's remote calls in a run, and in
// tests a fake for the failures a real registry cannot show on demand (a
// push refused half-way, a base that cannot be read, Ctrl-C mid-push).
type imageRegistry interface {
	// Push uploads idx with its images to repo under each of tags (see
	// image.Push); its error names the reference.
	Push(ctx context.Context, repo string, idx v1.ImageIndex, tags []string) ([]image.Pushed, error)
	// PushReferrers uploads artifacts that refer to images in repo (see
	// image.PushReferrers).
	PushReferrers(ctx context.Context, repo string, artifacts []v1.Image) ([]image.PushedReferrer, error)
	// Base reads the image ref holds for each of platforms, in their
	// order (see image.RemoteBase).
	Base(ctx context.Context, ref string, platforms []v1.Platform) ([]v1.Image, error)
	// Digest is the digest of the manifest or index ref names (see
	// image.RemoteDigest).
	Digest(ctx context.Context, ref string) (string, error)
}

// remoteRegistry is imageRegistry over the network, with the docker
// config's credentials, as `docker login` leaves them.
type remoteRegistry struct{}

func (remoteRegistry) Push(ctx context.Context, repo string, idx v1.ImageIndex, tags []string) ([]image.Pushed, error) {
	return image.Push(ctx, repo, idx, tags)
}

func (remoteRegistry) PushReferrers(ctx context.Context, repo string, artifacts []v1.Image) ([]image.PushedReferrer, error) {
	return image.PushReferrers(ctx, repo, artifacts)
}

func (remoteRegistry) Base(ctx context.Context, ref string, platforms []v1.Platform) ([]v1.Image, error) {
	return image.RemoteBase(ctx, ref, platforms)
}

func (remoteRegistry) Digest(ctx context.Context, ref string) (string, error) {
	return image.RemoteDigest(ctx, ref)
}
