package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/magepack/magepack/tasks/version"
)

// DefaultJobs is how many blobs Push uploads at once unless WithJobs says
// otherwise.
const DefaultJobs = 4

// Option configures Push and RemoteBase.
type Option func(*options) error

type options struct {
	keychain  authn.Keychain
	jobs      int
	transport http.RoundTripper
	log       func(string)
}

// WithKeychain resolves registry credentials with kc instead of
// authn.DefaultKeychain (the docker config at $DOCKER_CONFIG/config.json,
// default ~/.docker/config.json, and its credential helpers).
func WithKeychain(kc authn.Keychain) Option {
	return func(o *options) error {
		if kc == nil {
			return errors.New("WithKeychain(nil): pass a keychain, or leave the option out for the docker config")
		}
		o.keychain = kc
		return nil
	}
}

// WithJobs bounds how many blobs Push uploads at once (default DefaultJobs).
func WithJobs(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("WithJobs(%d): use at least 1 concurrent upload", n)
		}
		o.jobs = n
		return nil
	}
}

// WithTransport sends registry requests through t (e.g. one trusting an
// extra CA) instead of http.DefaultTransport.
func WithTransport(t http.RoundTripper) Option {
	return func(o *options) error {
		if t == nil {
			return errors.New("WithTransport(nil): pass a transport, or leave the option out for the default one")
		}
		o.transport = t
		return nil
	}
}

// WithLog sends one line per finished push or fetch to log.
func WithLog(log func(string)) Option {
	return func(o *options) error {
		o.log = log
		return nil
	}
}

func makeOptions(opts []Option) (*options, error) {
	o := &options{keychain: authn.DefaultKeychain, jobs: DefaultJobs, log: func(string) {}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	if o.log == nil {
		o.log = func(string) {}
	}
	return o, nil
}

func (o *options) remote(ctx context.Context) []remote.Option {
	ro := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain),
		remote.WithJobs(o.jobs),
		remote.WithUserAgent("magepack"),
	}
	if o.transport != nil {
		ro = append(ro, remote.WithTransport(o.transport))
	}
	return ro
}

// Pushed is one tag Push wrote.
type Pushed struct {
	// Reference is the full tag, e.g. "registry.example.com/app:1.2.3-scratch".
	Reference string
	// Digest is the index's manifest digest ("sha256:…"), the same for
	// every tag of one push.
	Digest string
	// Bytes is how many bytes of blobs and manifests were uploaded for this
	// tag (blobs the registry already had are not uploaded again; later
	// tags only add a manifest).
	Bytes int64
	// Duration is how long this tag took.
	Duration time.Duration
}

// AuthError is returned when a registry refuses the credentials (or their
// absence). Its message says how to log in.
type AuthError struct {
	// Host is the registry, e.g. "127.0.0.1:5000" or "ghcr.io".
	Host string
	// Err is the registry's answer.
	Err error
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("authentication to %s failed (%v): log in with `docker login %s`, or point DOCKER_CONFIG at a directory whose config.json has credentials for %s",
		e.Host, e.Err, e.Host, e.Host)
}

func (e *AuthError) Unwrap() error { return e.Err }

// classify turns a registry's refusal into an *AuthError, and says what
// to check when the registry cannot be reached.
func classify(host string, err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return fmt.Errorf("registry %s is not reachable (%w): check the host and port in the image name, and that the registry is up", host, err)
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		auth := terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden
		for _, d := range terr.Errors {
			if d.Code == transport.UnauthorizedErrorCode || d.Code == transport.DeniedErrorCode {
				auth = true
			}
		}
		if auth {
			return &AuthError{Host: host, Err: err}
		}
	}
	return err
}

