package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
)

// ErrImageNotFound is matched (errors.Is) by errors about an image the
// engine does not have.
var ErrImageNotFound = errors.New("not in the engine")

// LoadResult describes an image Load put into the engine.
type LoadResult struct {
	// ID is the engine's image ID ("sha256:…"); for a loaded image it equals
	// ConfigDigest.
	ID string
	// ConfigDigest is the digest of the image's config blob.
	ConfigDigest string
	// ManifestDigest is the digest of the image's manifest, as a registry
	// would report it after a push.
	ManifestDigest string
	// Size is the image size the engine reports.
	Size int64
	// Skipped is true when the engine already had the image and nothing was sent.
	Skipped bool
	// Duration is the wall time Load took.
	Duration time.Duration
	// Pruned lists the IDs of previous images that the moved tags left
	// dangling and that Load removed.
	Pruned []string
}

// Load puts img into the engine and points every tag at it. When the engine
// already has an image whose ID is img's config digest nothing is sent and
// the tags are just (re)set. Otherwise the image is streamed as a docker-save
// tarball into the Engine API's image load. A previous image that a moved
// tag leaves without any tag is removed, unless a container or a child image
// still uses it; an image that keeps another tag is never removed.
// progress (may be nil) receives one line per event. Load fails on an
// invalid tag, a failed load (with the engine's message) or a failed tag.
//
// The layers go to the engine uncompressed (see writeSave): the engine's
// image ID is the same, and nothing waits for gzip. The manifest digest
// LoadResult reports, which names the compressed layers as a registry
// would store them, is computed at the same time, on another core.
func (e *Engine) Load(ctx context.Context, img v1.Image, tags []string, progress func(string)) (LoadResult, error) {
	start := time.Now()
	if progress == nil {
		progress = func(string) {}
	}
	if len(tags) == 0 {
		return LoadResult{}, errors.New("load image: no tag given; pass at least one tag so the image does not land dangling")
	}
	first, err := name.NewTag(tags[0])
	if err != nil {
		return LoadResult{}, fmt.Errorf("load image: tag %q is not a valid image reference (want repository:tag): %w", tags[0], err)
	}
	for _, t := range tags[1:] {
		if _, err := name.NewTag(t); err != nil {
			return LoadResult{}, fmt.Errorf("load image: tag %q is not a valid image reference (want repository:tag): %w", t, err)
		}
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return LoadResult{}, fmt.Errorf("load %s: config digest: %w", tags[0], err)
	}
	res := LoadResult{ConfigDigest: cfg.String()}
	// The manifest digest names the compressed layers, which the engine
	// does not need: compress beside the load (on another core), not
	// before it.
	type digest struct {
		h   v1.Hash
		err error
	}
	manifest := make(chan digest, 1)
	go func() {
		h, err := img.Digest()
		manifest <- digest{h, err}
	}()
	waitManifest := func() error {
		d := <-manifest
		if d.err != nil {
			return fmt.Errorf("load %s: manifest digest: %w", tags[0], d.err)
		}
		res.ManifestDigest = d.h.String()
		return nil
	}

	// What the tags point at before they move, and whether the engine
	// has the image, asked at the same time.
	previous, info, err := e.beforeLoad(ctx, tags, cfg.String())
	tagged := 0
	switch {
	case err == nil:
		res.Skipped = true
		progress(fmt.Sprintf("%s: engine already has %s, not loading", tags[0], shortID(cfg.String())))
	case cerrdefs.IsNotFound(err):
		progress(fmt.Sprintf("%s: loading %s into the engine", tags[0], shortID(cfg.String())))
		if err := e.load(ctx, first, img, progress); err != nil {
			if ctx.Err() == nil && connectionLost(err) {
				return res, &lostError{err: err, msg: fmt.Sprintf("load %s: the engine at %s went away during the load (%s): check that the Docker engine is running, then run again", tags[0], e.where, lostCause(err))}
			}
			return res, fmt.Errorf("load %s into engine %s: %w", tags[0], e.where, err)
		}
		tagged = 1 // the load tagged the image with the first tag
		if info, err = e.cli.ImageInspect(ctx, cfg.String()); err != nil {
			return res, fmt.Errorf("load %s: the engine took the image but has no image %s: %w", tags[0], cfg, err)
		}
	default:
		return res, fmt.Errorf("load %s: ask engine %s for image %s: %w", tags[0], e.where, cfg, err)
	}
	res.ID, res.Size = info.ID, info.Size

	for _, t := range tags[tagged:] {
		if _, err := e.cli.ImageTag(ctx, client.ImageTagOptions{Source: res.ID, Target: t}); err != nil {
			return res, fmt.Errorf("tag %s as %s: %w", shortID(res.ID), t, err)
		}
	}
	res.Pruned = e.pruneDangling(ctx, previous, progress)
	if err := waitManifest(); err != nil {
		return res, err
	}
	res.Duration = time.Since(start)
	return res, nil
}

