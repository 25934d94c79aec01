package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/internal/fixture"
)

func TestDecodeBuildStream(t *testing.T) {
	tests := []struct {
		name       string
		stream     string
		wantID     string
		wantLines  []string
		wantStep   *BuildStepError
		wantErrSub string
	}{
		{
			name: "aux ID, chunks split mid-line",
			stream: `{"stream":"Step 1/2 : FROM scratch\n"}
{"stream":" ---\u003e \n"}
{"stream":"Step 2/2 : COPY a /a\n"}
{"stream":" ---\u003e 1a2b3c\n"}
{"aux":{"ID":"sha256:1a2b3c4d"}}
{"stream":"Successfully built 1a2b3c4d\n"}
{"stream":"Succe"}{"stream":"ssfully tagged app:1\n"}`,
			wantID:    "sha256:1a2b3c4d",
			wantLines: []string{"Step 1/2 : FROM scratch", "--->", "Step 2/2 : COPY a /a", "---> 1a2b3c", "Successfully built 1a2b3c4d", "Successfully tagged app:1"},
		},
		{
			name:      "short ID from Successfully built when no aux",
			stream:    `{"stream":"Step 1/1 : FROM scratch\n"}{"stream":"Successfully built 0123abcd\n"}`,
			wantID:    "0123abcd",
			wantLines: []string{"Step 1/1 : FROM scratch", "Successfully built 0123abcd"},
		},
		{
			name: "failing step keeps its output only",
			stream: `{"stream":"Step 1/3 : FROM base\n"}
{"stream":" ---\u003e abc\n"}
{"stream":"Step 2/3 : RUN echo one\n"}
{"stream":" ---\u003e Running in 111\n"}
{"stream":"one\n"}
{"stream":"Removing intermediate container 111\n"}
{"stream":"Step 3/3 : RUN make\n"}
{"stream":" ---\u003e Running in 222\n"}
{"stream":"cc -o app main.c\r\n\u001b[91mmain.c:1: error"}
{"errorDetail":{"code":2,"message":"The command '/bin/sh -c make' returned a non-zero code: 2"},"error":"The command '/bin/sh -c make' returned a non-zero code: 2"}`,
			wantStep: &BuildStepError{
				Step: "Step 3/3 : RUN make", Output: "cc -o app main.c\nmain.c:1: error",
				Message: "The command '/bin/sh -c make' returned a non-zero code: 2", Code: 2,
			},
		},
		{
			name:     "error before the first step",
			stream:   `{"errorDetail":{"message":"dockerfile parse error line 1: unknown instruction: FORM"},"error":"dockerfile parse error line 1: unknown instruction: FORM"}`,
			wantStep: &BuildStepError{Message: "dockerfile parse error line 1: unknown instruction: FORM"},
		},
		{
			name:       "no image ID",
			stream:     `{"stream":"Step 1/1 : FROM scratch\n"}`,
			wantErrSub: "ended without an image ID",
		},
		{
			name:       "garbage",
			stream:     `{"stream":"Step 1/1 : FROM scratch\n"} not json`,
			wantErrSub: "read the engine's build output",
		},
		{
			name:      "pull status lines without progress bars",
			stream:    `{"status":"Pulling from library/alpine","id":"3"}{"status":"Downloading","progressDetail":{"current":1,"total":9},"id":"abc"}{"aux":{"ID":"sha256:ff"}}`,
			wantID:    "sha256:ff",
			wantLines: []string{"3 Pulling from library/alpine"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			id, err := decodeBuildStream(strings.NewReader(tt.stream), func(l string) { lines = append(lines, l) })
			switch {
			case tt.wantStep != nil:
				var se *BuildStepError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, tt.wantStep, se)
			case tt.wantErrSub != "":
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErrSub)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.wantID, id)
				assert.Equal(t, tt.wantLines, lines)
			}
		})
	}
}

func TestBuildStepErrorMessage(t *testing.T) {
	err := &BuildStepError{Step: "Step 3/7 : RUN go build ./...", Output: "main.go:3:1: syntax error\n", Message: "The command '/bin/sh -c go build ./...' returned a non-zero code: 1", Code: 1}
	assert.Equal(t, "Step 3/7 : RUN go build ./... failed: The command '/bin/sh -c go build ./...' returned a non-zero code: 1\nstep output:\n  main.go:3:1: syntax error", err.Error())
	early := &BuildStepError{Message: "unknown instruction: FORM"}
	assert.Equal(t, "docker build failed before its first step: unknown instruction: FORM", early.Error())
}

