package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// SmokeMode says how a smoke run judges an image.
type SmokeMode string

const (
	// SmokeOff skips the smoke run.
	SmokeOff SmokeMode = "off"
	// SmokeStart passes when the container is still running after the grace period.
	SmokeStart SmokeMode = "start"
	// SmokeHTTP passes when GET <path> on the published port answers 200.
	SmokeHTTP SmokeMode = "http"
)

// SmokeLabel marks every container a smoke run creates (value "1"), so
// leftovers of a killed process can be found and removed.
const SmokeLabel = "magepack.smoke"

// Smoke defaults, used where SmokeOptions leaves a duration zero.
const (
	DefaultSmokeGrace   = time.Second
	DefaultSmokeTimeout = 20 * time.Second
)

// smokeLogLines is how many of the container's last log lines a failure shows.
const smokeLogLines = 50

// SmokeOptions configures a smoke run.
type SmokeOptions struct {
	Mode    SmokeMode
	Path    string        // HTTP path probed in SmokeHTTP mode, starting with "/"
	Port    int           // container port the service listens on, e.g. 8080; 0 publishes nothing
	Grace   time.Duration // SmokeStart: how long the container must stay up (default 1s)
	Timeout time.Duration // SmokeHTTP: how long the path has to answer 200 (default 20s)
	Env     []string      // extra environment, KEY=value
	Cmd     []string      // overrides the image's CMD when set

	// hostNetwork forces host networking, as on an engine without a bridge
	// network; tests use it to cover that path on any engine.
	hostNetwork bool
}

// SmokeResult describes a smoke run.
type SmokeResult struct {
	Container string        // the container's name (magepack-smoke-…); it is removed by the time Smoke returns
	HostPort  int           // the loopback port probed; 0 when nothing was published
	Status    int           // the last HTTP status seen (SmokeHTTP)
	Duration  time.Duration // from start until the check passed or failed
	Logs      string        // the container's last log lines, when the run failed
	Skipped   bool          // the mode was SmokeOff
}

// SmokeError reports a smoke run that failed: the container exited early,
// the path answered something other than 200, or nothing answered in time.
type SmokeError struct {
	Ref      string // the image run
	Reason   string // what went wrong, e.g. "container exited with code 1 before answering /healthz"
	ExitCode int    // the container's exit code; -1 when it was still running
	Logs     string // the container's last log lines
}

// Error names the image, the reason and shows the container's logs.
func (e *SmokeError) Error() string {
	logs := strings.TrimRight(e.Logs, "\n")
	if logs == "" {
		logs = "(the container wrote nothing)"
	}
	return fmt.Sprintf("smoke run of %s failed: %s; logs:\n%s", e.Ref, e.Reason, logs)
}

// ParseSmoke parses a smoke setting (MAGEPACK_SMOKE): "off", "start", or an
// HTTP path starting with "/" that must answer 200. The result has Mode and
// Path set; the caller fills in Port and the rest. It returns an error
// naming s and listing the valid forms otherwise.
func ParseSmoke(s string) (SmokeOptions, error) {
	v := strings.TrimSpace(s)
	switch {
	case v == string(SmokeOff):
		return SmokeOptions{Mode: SmokeOff}, nil
	case v == string(SmokeStart):
		return SmokeOptions{Mode: SmokeStart}, nil
	case strings.HasPrefix(v, "/") && !strings.ContainsAny(v, " \t\r\n"):
		return SmokeOptions{Mode: SmokeHTTP, Path: v}, nil
	}
	return SmokeOptions{}, fmt.Errorf("smoke setting %q is not valid: use off, start, or an HTTP path starting with / (e.g. /healthz)", s)
}

// withDefaults fills zero durations and checks that the options fit together.
func (o SmokeOptions) withDefaults() (SmokeOptions, error) {
	if o.Mode == "" {
		o.Mode = SmokeStart
	}
	if o.Grace <= 0 {
		o.Grace = DefaultSmokeGrace
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultSmokeTimeout
	}
	if o.Port < 0 || o.Port > 65535 {
		return o, fmt.Errorf("smoke port %d is out of range; use 1-65535", o.Port)
	}
	switch o.Mode {
	case SmokeOff, SmokeStart:
	case SmokeHTTP:
		if !strings.HasPrefix(o.Path, "/") {
			return o, fmt.Errorf("smoke path %q must start with / (e.g. /healthz)", o.Path)
		}
		if o.Port == 0 {
			return o, fmt.Errorf("smoke path %s needs the port the image listens on; set the port (MAGEPACK_PORT)", o.Path)
		}
	default:
		return o, fmt.Errorf("smoke mode %q is not valid: use off, start or http", o.Mode)
	}
	return o, nil
}