// beforeLoad asks the engine, all at once, which image each tag points at
// now (those other than id, by tag) and for the image id itself (its
// error when the engine has none).
func (e *Engine) beforeLoad(ctx context.Context, tags []string, id string) (map[string]string, client.ImageInspectResult, error) {
	ids := make([]string, len(tags))
	var wg sync.WaitGroup
	for i, t := range tags {
		wg.Go(func() {
			if info, err := e.cli.ImageInspect(ctx, t); err == nil && info.ID != id {
				ids[i] = info.ID
			}
		})
	}
	info, err := e.cli.ImageInspect(ctx, id)
	wg.Wait()
	previous := map[string]string{}
	for i, t := range tags {
		if ids[i] != "" {
			previous[t] = ids[i]
		}
	}
	return previous, info, err
}

// load streams img as a docker-save tarball into the engine and reads the
// engine's answer, turning an error message in it into an error.
func (e *Engine) load(ctx context.Context, tag name.Tag, img v1.Image, progress func(string)) error {
	pr, pw := io.Pipe()
	go func() { _ = pw.CloseWithError(writeSave(pw, tag, img)) }()
	resp, err := e.cli.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		_ = pr.CloseWithError(err)
		return err
	}
	defer resp.Close()
	err = readStream(resp, func(m jsonstream.Message) {
		if s := strings.TrimSpace(m.Stream); s != "" {
			progress(tag.String() + ": " + s)
		}
	})
	_ = pr.CloseWithError(errors.New("load finished"))
	return err
}

// readStream decodes the engine's JSON message stream until its end and
// returns the first error message in it.
func readStream(r io.Reader, each func(jsonstream.Message)) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			jsonstream.Message
			ErrorMessage string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read engine response: %w", err)
		}
		if m.Error != nil && m.Error.Message != "" {
			return errors.New(m.Error.Message)
		}
		if m.ErrorMessage != "" {
			return errors.New(m.ErrorMessage)
		}
		each(m.Message)
	}
}

// pruneDangling removes the images that moved tags pointed at, when they
// are left without tags or digests. It never fails the caller: an image a
// container or a child image still uses is kept, and said so.
func (e *Engine) pruneDangling(ctx context.Context, previous map[string]string, progress func(string)) []string {
	var ids []string
	for _, id := range previous {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var pruned []string
	for _, id := range ids {
		info, err := e.cli.ImageInspect(ctx, id)
		if err != nil || len(info.RepoTags) > 0 || len(info.RepoDigests) > 0 {
			continue
		}
		if _, err := e.cli.ImageRemove(ctx, id, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
			progress(fmt.Sprintf("kept previous image %s: %v", shortID(id), err))
			continue
		}
		progress(fmt.Sprintf("removed previous image %s (no tags left)", shortID(id)))
		pruned = append(pruned, id)
	}
	return pruned
}

// PullPolicy says when EnsureImage pulls: PullMissing, PullAlways or PullNever.
type PullPolicy string

// The pull policies.
const (
	// PullMissing pulls only an image the engine does not have.
	PullMissing PullPolicy = "missing"
	// PullAlways pulls every time, to pick up a moved tag.
	PullAlways PullPolicy = "always"
	// PullNever never pulls; a missing image is an error.
	PullNever PullPolicy = "never"
)

// ParsePullPolicy reads a pull policy, ignoring case and surrounding space;
// "" means PullMissing. Anything else is an error listing the valid values.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := PullPolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return PullMissing, nil
	case PullMissing, PullAlways, PullNever:
		return p, nil
	default:
		return "", &PullPolicyError{Value: s}
	}
}

// PullPolicyError is a pull policy that is not one of the three.
type PullPolicyError struct{ Value string }