func TestBuildEngine(t *testing.T) {
	e := smokeTestEngine(t)
	run := randomHex(4)
	base := "magepack-test/engine-build-base:" + run
	importTestImage(t, e, base, map[string]testFile{
		"bin/busybox": {src: fixture.Busybox(t)},
		"bin/sh":      {link: "busybox"},
		"bin/sleep":   {link: "busybox"},
	}, `CMD ["/bin/sh"]`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	baseImg, err := e.cli.ImageInspect(ctx, base)
	require.NoError(t, err)
	// Builds leave intermediate images on the base; the base is this run's
	// own, so everything descending from it is ours to remove.
	t.Cleanup(func() { removeImageDescendants(t, e, baseImg.ID) })

	hello := "hello"
	tests := []struct {
		name       string
		files      contextTree
		opts       BuildOptions
		wantErr    []string
		wantStep   string
		wantOutput []string
	}{
		{
			name: "multi-stage to scratch",
			files: contextTree{"Dockerfile": "FROM " + base + " AS b\nARG GREETING=hi\nRUN echo \"$GREETING\" > /out && read -r v < /out && test \"$v\" = hello\n" +
				"FROM scratch\nCOPY --from=b /out /out\n"},
			opts: BuildOptions{
				Tags:      []string{"magepack-test/engine-build:" + run + "-a", "magepack-test/engine-build:" + run + "-b"},
				BuildArgs: map[string]*string{"GREETING": &hello},
				Labels:    map[string]string{"org.magepack.test.run": run},
			},
		},
		{
			name: "dockerignore honoured end to end",
			files: contextTree{
				"docker/Dockerfile": "FROM " + base + "\nCOPY . /ctx\n" +
					"RUN test ! -e /ctx/secret.txt && test -e /ctx/keep.txt && test ! -e /ctx/.git && test ! -e /ctx/logs/a.log && test -e /ctx/logs/keep.log\n",
				".dockerignore": "secret.txt\nlogs\n!logs/keep.log\n",
				"secret.txt":    "hunter2", "keep.txt": "k", ".git/HEAD": "ref: refs/heads/main\n",
				"logs/a.log": "a", "logs/keep.log": "k",
			},
			opts: BuildOptions{Dockerfile: "docker/Dockerfile", Tags: []string{"magepack-test/engine-build:" + run + "-ctx"}},
		},
		{
			name:       "failing step",
			files:      contextTree{"Dockerfile": "FROM " + base + "\nRUN echo preparing && echo 'about to fail' >&2 && exit 3\n"},
			wantStep:   "Step 2/2 : RUN echo preparing && echo 'about to fail' >&2 && exit 3",
			wantErr:    []string{"returned a non-zero code: 3", "  about to fail"},
			wantOutput: []string{"preparing", "about to fail"},
		},
		{
			name:    "Dockerfile outside the context",
			files:   contextTree{"a": "a"},
			opts:    BuildOptions{Dockerfile: "../Dockerfile"},
			wantErr: []string{"is outside the build context"},
		},
		{
			name:    "missing Dockerfile",
			files:   contextTree{"a": "a"},
			wantErr: []string{"dockerfile Dockerfile does not exist in the build context", "Dockerfile setting"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.ContextDir = writeContextTree(t, tt.files)
			var mu sync.Mutex
			var lines []string
			opts.Progress = func(l string) {
				mu.Lock()
				defer mu.Unlock()
				lines = append(lines, l)
			}
			for _, tag := range opts.Tags {
				t.Cleanup(func() { removeTestImage(t, e, tag) })
			}
			res, err := e.Build(ctx, opts)
			for _, l := range lines {
				assert.NotContains(t, l, `{"`, "progress is text, not JSON")
				assert.Equal(t, strings.TrimSpace(l), l, "progress lines are trimmed")
			}
			assert.Empty(t, buildContainers(t, e, baseImg.ID), "intermediate containers removed")
			if len(tt.wantErr) == 0 {
				require.NoError(t, err)
				assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, res.ID)
				assert.Positive(t, res.Duration)
				assert.Positive(t, res.Context.Files)
				for _, tag := range opts.Tags {
					img, err := e.cli.ImageInspect(ctx, tag)
					require.NoError(t, err, "tagged %s", tag)
					assert.Equal(t, res.ID, img.ID, tag)
					for k, v := range opts.Labels {
						assert.Equal(t, v, img.Config.Labels[k])
					}
				}
				require.NotEmpty(t, lines)
				assert.True(t, strings.HasPrefix(lines[0], "Step 1/"), "first line %q", lines[0])
				return
			}
			require.Error(t, err)
			t.Logf("the error as users see it:\n%v", err)
			for _, s := range tt.wantErr {
				assert.Contains(t, err.Error(), s)
			}
			var se *BuildStepError
			if tt.wantStep == "" {
				assert.False(t, errors.As(err, &se), "not a step failure")
				return
			}
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tt.wantStep, se.Step)
			assert.Equal(t, 3, se.Code)
			for _, s := range tt.wantOutput {
				assert.Contains(t, se.Output, s)
			}
			assert.NotContains(t, se.Output, "Running in", "engine bookkeeping is not step output")
		})
	}

	t.Run("cancel mid-build", func(t *testing.T) {
		dir := writeContextTree(t, contextTree{"Dockerfile": "FROM " + base + "\nRUN sleep 60\n"})
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		started := make(chan struct{})
		var once sync.Once
		go func() {
			<-started
			time.Sleep(time.Second)
			ccancel()
		}()
		begin := time.Now()
		_, err := e.Build(cctx, BuildOptions{ContextDir: dir, Progress: func(l string) {
			if strings.HasPrefix(l, "Step 2/2") {
				once.Do(func() { close(started) })
			}
		}})
		require.Error(t, err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(begin), 30*time.Second)
		assert.Eventually(t, func() bool { return len(buildContainers(t, e, baseImg.ID)) == 0 }, 20*time.Second, 250*time.Millisecond,
			"the engine removes the cancelled step's container")
	})
}

// buildContainers lists containers (running or not) made from the image id
// or its descendants.
func buildContainers(t *testing.T, e *Engine, id string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("ancestor", id)})
	require.NoError(t, err)
	var out []string
	for _, c := range list.Items {
		out = append(out, c.ID)
	}
	return out
}

// removeImageDescendants removes every image whose parent chain leads to
// id (children first); the caller removes id itself.
func removeImageDescendants(t *testing.T, e *Engine, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := e.cli.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		t.Errorf("list images to clean up: %v", err)
		return
	}
	children := map[string][]string{}
	for _, img := range list.Items {
		children[img.ParentID] = append(children[img.ParentID], img.ID)
	}
	var remove func(string)
	remove = func(parent string) {
		for _, child := range children[parent] {
			remove(child)
			if _, err := e.cli.ImageRemove(ctx, child, client.ImageRemoveOptions{Force: true}); err != nil {
				t.Errorf("remove build image %s: %v", child, err)
			}
		}
	}
	remove(id)
}
