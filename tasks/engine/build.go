package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"

	"github.com/magepack/magepack/tasks/dockerfile"
)

// BuildOptions configures a build from the repo's own Dockerfile.
type BuildOptions struct {
	ContextDir string             // the build context directory
	Dockerfile string             // path of the Dockerfile relative to ContextDir; default "Dockerfile"
	Tags       []string           // references to tag the image with
	BuildArgs  map[string]*string // --build-arg values; nil takes the value from the builder's environment
	Labels     map[string]string  // labels set on the image
	Pull       bool               // always try to pull newer versions of the FROM images
	Progress   func(string)       // receives each line of build output, trimmed; may be nil
}

// BuildResult describes a finished build.
type BuildResult struct {
	ID       string        // the image ID, sha256:…
	Duration time.Duration // wall time of the build, context upload included
	Context  ContextStats  // what the build context held
}

// BuildStepError reports a Dockerfile step that failed: the step, the
// output it printed and the engine's message.
type BuildStepError struct {
	Step    string // e.g. "Step 3/7 : RUN go build ./..."; empty when the build failed before the first step
	Output  string // the failing step's output lines, without the engine's bookkeeping lines
	Message string // the engine's message, e.g. "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
	Code    int    // the step's exit code when the engine reports one
}

// Error shows the step, the engine's message and the step's output.
func (e *BuildStepError) Error() string {
	var b strings.Builder
	if e.Step == "" {
		fmt.Fprintf(&b, "docker build failed before its first step: %s", e.Message)
	} else {
		fmt.Fprintf(&b, "%s failed: %s", e.Step, e.Message)
	}
	if out := strings.TrimRight(e.Output, "\n"); out != "" {
		b.WriteString("\nstep output:")
		for _, line := range strings.Split(out, "\n") {
			b.WriteString("\n  ")
			b.WriteString(line)
		}
	}
	return b.String()
}

// BuildKitError reports a Dockerfile line that only BuildKit builds, found
// before any of the build context is sent: Build uses the engine's legacy
// builder (the Engine API's /build without a BuildKit session), which
// rejects it.
type BuildKitError struct {
	// Dockerfile is the Dockerfile's path relative to the build context.
	Dockerfile string
	// BuildKitLine is the first line that needs BuildKit.
	dockerfile.BuildKitLine
	// More counts the further lines that need it.
	More int
}

// Error names the line, says why it cannot be built here, and the ways
// out that do not depend on how the Dockerfile was chosen.
func (e *BuildKitError) Error() string {
	text := e.Text
	if len(text) > 100 {
		text = text[:97] + "..."
	}
	more := ""
	if e.More > 0 {
		more = fmt.Sprintf(" (and %d more line(s))", e.More)
	}
	return fmt.Sprintf("dockerfile %s line %d needs BuildKit (%s): %s%s; this engine builds it with its legacy builder (the Engine API's build endpoint without a BuildKit session), which rejects that: build this Dockerfile with BuildKit (docker buildx build), or rewrite the line without BuildKit-only syntax",
		e.Dockerfile, e.Line, e.Feature, text, more)
}

// checkDockerfile returns a *BuildKitError when the Dockerfile at path
// (rel in the context) uses BuildKit-only syntax. It leaves a Dockerfile
// it cannot read to the build, which reports that itself.
func checkDockerfile(path, rel string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	df, err := dockerfile.Parse(f)
	if err != nil || len(df.BuildKit) == 0 {
		return nil
	}
	return &BuildKitError{Dockerfile: rel, BuildKitLine: df.BuildKit[0], More: len(df.BuildKit) - 1}
}

// Build builds an image from a Dockerfile in opts.ContextDir with the
// engine's classic builder (the Engine API's /build, no BuildKit session),
// streaming the context filtered by .dockerignore (see BuildContext) and
// removing intermediate containers. Each output line goes to opts.Progress.
// It returns the new image's ID. A Dockerfile using syntax only BuildKit
// builds (RUN --mount, COPY --link, heredocs, ...; see ParseDockerfile) is
// refused before anything is sent, with a *BuildKitError (wrapped); a
// failing Dockerfile step is returned as a *BuildStepError (wrapped), and a
// bad context or engine failure as an error naming the context directory.
func (e *Engine) Build(ctx context.Context, opts BuildOptions) (res BuildResult, err error) {
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	if opts.ContextDir == "" {
		return res, errors.New("docker build: no context directory given; set the directory holding the Dockerfile's sources")
	}
	root, err := filepath.Abs(opts.ContextDir)
	if err != nil {
		return res, fmt.Errorf("docker build of %s: %w", opts.ContextDir, err)
	}
	dockerfile := opts.Dockerfile
	if dockerfile != "" && !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(root, dockerfile)
	}
	rel, err := dockerfileInContext(root, dockerfile)
	if err != nil {
		return res, fmt.Errorf("docker build of %s: %w", opts.ContextDir, err)
	}
	wrap := func(err error) error {
		return fmt.Errorf("docker build of %s with %s: %w", opts.ContextDir, rel, err)
	}
	if err := checkDockerfile(filepath.Join(root, filepath.FromSlash(rel)), rel); err != nil {
		return res, wrap(err)
	}
	return e.buildLegacy(ctx, opts, root, rel, wrap)
}

