package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/magepack/magepack/tasks/dockerfile"
	"github.com/magepack/magepack/tasks/engine"
)

// DockerfileFacts is what gather found of the configured Dockerfile
// (MAGEPACK_DOCKERFILE) and of go.mod's go directive.
type DockerfileFacts struct {
	// Path is the Dockerfile relative to the module root, slash-separated;
	// Outside is true when it is not under the root (the build context).
	Path    string
	Outside bool
	// File is the parsed Dockerfile, or ReadErr why it could not be read
	// (fs.ErrNotExist when it is missing).
	File    *dockerfile.File
	ReadErr error
	// GoMod is go.mod's go directive, or GoModErr why it could not be read.
	GoMod    *semver.Version
	GoModErr error
}

// Dockerfile is what an own-Dockerfile build will do.
type Dockerfile struct {
	Path    string // relative to the module root, slash-separated
	Builder string // the GO_IMAGE build argument
	GoMod   *semver.Version
	// GoBuilder says whose Go version to check: the GO_IMAGE argument's,
	// or the image the build stage names.
	GoBuilder dockerfile.GoBuilder
	Syntax    string // a "# syntax=" directive, which the legacy builder ignores
	SyntaxAt  int
}

// BuilderImage is the image whose Go builds the binary.
func (d Dockerfile) BuilderImage() string {
	if d.GoBuilder.UsesArg {
		return d.Builder
	}
	return d.GoBuilder.Image
}

// decideDockerfile plans the build with the repository's own Dockerfile,
// when one is configured. A Dockerfile outside the module, missing or
// unreadable, one that needs BuildKit, or an unreadable go.mod is a
// mistake.
func (p *Plan) decideDockerfile(f *DockerfileFacts) error {
	if f == nil {
		return nil
	}
	df := p.Options.Dockerfile
	switch {
	case f.Outside:
		return Bad("MAGEPACK_DOCKERFILE", fmt.Errorf("dockerfile %s is outside the module %s: the build context is the module root", df, p.Root))
	case isNotExist(f.ReadErr):
		return Bad("MAGEPACK_DOCKERFILE", fmt.Errorf("dockerfile %s does not exist in %s: fix MAGEPACK_DOCKERFILE (a path relative to the module root)", f.Path, p.Root))
	case f.ReadErr != nil:
		return Bad("MAGEPACK_DOCKERFILE", f.ReadErr)
	case len(f.File.BuildKit) > 0:
		// Said before the context is sent or any image is pulled.
		return &engine.BuildKitError{Dockerfile: f.Path, BuildKitLine: f.File.BuildKit[0], More: len(f.File.BuildKit) - 1}
	case f.GoModErr != nil:
		return &Error{Err: f.GoModErr}
	}
	d := &Dockerfile{Path: f.Path, Builder: p.Options.Builder, GoMod: f.GoMod, Syntax: f.File.Syntax, SyntaxAt: f.File.SyntaxLine}
	if d.Builder == "" {
		d.Builder = dockerfile.DefaultBuilder(f.GoMod)
	}
	args := map[string]string{}
	for k, v := range p.BuildArgs(*d, p.Services[0]) {
		if k != "GO_IMAGE" {
			args[k] = *v
		}
	}
	d.GoBuilder = f.File.GoBuilder("GO_IMAGE", args)
	p.Dockerfile = d
	return nil
}

// BuildArgs are the build arguments every magepack Dockerfile build gets;
// a Dockerfile shared by several services tells them apart by SERVICE
// and MAIN.
func (p *Plan) BuildArgs(d Dockerfile, u Unit) map[string]*string {
	str := func(v string) *string { return &v }
	args := map[string]*string{
		"GO_IMAGE":     str(d.Builder),
		"ALPINE_IMAGE": str(p.Options.AlpineBase),
		"VERSION":      str(p.Version.Version.String()),
		"COMMIT":       str(p.Version.Commit),
		"DATE":         str(p.Version.Date.UTC().Format(time.RFC3339)),
	}
	if len(p.Services) > 1 {
		args["SERVICE"] = str(u.Name)
		args["MAIN"] = str(u.Main)
	}
	return args
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