// Push uploads idx with all its images to repo (e.g. "ghcr.io/me/app" or
// "127.0.0.1:5000/app") under each of tags: the first tag carries the blobs
// (uploaded WithJobs at a time, skipping those the registry has), later
// tags only add a manifest. Credentials come from the docker config
// (WithKeychain to change). Registries on localhost or 127.0.0.0/8 are
// spoken to over plain HTTP, as the Docker engine does; any other host over
// HTTPS.
//
// It returns one Pushed per tag written so far and, on failure, an error
// naming the reference; a refused login is an *AuthError that says how to
// log in.
func Push(ctx context.Context, repo string, idx v1.ImageIndex, tags []string, opts ...Option) ([]Pushed, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", repo, err)
	}
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("push: repository %q is not valid (%v): give host/path without a tag, e.g. ghcr.io/me/app", repo, err)
	}
	if idx == nil {
		return nil, fmt.Errorf("push %s: no image index: build one with Index first", repo)
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("push %s: no tags: give at least one", repo)
	}
	refs := make([]name.Tag, len(tags))
	for i, t := range tags {
		ref, err := name.NewTag(r.String() + ":" + t)
		if err != nil || ref.TagStr() != t || version.ValidTag(t) != nil {
			return nil, fmt.Errorf("push %s: tag %q is not valid: tags are up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", repo, t)
		}
		refs[i] = ref
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("push %s: compute the index digest: %w", repo, err)
	}
	host := r.RegistryStr()

	var pushed []Pushed
	for i, ref := range refs {
		start := time.Now()
		var bytes int64
		if i == 0 {
			bytes, err = writeIndex(ctx, o, ref, idx)
		} else {
			var size int64
			size, err = idx.Size()
			if err == nil {
				err = remote.Tag(ref, idx, o.remote(ctx)...)
				bytes = size
			}
		}
		if err != nil {
			return pushed, fmt.Errorf("push %s: %w", ref, classify(host, err))
		}
		p := Pushed{Reference: ref.String(), Digest: digest.String(), Bytes: bytes, Duration: time.Since(start)}
		pushed = append(pushed, p)
		o.log(fmt.Sprintf("[push] %s@%s %d bytes in %s", p.Reference, p.Digest, p.Bytes, p.Duration.Round(time.Millisecond)))
	}
	return pushed, nil
}

// writeIndex pushes idx with its blobs and returns the bytes uploaded.
func writeIndex(ctx context.Context, o *options, ref name.Tag, idx v1.ImageIndex) (int64, error) {
	updates := make(chan v1.Update, 64)
	done := make(chan int64)
	go func() {
		var complete int64
		for u := range updates {
			if u.Error == nil && u.Complete > complete {
				complete = u.Complete
			}
		}
		done <- complete
	}()
	err := remote.WriteIndex(ref, idx, append(o.remote(ctx), remote.WithProgress(updates))...)
	complete := <-done // remote closes updates when it returns
	return complete, err
}

// MissingPlatformError is returned by RemoteBase when the base image has no
// image for a requested platform.
type MissingPlatformError struct {
	// Ref is the base image reference.
	Ref string
	// Platform is the requested platform, e.g. "linux/s390x".
	Platform string
	// Available lists the platforms the base has, sorted.
	Available []string
}

func (e *MissingPlatformError) Error() string {
	return fmt.Sprintf("base image %s has no %s image (it has %s): drop %s from the platforms or use a base built for it",
		e.Ref, e.Platform, strings.Join(e.Available, ", "), e.Platform)
}

