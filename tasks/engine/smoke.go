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
	"unicode"

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
	// SmokeRun runs the image's entrypoint with SmokeOptions.Cmd as its
	// arguments, as for a command-line tool, and passes when it exits 0
	// within the timeout.
	SmokeRun SmokeMode = "run"
)

// smokeRunPrefix starts the setting form of SmokeRun: "run:--version".
const smokeRunPrefix = "run:"

// SmokeLabel marks every container a smoke run creates (value "1"), so
// leftovers of a killed process can be found and removed.
const SmokeLabel = "magepack.smoke"

// Smoke defaults, used where SmokeOptions leaves a duration zero.
const (
	DefaultSmokeGrace   = time.Second
	DefaultSmokeTimeout = 20 * time.Second
)

// smokePoll is how often SmokeHTTP probes the path: often enough that a
// service answering within milliseconds passes within milliseconds.
const smokePoll = 25 * time.Millisecond

// smokeLogLines is how many of the container's last log lines a failure shows.
const smokeLogLines = 50

// SmokeOptions configures a smoke run.
type SmokeOptions struct {
	Mode    SmokeMode
	Path    string        // HTTP path probed in SmokeHTTP mode, starting with "/"
	Port    int           // container port the service listens on, e.g. 8080; 0 publishes nothing (SmokeRun never publishes)
	Grace   time.Duration // SmokeStart: how long the container must stay up (default 1s)
	Timeout time.Duration // SmokeHTTP: how long the path has to answer 200; SmokeRun: how long the command may run (default 20s)
	Env     []string      // the container's extra environment, KEY=value, in every mode
	Args    []string      // the entrypoint's arguments in every mode (flags a service needs to start); SmokeRun's Cmd follows them
	Cmd     []string      // SmokeRun's command line, after Args; with Args, replaces the image's CMD when either is set

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
	Logs      string        // the container's last log lines, when the run failed; SmokeRun: also what the command printed when it passed
	Skipped   bool          // the mode was SmokeOff
}

// SmokeError reports a smoke run that failed: the container exited early,
// the path answered something other than 200, nothing answered in time, or
// a command-line run exited non-zero or did not exit.
type SmokeError struct {
	Ref      string // the image run
	Reason   string // what went wrong, e.g. "container exited with code 1 before answering /healthz"
	ExitCode int    // the container's exit code; -1 when it was still running
	Logs     string // the container's last log lines
	// CommandLine is true when a run that expects a service (SmokeStart,
	// SmokeHTTP) saw the container exit 0 at once: the image looks like a
	// command-line tool, which a SmokeRun smoke (or none) suits. Reason
	// says so; the caller can name its setting.
	CommandLine bool
	// ReadOnlyRoot is true when the logs show a write the read-only root
	// file system refused: Reason says that /tmp is writable; the caller
	// can name the settings that point the service there.
	ReadOnlyRoot bool
}

// Error names the image, the reason and shows the container's logs.
func (e *SmokeError) Error() string {
	logs := strings.TrimRight(e.Logs, "\n")
	if logs == "" {
		logs = "(the container wrote nothing)"
	}
	return fmt.Sprintf("smoke run of %s failed: %s; logs:\n%s", e.Ref, e.Reason, logs)
}

// SmokeOptionsError reports smoke options that do not fit together, e.g.
// an HTTP path without a port. Field names the option at fault ("Mode",
// "Path" or "Port") so the caller can name its setting.
type SmokeOptionsError struct {
	Field  string
	Reason string
}

// Error says what is wrong with the options.
func (e *SmokeOptionsError) Error() string { return e.Reason }

// PortInUseError reports that the smoke run cannot use Port on the host:
// on an engine without a bridge network the container shares the host's
// network, and something already listens on 127.0.0.1:Port.
type PortInUseError struct {
	Port int
	Err  error // the listen error
}

