package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Peer tools, pinned. They are installed with `go install` into
// bench/.work/tools/<name>-<version>/ (never committed) and reused by later
// runs.
var peerTools = []struct{ name, pkg, version string }{
	{"gox", "github.com/mitchellh/gox", "v1.0.1"},
	{"goreleaser", "github.com/goreleaser/goreleaser/v2", "v2.12.7"},
	{"ko", "github.com/google/ko", "v0.19.1"},
}

// tool is an installed peer, or why it is not.
type tool struct {
	name, version, path, unavailable string
}

// installTools installs each peer that is not installed yet. A failure
// makes that peer unavailable with the reason; the run goes on.
func (h *harness) installTools() {
	h.tools = map[string]*tool{}
	for _, p := range peerTools {
		t := &tool{name: p.name, version: p.version}
		h.tools[p.name] = t
		gobin := filepath.Join(h.toolsDir, p.name+"-"+p.version)
		t.path = filepath.Join(gobin, p.name)
		if _, err := os.Stat(t.path); err == nil {
			continue
		}
		_, out, err := h.run("install "+p.name, cmd{
			dir:  h.work,
			env:  []string{"GOBIN=" + gobin, "GOFLAGS=", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "-GOCACHE"},
			name: "go", args: []string{"install", p.pkg + "@" + p.version},
		})
		if err != nil {
			t.unavailable = fmt.Sprintf("go install %s@%s failed: %s", p.pkg, p.version, firstLine(lastError(out)))
			h.progress("%s unavailable: %s", p.name, t.unavailable)
		}
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// lastError picks the most telling line of a failed go install's output.
func lastError(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "go:") || strings.Contains(lines[i], "error") {
			return lines[i]
		}
	}
	return lines[len(lines)-1]
}

// writePeerConfigs writes .goreleaser.yaml and .ko.yaml into the scratch
// copy: the five platforms (goreleaser), the same flags and -ldflags as the
// go build loop (both), their outputs outside the build context.
func (h *harness) writePeerConfigs(ldflags string) error {
	gr := fmt.Sprintf(`# written by bench: the same builds as magepack's crossCompile
version: 2
project_name: example-app
dist: %s
builds:
  - id: example-app
    main: ./example-app
    binary: example-app
    env: [CGO_ENABLED=0]
    flags: [-trimpath]
    ldflags: [%q]
    goos: [linux, darwin, windows]
    goarch: [amd64, arm64]
    ignore:
      - goos: windows
        goarch: arm64
`, filepath.Join(h.work, "goreleaser-dist"), ldflags)
	ko := fmt.Sprintf(`# written by bench: the same flags as magepack's builds
builds:
  - id: example-app
    main: ./example-app
    env: [CGO_ENABLED=0]
    flags: [-trimpath]
    ldflags: [%q]
`, ldflags)
	if err := os.WriteFile(filepath.Join(h.repo, ".goreleaser.yaml"), []byte(gr), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.repo, ".ko.yaml"), []byte(ko), 0o644)
}

const registryBinary = "/usr/bin/docker-registry"

// installRegistry installs Debian's docker-registry when it is missing, as
// the peers are installed: a full run as root only (the tiny mode installs
// nothing).
func (h *harness) installRegistry() error {
	if _, err := os.Stat(registryBinary); err == nil {
		return nil
	}
	if h.tiny || os.Geteuid() != 0 {
		return fmt.Errorf("%s not found", registryBinary)
	}
	install := cmd{dir: h.work, env: []string{"DEBIAN_FRONTEND=noninteractive"}, name: "sh", args: []string{"-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-registry"}}
	if _, out, err := h.run("install docker-registry", install); err != nil {
		return fmt.Errorf("apt-get install docker-registry: %s", firstLine(lastError(out)))
	}
	_, err := os.Stat(registryBinary)
	return err
}

// startRegistry runs Debian's docker-registry on a free loopback port with
// storage under the work folder and waits until /v2/ answers.
func (h *harness) startRegistry() error {
	if err := h.installRegistry(); err != nil {
		return fmt.Errorf("%v: install Debian's docker-registry package (apt-get install -y docker-registry; the tests install it on first use)", err)
	}
	dir := filepath.Join(h.work, "registry")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "storage"), 0o755); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	host := l.Addr().String()
	l.Close()
	config := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %q\n  delete:\n    enabled: true\nhttp:\n  addr: %q\n  secret: magepack-bench\n", filepath.Join(dir, "storage"), host)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(h.logs, "registry.log"))
	if err != nil {
		return err
	}
	c := exec.Command(registryBinary, "serve", cfgPath)
	c.Stdout, c.Stderr = logf, logf
	if err := c.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", registryBinary, err)
	}
	h.regCmd = c
	h.registry = host
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				h.progress("registry on %s (pid %d)", host, c.Process.Pid)
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("registry on %s did not answer within 15s; see %s", host, filepath.Join(h.logs, "registry.log"))
}

// stopRegistry ends the registry this harness started.
func (h *harness) stopRegistry() {
	if h.regCmd == nil || h.regCmd.Process == nil {
		return
	}
	_ = h.regCmd.Process.Kill()
	_ = h.regCmd.Wait()
	h.regCmd = nil
}

// pushKoBase pushes ko's base image to the local registry: a two-platform
// (linux/amd64, linux/arm64) index whose one layer holds what magepack's
// scratch image holds besides the binary (the CA bundle, /etc/passwd and
// /etc/group with the non-root user), so both tools make the same image.
// It returns the base's reference.
func (h *harness) pushKoBase(ctx context.Context) (string, error) {
	ca, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		return "", fmt.Errorf("read the CA bundle for ko's base image: %w (install ca-certificates)", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	for _, d := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
			return "", err
		}
	}
	files := []struct {
		name string
		data []byte
	}{
		{"etc/passwd", []byte("nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n")},
		{"etc/group", []byte("nonroot:x:65532:\n")},
		{"etc/ssl/certs/ca-certificates.crt", ca},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), ModTime: epoch}); err != nil {
			return "", err
		}
		if _, err := tw.Write(f.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return "", err
	}
	idx := v1.ImageIndex(empty.Index)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := mutate.AppendLayers(empty.Image, layer)
		if err != nil {
			return "", err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return "", err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		cf.Config.User = "65532:65532"
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return "", err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	ref, err := name.ParseReference(h.registry+"/base/static:latest", name.Insecure)
	if err != nil {
		return "", err
	}
	if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("push ko's base image to %s: %w", ref, err)
	}
	return ref.String(), nil
}

// errUnavailable marks a peer that is not installed.
var errUnavailable = errors.New("unavailable")