// RemoteBase fetches the base image ref (e.g. "alpine:3.20") from its
// registry and returns, in the order of platforms, the image for each
// platform: from a multi-platform index the manifest whose platform
// matches (for arm64, variant "v8" and none are the same; a platform
// without variant takes the first of its os/arch), from a single image the
// image itself if its config's platform matches. Layers are fetched
// lazily, when read.
//
// It fails with a *MissingPlatformError, naming the platform and listing
// those the base has, when one is missing; with an *AuthError when the
// registry refuses the credentials; otherwise with an error naming ref.
func RemoteBase(ctx context.Context, ref string, platforms []v1.Platform, opts ...Option) ([]v1.Image, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", ref, err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("base image %q is not a valid reference (%v): use e.g. alpine:3.20 or registry.example.com/alpine:3.20", ref, err)
	}
	if len(platforms) == 0 {
		return nil, fmt.Errorf("base image %s: no platforms asked for: name at least one, e.g. linux/amd64", ref)
	}
	desc, err := remote.Get(r, o.remote(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("fetch base image %s: %w", ref, classify(r.Context().RegistryStr(), err))
	}

	imgs := make([]v1.Image, len(platforms))
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("fetch base image %s: %w", ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("fetch base image %s: read config: %w", ref, classify(r.Context().RegistryStr(), err))
		}
		have := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
		for i, want := range platforms {
			if !platformMatches(have, want, false) {
				return nil, &MissingPlatformError{Ref: ref, Platform: want.String(), Available: []string{have.String()}}
			}
			imgs[i] = img
		}
		o.log(fmt.Sprintf("[base] %s is a single %s image", ref, have.String()))
		return imgs, nil
	}

	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("fetch base image %s: %w", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("fetch base image %s: %w", ref, err)
	}
	for i, want := range platforms {
		d, ok := pickPlatform(im.Manifests, want)
		if !ok {
			return nil, &MissingPlatformError{Ref: ref, Platform: want.String(), Available: availablePlatforms(im.Manifests)}
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("fetch base image %s for %s: %w", ref, want.String(), classify(r.Context().RegistryStr(), err))
		}
		imgs[i] = img
		o.log(fmt.Sprintf("[base] %s for %s is %s", ref, want.String(), d.Digest))
	}
	return imgs, nil
}

// pickPlatform returns the image descriptor for want: an exact variant
// match first, else (when want has no variant) the first of its os/arch.
func pickPlatform(ds []v1.Descriptor, want v1.Platform) (v1.Descriptor, bool) {
	for _, strict := range []bool{true, false} {
		for _, d := range ds {
			if d.Platform != nil && !d.MediaType.IsIndex() && platformMatches(*d.Platform, want, strict) {
				return d, true
			}
		}
	}
	return v1.Descriptor{}, false
}

// platformMatches reports whether have serves want. strict demands the same
// (normalized) variant; otherwise a want without variant takes any.
func platformMatches(have, want v1.Platform, strict bool) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	hv, wv := normVariant(have), normVariant(want)
	if hv == wv {
		return true
	}
	return !strict && wv == ""
}

func normVariant(p v1.Platform) string {
	if p.Architecture == "arm64" && p.Variant == "v8" {
		return ""
	}
	return p.Variant
}

func availablePlatforms(ds []v1.Descriptor) []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range ds {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue // attestation manifests
		}
		s := d.Platform.String()
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// RemoteDigest returns the digest ("sha256:…") that ref (e.g.
// "alpine:3.20") resolves to in its registry: for a multi-platform base,
// the index's digest, which is what the index-level
// org.opencontainers.image.base.digest annotation names. It asks with a
// HEAD request, falling back to GET where a registry does not answer HEAD
// with a digest. It fails with an *AuthError when the registry refuses the
// credentials, otherwise with an error naming ref.
func RemoteDigest(ctx context.Context, ref string, opts ...Option) (string, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return "", fmt.Errorf("digest of %s: %w", ref, err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image %q is not a valid reference (%v): use e.g. alpine:3.20 or registry.example.com/alpine:3.20", ref, err)
	}
	desc, err := remote.Head(r, o.remote(ctx)...)
	if err != nil {
		d, gerr := remote.Get(r, o.remote(ctx)...)
		if gerr != nil {
			return "", fmt.Errorf("digest of %s: %w", ref, classify(r.Context().RegistryStr(), gerr))
		}
		return d.Digest.String(), nil
	}
	return desc.Digest.String(), nil
}