// Smoke runs the image ref once, as a user would, and checks it: in
// SmokeStart mode it must still run after opts.Grace; in SmokeHTTP mode
// GET http://127.0.0.1:<port><opts.Path> must answer 200 within
// opts.Timeout. The container is hardened (read-only root, all capabilities
// dropped, no-new-privileges, a tmpfs /tmp), its port is published on
// 127.0.0.1 only (on an engine without a bridge network it shares the host's
// network and gets PORT=<port>), and it is always removed, also on failure
// and when ctx is cancelled. SmokeOff returns a result with Skipped set.
// A failed check returns a *SmokeError with the exit code and the last log
// lines; engine and context errors are returned wrapped.
func (e *Engine) Smoke(ctx context.Context, ref string, opts SmokeOptions) (res SmokeResult, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return res, fmt.Errorf("smoke run of %s: %w", ref, err)
	}
	if opts.Mode == SmokeOff {
		return SmokeResult{Skipped: true}, nil
	}
	hostNet := opts.hostNetwork || !e.HasBridge(ctx)
	if hostNet && opts.Port > 0 {
		if err := portFree(opts.Port); err != nil {
			return res, fmt.Errorf("smoke run of %s: the engine has no bridge network, so the container shares the host's network, but 127.0.0.1:%d is already in use (%v); stop what listens there or change the port (MAGEPACK_PORT)", ref, opts.Port, err)
		}
	}

	create := smokeCreateOptions(ref, opts, hostNet)
	res.Container = create.Name
	created, err := e.cli.ContainerCreate(ctx, create)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled while the engine was creating it: the engine may
			// have made it all the same, so remove it by its name.
			e.removeSmoke(create.Name)
			return res, fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
		}
		return res, fmt.Errorf("smoke run of %s: create container: %w", ref, err)
	}
	id := created.ID
	defer func() {
		// A fresh context: Ctrl-C (a cancelled ctx) must still remove it.
		rmCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, rmErr := e.cli.ContainerRemove(rmCtx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); rmErr != nil && err == nil {
			err = fmt.Errorf("smoke run of %s: remove container %s: %w", ref, res.Container, rmErr)
		}
	}()

	waitCtx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	wait := e.cli.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})

	started := time.Now()
	defer func() { res.Duration = time.Since(started) }()
	if _, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
		}
		return res, e.smokeFailure(id, ref, &res, -1, fmt.Sprintf("container did not start: %v", err))
	}

	if opts.Port > 0 {
		if hostNet {
			res.HostPort = opts.Port
		} else if res.HostPort, err = e.publishedPort(ctx, id, opts.Port); err != nil {
			return res, fmt.Errorf("smoke run of %s: %w", ref, err)
		}
	}

	if opts.Mode == SmokeStart {
		err = e.smokeStart(ctx, id, ref, opts, wait, &res)
	} else {
		err = e.smokeHTTP(ctx, id, ref, opts, wait, &res)
	}
	return res, err
}

// removeSmoke removes the smoke container name if it exists, with a fresh
// context so that it works after Ctrl-C. Errors are ignored: there may be
// nothing to remove.
func (e *Engine) removeSmoke(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = e.cli.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

// smokeCreateOptions is the hardened container the smoke run creates.
func smokeCreateOptions(ref string, opts SmokeOptions, hostNet bool) client.ContainerCreateOptions {
	env := append([]string(nil), opts.Env...)
	if hostNet && opts.Port > 0 && !hasEnv(env, "PORT") {
		env = append(env, "PORT="+strconv.Itoa(opts.Port))
	}
	cfg := &container.Config{
		Image:  ref,
		Env:    env,
		Cmd:    opts.Cmd,
		Labels: map[string]string{SmokeLabel: "1"},
	}
	hc := &container.HostConfig{
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Tmpfs:          map[string]string{"/tmp": "rw,nosuid,nodev,size=64m"},
		AutoRemove:     false, // removed by Smoke itself, after reading the logs
	}
	if hostNet {
		hc.NetworkMode = "host"
	} else if opts.Port > 0 {
		p, _ := network.PortFrom(uint16(opts.Port), network.TCP)
		cfg.ExposedPorts = network.PortSet{p: {}}
		hc.PortBindings = network.PortMap{p: {{HostIP: netip.AddrFrom4([4]byte{127, 0, 0, 1})}}}
	}
	return client.ContainerCreateOptions{Config: cfg, HostConfig: hc, Name: "magepack-smoke-" + randomHex(6)}
}

// smokeStart passes when the container is still running after opts.Grace.
func (e *Engine) smokeStart(ctx context.Context, id, ref string, opts SmokeOptions, wait client.ContainerWaitResult, res *SmokeResult) error {
	timer := time.NewTimer(opts.Grace)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
	case r := <-wait.Result:
		return e.smokeFailure(id, ref, res, int(r.StatusCode), fmt.Sprintf("container exited with code %d within %s of starting", r.StatusCode, opts.Grace))
	case err := <-wait.Error:
		if ctx.Err() != nil {
			return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
		}
		return fmt.Errorf("smoke run of %s: wait for container: %w", ref, err)
	case <-timer.C:
	}
	ins, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("smoke run of %s: inspect container: %w", ref, err)
	}
	if st := ins.Container.State; st != nil && !st.Running {
		return e.smokeFailure(id, ref, res, st.ExitCode, fmt.Sprintf("container exited with code %d within %s of starting", st.ExitCode, opts.Grace))
	}
	return nil
}