// Error names the value and the valid ones.
func (e *PullPolicyError) Error() string {
	return fmt.Sprintf("pull policy %q is not valid; use missing, always or never", e.Value)
}

// PullForbiddenError says that an image is missing and the policy forbids
// pulling it. It matches ErrImageNotFound.
type PullForbiddenError struct {
	// Ref is the image reference asked for.
	Ref string
}

// Error returns the message with both fixes.
func (e *PullForbiddenError) Error() string {
	return fmt.Sprintf("image %q is not in the engine and the pull policy never forbids pulling: pull it first (docker pull %s) or allow pulls", e.Ref, e.Ref)
}

// Is reports ErrImageNotFound as matching.
func (e *PullForbiddenError) Is(target error) bool { return target == ErrImageNotFound }

// EnsureImage makes sure the engine has ref under policy: PullMissing pulls
// only when the engine lacks it, PullAlways pulls, PullNever returns a
// *PullForbiddenError when it is missing. Pulls go through the Engine API
// with credentials from the docker config (as the docker CLI would send
// them). A failed pull returns an error naming ref and the engine's message
// (e.g. an unreachable registry).
func (e *Engine) EnsureImage(ctx context.Context, ref string, policy PullPolicy) error {
	if _, err := ParsePullPolicy(string(policy)); err != nil {
		return err
	}
	if policy != PullAlways {
		_, err := e.cli.ImageInspect(ctx, ref)
		switch {
		case err == nil:
			return nil
		case !cerrdefs.IsNotFound(err):
			return fmt.Errorf("ask engine %s for image %q: %w", e.where, ref, err)
		case policy == PullNever:
			return &PullForbiddenError{Ref: ref}
		}
	}
	return e.pull(ctx, ref)
}

// pull pulls ref through the engine, draining its progress stream.
func (e *Engine) pull(ctx context.Context, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("pull %q: not a valid image reference: %w", ref, err)
	}
	opts := client.ImagePullOptions{}
	if auth, err := registryAuth(ctx, r); err == nil {
		opts.RegistryAuth = auth
	}
	resp, err := e.cli.ImagePull(ctx, ref, opts)
	if err != nil {
		return &PullError{Ref: ref, Err: err}
	}
	defer resp.Close()
	if err := readStream(resp, func(jsonstream.Message) {}); err != nil {
		return &PullError{Ref: ref, Err: err}
	}
	if _, err := e.cli.ImageInspect(ctx, ref); err != nil {
		return fmt.Errorf("pull %q finished but the engine has no such image: %w", ref, err)
	}
	return nil
}

// PullError is a pull the engine could not do.
type PullError struct {
	Ref string
	Err error // the engine's error
}

// Error names the image, the engine's message and the fixes.
func (e *PullError) Error() string {
	return fmt.Sprintf("pull %q: %v; check the reference and that the engine can reach the registry, or load the image yourself and use the pull policy never", e.Ref, e.Err)
}

// Unwrap returns the engine's error.
func (e *PullError) Unwrap() error { return e.Err }

// registryAuth encodes the docker config's credentials for ref's registry
// for the X-Registry-Auth header; anonymous access gives "".
func registryAuth(ctx context.Context, ref name.Reference) (string, error) {
	a, err := authn.Resolve(ctx, authn.DefaultKeychain, ref.Context())
	if err != nil || a == authn.Anonymous {
		return "", err
	}
	cfg, err := authn.Authorization(ctx, a)
	if err != nil {
		return "", err
	}
	return authconfig.Encode(registry.AuthConfig{
		Username:      cfg.Username,
		Password:      cfg.Password,
		Auth:          cfg.Auth,
		IdentityToken: cfg.IdentityToken,
		RegistryToken: cfg.RegistryToken,
		ServerAddress: ref.Context().RegistryStr(),
	})
}

// Image returns the image ref as stored in the engine, for use as a base:
// its layers are read by saving the image from the engine when first
// needed (unbuffered, so nothing is held in memory), and its config is the
// engine's own config blob, so nothing is lost in translation. The image
// reads from the engine lazily with ctx, so ctx must outlive its use. It
// fails with an error matching ErrImageNotFound when the engine lacks ref.
func (e *Engine) Image(ctx context.Context, ref string) (v1.Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image %q: not a valid image reference: %w", ref, err)
	}
	if _, err := e.cli.ImageInspect(ctx, ref); err != nil {
		return nil, e.inspectErr(ref, err)
	}
	img, err := daemon.Image(r, daemon.WithClient(e.cli), daemon.WithContext(ctx), daemon.WithUnbufferedOpener())
	if err != nil {
		return nil, fmt.Errorf("read image %q from engine %s: %w", ref, e.where, err)
	}
	return rawConfigImage{img}, nil
}