// Error names the port, why it matters and what to do.
func (e *PortInUseError) Error() string {
	return fmt.Sprintf("the engine has no bridge network, so the container shares the host's network, but 127.0.0.1:%d is already in use (%v); stop what listens there or change the port", e.Port, e.Err)
}

// Unwrap returns the listen error.
func (e *PortInUseError) Unwrap() error { return e.Err }

// ParseSmoke parses a smoke setting: "off", "start", "run:<args>" (run the
// entrypoint with args, split on whitespace, and expect exit 0; "run:"
// alone runs the image's default command line), or an HTTP path starting
// with "/" that must answer 200, without whitespace. Surrounding spaces
// are ignored. The result has Mode and Path or Cmd set; the caller fills in
// Port and the rest. It returns an error naming s and listing the valid
// forms otherwise.
func ParseSmoke(s string) (SmokeOptions, error) {
	v := strings.TrimSpace(s)
	switch {
	case v == string(SmokeOff):
		return SmokeOptions{Mode: SmokeOff}, nil
	case v == string(SmokeStart):
		return SmokeOptions{Mode: SmokeStart}, nil
	case strings.HasPrefix(v, smokeRunPrefix):
		o := SmokeOptions{Mode: SmokeRun}
		if args := strings.Fields(strings.TrimPrefix(v, smokeRunPrefix)); len(args) > 0 {
			o.Cmd = args
		}
		return o, nil
	case strings.HasPrefix(v, "/") && strings.IndexFunc(v, unicode.IsSpace) < 0:
		return SmokeOptions{Mode: SmokeHTTP, Path: v}, nil
	case strings.HasPrefix(v, "/"):
		return SmokeOptions{}, fmt.Errorf("smoke setting %q is not valid: an HTTP path cannot hold spaces; escape them (%s)", s, strings.Join(strings.Fields(v), "%20"))
	}
	return SmokeOptions{}, fmt.Errorf("smoke setting %q is not valid: use off, start, run:<args> for a command-line tool (e.g. run:--version), or an HTTP path starting with / (e.g. /healthz)", s)
}

// String returns the setting form ParseSmoke reads back: "off", "start",
// "/healthz" or "run:--version" ("start" for the zero Mode).
func (o SmokeOptions) String() string {
	switch o.Mode {
	case SmokeHTTP:
		return o.Path
	case SmokeRun:
		return smokeRunPrefix + strings.Join(o.Cmd, " ")
	case "":
		return string(SmokeStart)
	}
	return string(o.Mode)
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
	bad := func(field, format string, args ...any) (SmokeOptions, error) {
		return o, &SmokeOptionsError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if o.Port < 0 || o.Port > 65535 {
		return bad("Port", "smoke port %d is out of range; use 1-65535", o.Port)
	}
	for _, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return bad("Env", "smoke environment entry %q is not KEY=value", kv)
		}
	}
	switch o.Mode {
	case SmokeOff, SmokeStart, SmokeRun:
	case SmokeHTTP:
		if !strings.HasPrefix(o.Path, "/") {
			return bad("Path", "smoke path %q must start with / (e.g. /healthz)", o.Path)
		}
		if o.Port == 0 {
			return bad("Port", "smoke path %s needs the port the image listens on; set the port", o.Path)
		}
	default:
		return bad("Mode", "smoke mode %q is not valid: use off, start, run or http", o.Mode)
	}
	return o, nil
}