// smokeHTTP polls GET path on the published port, with backoff, until it
// answers 200, the container exits, the timeout passes or ctx ends.
func (e *Engine) smokeHTTP(ctx context.Context, id, ref string, opts SmokeOptions, wait client.ContainerWaitResult, res *SmokeResult) error {
	url := fmt.Sprintf("http://127.0.0.1:%d%s", res.HostPort, opts.Path)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	deadline := time.Now().Add(opts.Timeout)
	backoff := 50 * time.Millisecond
	var lastErr error
	for {
		reqCtx, cancel := context.WithDeadline(ctx, minTime(deadline, time.Now().Add(2*time.Second)))
		req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
		if err != nil {
			cancel()
			return fmt.Errorf("smoke run of %s: probe %s: %w", ref, url, err)
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			res.Status = resp.StatusCode
			if resp.StatusCode == http.StatusOK {
				cancel()
				return nil
			}
		} else {
			lastErr = err
		}
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
		}
		if !time.Now().Before(deadline) {
			// An answer, even a wrong one, says more than the timeout of
			// the last try.
			reason := fmt.Sprintf("GET %s answered %d %s, not 200, within %s (container still running)", opts.Path, res.Status, http.StatusText(res.Status), opts.Timeout)
			if res.Status == 0 {
				reason = fmt.Sprintf("GET %s got no answer within %s (container still running; last error: %v)", opts.Path, opts.Timeout, lastErr)
			}
			return e.smokeFailure(id, ref, res, -1, reason)
		}
		timer := time.NewTimer(min(backoff, time.Until(deadline)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
		case r := <-wait.Result:
			timer.Stop()
			return e.smokeFailure(id, ref, res, int(r.StatusCode), fmt.Sprintf("container exited with code %d before answering %s", r.StatusCode, opts.Path))
		case err := <-wait.Error:
			timer.Stop()
			if ctx.Err() != nil {
				return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
			}
			return fmt.Errorf("smoke run of %s: wait for container: %w", ref, err)
		case <-timer.C:
		}
		backoff = min(backoff*2, time.Second)
	}
}

// smokeFailure collects the container's last log lines into res and returns
// the *SmokeError. It reads the logs with a fresh context, so a failure is
// explained even when the caller's context has ended.
func (e *Engine) smokeFailure(id, ref string, res *SmokeResult, exitCode int, reason string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	logs, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(smokeLogLines),
	})
	if err == nil {
		var buf bytes.Buffer
		// Both streams into one buffer keeps their interleaving.
		_, err = stdcopy.StdCopy(&buf, &buf, io.LimitReader(logs, 1<<20))
		logs.Close()
		res.Logs = buf.String()
	}
	if err != nil {
		res.Logs += fmt.Sprintf("(could not read the container's logs: %v)", err)
	}
	return &SmokeError{Ref: ref, Reason: reason, ExitCode: exitCode, Logs: res.Logs}
}

// publishedPort reads back the loopback port the engine picked for port.
func (e *Engine) publishedPort(ctx context.Context, id string, port int) (int, error) {
	ins, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return 0, fmt.Errorf("inspect container: %w", err)
	}
	p, _ := network.PortFrom(uint16(port), network.TCP)
	if ns := ins.Container.NetworkSettings; ns != nil {
		for _, b := range ns.Ports[p] {
			if n, err := strconv.Atoi(b.HostPort); err == nil && n > 0 {
				return n, nil
			}
		}
	}
	if st := ins.Container.State; st != nil && !st.Running {
		// Exited before the engine reported a port: the wait explains it.
		return 0, nil
	}
	return 0, fmt.Errorf("the engine published no host port for %s", p)
}

// portFree reports an error when something listens on 127.0.0.1:port.
func portFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Err != nil {
			return opErr.Err
		}
		return err
	}
	return l.Close()
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