// rawConfigImage serves the config parsed from the image's own config blob;
// the daemon package rebuilds it from inspect and history, which drops
// fields and timestamps' precision.
type rawConfigImage struct{ v1.Image }

// ConfigFile parses the raw config blob.
func (i rawConfigImage) ConfigFile() (*v1.ConfigFile, error) {
	b, err := i.RawConfigFile()
	if err != nil {
		return nil, err
	}
	return v1.ParseConfigFile(bytes.NewReader(b))
}

// ImageInfo is what Inspect reports about an image.
type ImageInfo struct {
	// ID is the engine's image ID ("sha256:…").
	ID string
	// Size is the image size in bytes, as the engine counts it.
	Size int64
	// RepoTags are the image's tags.
	RepoTags []string
	// RepoDigests are the registry digests the image was pulled by, e.g.
	// "alpine@sha256:…"; none for an image that was never pulled.
	RepoDigests []string
	// Architecture, Os and Variant are the image's platform.
	Architecture, Os, Variant string
	// Created is the image's creation time (zero if the engine gave none).
	Created time.Time
	// Config is the image's run configuration.
	Config ImageConfig
}

// ImageConfig is the run configuration of an image.
type ImageConfig struct {
	User         string            // e.g. "65532:65532"; "" means root
	Env          []string          // "KEY=value"
	Entrypoint   []string          // exec form
	Cmd          []string          // exec form
	WorkingDir   string            // "" means /
	Labels       map[string]string // e.g. org.opencontainers.image.*
	ExposedPorts []string          // e.g. "8080/tcp", sorted
}

// Inspect returns what the engine knows about image ref. It fails with an
// error matching ErrImageNotFound when the engine lacks ref.
func (e *Engine) Inspect(ctx context.Context, ref string) (ImageInfo, error) {
	res, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		return ImageInfo{}, e.inspectErr(ref, err)
	}
	info := ImageInfo{
		ID: res.ID, Size: res.Size, RepoTags: res.RepoTags, RepoDigests: res.RepoDigests,
		Architecture: res.Architecture, Os: res.Os, Variant: res.Variant,
	}
	if t, err := time.Parse(time.RFC3339Nano, res.Created); err == nil {
		info.Created = t
	}
	if c := res.Config; c != nil {
		info.Config = ImageConfig{
			User: c.User, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
			WorkingDir: c.WorkingDir, Labels: c.Labels,
		}
		for p := range c.ExposedPorts {
			info.Config.ExposedPorts = append(info.Config.ExposedPorts, p)
		}
		sort.Strings(info.Config.ExposedPorts)
	}
	return info, nil
}

// Remove deletes image ref (a tag or an ID) like `docker rmi -f`: the tag,
// and the image when nothing else holds it. A missing image is not an
// error, so cleanups can call it unconditionally.
func (e *Engine) Remove(ctx context.Context, ref string) error {
	_, err := e.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove image %q: %w", ref, err)
	}
	return nil
}

// inspectErr turns an inspect failure into an error naming ref, matching
// ErrImageNotFound when the engine lacks it.
func (e *Engine) inspectErr(ref string, err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("image %q: %w at %s", ref, ErrImageNotFound, e.where)
	}
	return fmt.Errorf("ask engine %s for image %q: %w", e.where, ref, err)
}

// shortID returns the first 12 hex digits of an image ID, as docker shows it.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// lostError is a broken engine connection, said in one line; the HTTP
// client's error stays reachable with errors.Is/As.
type lostError struct {
	msg string
	err error
}

func (e *lostError) Error() string { return e.msg }
func (e *lostError) Unwrap() error { return e.err }

// connectionLost reports whether err is the engine's connection breaking
// off (the engine stopped or crashed) rather than an answer from it.
func connectionLost(err error) bool {
	var op *net.OpError
	return client.IsErrConnectionFailed(err) || errors.As(err, &op) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// lostCause is the short reason of a lost connection, e.g. "write: broken
// pipe", without the request URL the HTTP client puts around it.
func lostCause(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		err = u
	}
	return err.Error()
}