// Smoke runs the image ref once, as a user would, and checks it: in
// SmokeStart mode it must still run after opts.Grace; in SmokeHTTP mode
// GET http://127.0.0.1:<port><opts.Path> must answer 200 within
// opts.Timeout (probed every 25ms); in SmokeRun mode the entrypoint, run
// with opts.Cmd as its arguments, must exit 0 within opts.Timeout (its
// output is in the result's Logs). In every mode the entrypoint gets
// opts.Args first and the environment opts.Env. The container is hardened
// (read-only root, all capabilities dropped, no-new-privileges, non-root
// as the image says, a writable tmpfs /tmp), its
// port is published on 127.0.0.1 only (on an engine without a bridge
// network it shares the host's network and gets PORT=<port>; SmokeRun
// publishes nothing), and it is always removed, also on failure and when
// ctx is cancelled. SmokeOff returns a result with Skipped set.
// A failed check returns a *SmokeError with the exit code and the last log
// lines (CommandLine set when a service run saw exit code 0 at once,
// ReadOnlyRoot when the logs show a write the read-only root refused); the
// port taken on a host network is a *PortInUseError, options that do not
// fit a *SmokeOptionsError; engine and context errors are returned wrapped.
func (e *Engine) Smoke(ctx context.Context, ref string, opts SmokeOptions) (res SmokeResult, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return res, fmt.Errorf("smoke run of %s: %w", ref, err)
	}
	if opts.Mode == SmokeOff {
		return SmokeResult{Skipped: true}, nil
	}
	if opts.Mode == SmokeRun {
		opts.Port = 0 // a command line serves nothing: publish nothing
	}
	hostNet := opts.hostNetwork
	if !hostNet {
		bridge, err := e.HasBridge(ctx)
		if err != nil {
			return res, fmt.Errorf("smoke run of %s: %w", ref, err)
		}
		hostNet = !bridge
	}
	if hostNet && opts.Port > 0 {
		if err := portFree(opts.Port); err != nil {
			return res, fmt.Errorf("smoke run of %s: %w", ref, &PortInUseError{Port: opts.Port, Err: err})
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

	switch opts.Mode {
	case SmokeStart:
		err = e.smokeStart(ctx, id, ref, opts, wait, &res)
	case SmokeRun:
		err = e.smokeRun(ctx, id, ref, opts, wait, &res)
	default:
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
		Cmd:    opts.commandLine(),
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

// commandLine is the entrypoint's arguments: Args, then Cmd; nil (the
// image's own CMD) when both are empty.
func (o SmokeOptions) commandLine() []string {
	if len(o.Args)+len(o.Cmd) == 0 {
		return nil
	}
	return append(append([]string{}, o.Args...), o.Cmd...)
}

// smokeStart passes when the container is still running after opts.Grace.
func (e *Engine) smokeStart(ctx context.Context, id, ref string, opts SmokeOptions, wait client.ContainerWaitResult, res *SmokeResult) error {
	timer := time.NewTimer(opts.Grace)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
	case r := <-wait.Result:
		return e.exitedEarly(id, ref, res, int(r.StatusCode), fmt.Sprintf("within %s of starting", opts.Grace))
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
		return e.exitedEarly(id, ref, res, st.ExitCode, fmt.Sprintf("within %s of starting", opts.Grace))
	}
	return nil
}

// cliHint ends the reason of a service smoke run that saw exit code 0.
const cliHint = "this looks like a command-line tool, not a service: smoke-run it with a command line (run:<args>, e.g. run:--version) or turn the smoke run off"

// exitedEarly is the failure of a container that exited while a service
// was expected; when says when ("within 1s of starting", "before answering
// /healthz"). Exit code 0 adds cliHint and marks the error CommandLine.
func (e *Engine) exitedEarly(id, ref string, res *SmokeResult, code int, when string) error {
	reason := fmt.Sprintf("container exited with code %d %s", code, when)
	if code == 0 {
		reason += "; " + cliHint
	}
	err := e.smokeFailure(id, ref, res, code, reason)
	if se, ok := err.(*SmokeError); ok && code == 0 {
		se.CommandLine = true
	}
	return err
}

// smokeRun passes when the container exits 0 within opts.Timeout; what it
// printed goes to res.Logs either way.
func (e *Engine) smokeRun(ctx context.Context, id, ref string, opts SmokeOptions, wait client.ContainerWaitResult, res *SmokeResult) error {
	timer := time.NewTimer(opts.Timeout)
	defer timer.Stop()
	args := "no arguments"
	if argv := opts.commandLine(); len(argv) > 0 {
		args = fmt.Sprintf("arguments %q", argv)
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
	case r := <-wait.Result:
		if r.Error != nil && r.Error.Message != "" {
			return fmt.Errorf("smoke run of %s: wait for container: %s", ref, r.Error.Message)
		}
		if r.StatusCode != 0 {
			return e.smokeFailure(id, ref, res, int(r.StatusCode), fmt.Sprintf("the command (%s) exited with code %d", args, r.StatusCode))
		}
		res.Logs = e.tailLogs(id)
		return nil
	case err := <-wait.Error:
		if ctx.Err() != nil {
			return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
		}
		return fmt.Errorf("smoke run of %s: wait for container: %w", ref, err)
	case <-timer.C:
		return e.smokeFailure(id, ref, res, -1, fmt.Sprintf("the command (%s) was still running after %s; a command-line smoke run expects it to exit 0 (a service wants start or an HTTP path)", args, opts.Timeout))
	}
}

// smokeHTTP polls GET path on the published port every smokePoll until it
// answers 200, the container exits, the timeout passes or ctx ends.
func (e *Engine) smokeHTTP(ctx context.Context, id, ref string, opts SmokeOptions, wait client.ContainerWaitResult, res *SmokeResult) error {
	url := fmt.Sprintf("http://127.0.0.1:%d%s", res.HostPort, opts.Path)
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	deadline := time.Now().Add(opts.Timeout)
	ticker := time.NewTicker(smokePoll)
	defer ticker.Stop()
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
		// The ticker drops ticks a slow probe missed, so probes never
		// queue up; the deadline check above keeps the timeout exact to
		// one interval.
		select {
		case <-ctx.Done():
			return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
		case r := <-wait.Result:
			return e.exitedEarly(id, ref, res, int(r.StatusCode), "before answering "+opts.Path)
		case err := <-wait.Error:
			if ctx.Err() != nil {
				return fmt.Errorf("smoke run of %s: %w", ref, ctx.Err())
			}
			return fmt.Errorf("smoke run of %s: wait for container: %w", ref, err)
		case <-ticker.C:
		}
	}
}

// smokeFailure collects the container's last log lines into res and returns
// the *SmokeError. It reads the logs with a fresh context, so a failure is
// explained even when the caller's context has ended.
func (e *Engine) smokeFailure(id, ref string, res *SmokeResult, exitCode int, reason string) error {
	res.Logs = e.tailLogs(id)
	se := &SmokeError{Ref: ref, Reason: reason, ExitCode: exitCode, Logs: res.Logs}
	if readOnlyWrite(res.Logs) {
		se.ReadOnlyRoot = true
		se.Reason += "; " + readOnlyHint
	}
	return se
}

// readOnlyHint ends the reason of a failure whose logs show a write to the
// read-only root.
const readOnlyHint = "it tried to write to the root file system, which the smoke run mounts read-only (as a hardened deployment does); /tmp is writable (a tmpfs): point the service's data directory or working files there"

// readOnlyWrite reports whether logs show a write refused with EROFS, as
// Go ("open state.db: read-only file system") and C libraries
// ("Read-only file system") word it.
func readOnlyWrite(logs string) bool {
	return strings.Contains(strings.ToLower(logs), "read-only file system")
}

// tailLogs returns the container's last smokeLogLines log lines, stdout
// and stderr interleaved, or a note saying why they cannot be read. It
// uses a fresh context, so it works after the caller's has ended.
func (e *Engine) tailLogs(id string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	logs, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(smokeLogLines),
	})
	var buf bytes.Buffer
	if err == nil {
		// Both streams into one buffer keeps their interleaving.
		_, err = stdcopy.StdCopy(&buf, &buf, io.LimitReader(logs, 1<<20))
		logs.Close()
	}
	if err != nil {
		fmt.Fprintf(&buf, "(could not read the container's logs: %v)", err)
	}
	return buf.String()
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