// buildLegacy streams the context at root and builds its Dockerfile rel
// with the legacy builder; wrap adds the build's name to errors.
func (e *Engine) buildLegacy(ctx context.Context, opts BuildOptions, root, rel string, wrap func(error) error) (res BuildResult, err error) {

	pr, pw := io.Pipe()
	type tarDone struct {
		stats ContextStats
		err   error
	}
	done := make(chan tarDone, 1)
	go func() {
		stats, err := BuildContext(root, rel, pw)
		pw.CloseWithError(err)
		done <- tarDone{stats, err}
	}()
	// finish unblocks the tar writer if the engine stopped reading and
	// returns its outcome; failing because of that is no failure of its own.
	finish := func() tarDone {
		pr.CloseWithError(errBuildStopped)
		td := <-done
		if errors.Is(td.err, errBuildStopped) || errors.Is(td.err, io.ErrClosedPipe) {
			td.err = nil
		}
		return td
	}

	resp, err := e.cli.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Tags:        opts.Tags,
		Dockerfile:  rel,
		BuildArgs:   opts.BuildArgs,
		Labels:      opts.Labels,
		PullParent:  opts.Pull,
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		td := finish()
		res.Context = td.stats
		if td.err != nil {
			return res, wrap(td.err)
		}
		return res, wrap(err)
	}
	id, streamErr := decodeBuildStream(resp.Body, opts.Progress)
	resp.Body.Close()
	td := finish()
	res.Context = td.stats
	switch {
	case td.err != nil:
		return res, wrap(td.err)
	case ctx.Err() != nil:
		return res, wrap(ctx.Err())
	case streamErr != nil:
		return res, wrap(streamErr)
	}
	if !strings.HasPrefix(id, "sha256:") {
		// Only the short ID from "Successfully built"; ask for the full one.
		img, err := e.cli.ImageInspect(ctx, id)
		if err != nil {
			return res, wrap(fmt.Errorf("inspect built image %s: %w", id, err))
		}
		id = img.ID
	}
	res.ID = id
	return res, nil
}

// errBuildStopped closes the context pipe once the engine has answered.
var errBuildStopped = errors.New("the engine stopped reading the build context")

// buildMessage is one JSON message of the /build response stream.
type buildMessage struct {
	Stream      string          `json:"stream"`
	Status      string          `json:"status"`
	ID          string          `json:"id"`
	Progress    json.RawMessage `json:"progressDetail"`
	Error       string          `json:"error"`
	ErrorDetail *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

var (
	stepLineRe    = regexp.MustCompile(`^Step \d+/\d+ : `)
	builtLineRe   = regexp.MustCompile(`^Successfully built ([0-9a-f]+)$`)
	ansiRe        = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	bookkeepingRe = regexp.MustCompile(`^(---> |Removing intermediate container |Successfully (built|tagged) )`)
)

// decodeBuildStream reads the /build JSON stream: it sends each output line
// to progress, tracks the current step and its output, and returns the image
// ID (from aux, else from "Successfully built"), or a *BuildStepError for
// the step the engine reported failing.
func decodeBuildStream(r io.Reader, progress func(string)) (string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	var (
		id, step, partial string
		output            []string
	)
	line := func(l string) {
		// The classic builder colours a step's stderr with ANSI escapes.
		l = strings.TrimSpace(ansiRe.ReplaceAllString(l, ""))
		if l == "" {
			return
		}
		progress(l)
		switch {
		case stepLineRe.MatchString(l):
			step, output = l, nil
		case bookkeepingRe.MatchString(l):
			if m := builtLineRe.FindStringSubmatch(l); m != nil && id == "" {
				id = m[1]
			}
		default:
			output = append(output, l)
		}
	}
	// Output arrives in chunks that need not end a line; \r (progress
	// bars) ends one too.
	feed := func(s string) {
		s = partial + strings.ReplaceAll(s, "\r", "\n")
		lines := strings.Split(s, "\n")
		partial = lines[len(lines)-1]
		for _, l := range lines[:len(lines)-1] {
			line(l)
		}
	}
	dec := json.NewDecoder(r)
	for {
		var m buildMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			line(partial)
			return "", fmt.Errorf("read the engine's build output: %w", err)
		}
		if m.Stream != "" {
			feed(m.Stream)
		}
		if m.Status != "" && (len(m.Progress) == 0 || string(m.Progress) == "{}") {
			feed(strings.TrimSpace(m.ID+" "+m.Status) + "\n")
		}
		if len(m.Aux) > 0 {
			var aux struct{ ID string }
			if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
		if m.Error != "" || m.ErrorDetail != nil {
			line(partial)
			se := &BuildStepError{Step: step, Output: strings.Join(output, "\n"), Message: m.Error}
			if m.ErrorDetail != nil {
				se.Code = m.ErrorDetail.Code
				if se.Message == "" {
					se.Message = m.ErrorDetail.Message
				}
			}
			return "", se
		}
	}
	line(partial)
	if id == "" {
		return "", errors.New("the engine's build output ended without an image ID; rerun the build and check the engine's log")
	}
	return id, nil
}
