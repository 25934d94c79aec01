// Package dockerhost decides where a Docker engine should be, the way the
// docker CLI does: DOCKER_HOST, else the current docker context, else the
// default socket. It only decides; connecting is the caller's business
// (package engine, and the test fixtures, which cannot import engine
// without an import cycle in engine's own tests).
package dockerhost

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/moby/moby/client"
)

// DefaultSource is the Source of an endpoint that fell back to the default socket.
const DefaultSource = "default socket"

// Endpoint is where an engine is expected and why there.
type Endpoint struct {
	// Host is the engine address, e.g. "unix:///var/run/docker.sock".
	Host string
	// Source says how Host was chosen: "DOCKER_HOST", `context "colima"`
	// or "default socket".
	Source string
	// TLSDir holds ca.pem, cert.pem and key.pem for a TLS endpoint; empty
	// when the endpoint has no TLS material.
	TLSDir string
	// SkipTLSVerify disables server certificate verification (DOCKER_TLS_VERIFY
	// unset with DOCKER_CERT_PATH set, or a context's SkipTLSVerify).
	SkipTLSVerify bool
	// fromEnv marks DOCKER_HOST endpoints, whose TLS comes from the environment.
	fromEnv bool
}

// Resolve returns the endpoint the docker CLI would talk to, reading the
// environment through getenv (os.Getenv in production). It fails when
// DOCKER_CONTEXT or the config's currentContext names a context that is not
// in the context store, or when the config file cannot be read; the error
// names the file and the fix.
func Resolve(getenv func(string) string) (Endpoint, error) {
	if h := getenv(client.EnvOverrideHost); h != "" {
		ep := Endpoint{Host: h, Source: client.EnvOverrideHost, fromEnv: true}
		if dir := getenv(client.EnvOverrideCertPath); dir != "" {
			ep.TLSDir = dir
			ep.SkipTLSVerify = getenv(client.EnvTLSVerify) == ""
		}
		return ep, nil
	}
	cfgDir := ConfigDir(getenv)
	name := getenv("DOCKER_CONTEXT")
	if name == "" {
		var err error
		if name, err = currentContext(cfgDir); err != nil {
			return Endpoint{}, err
		}
	}
	if name == "" || name == "default" {
		return Endpoint{Host: client.DefaultDockerHost, Source: DefaultSource}, nil
	}
	return contextEndpoint(cfgDir, name)
}

// ConfigDir returns the docker CLI's configuration folder: $DOCKER_CONFIG,
// else ~/.docker.
func ConfigDir(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".docker")
}

// currentContext reads "currentContext" from config.json; a missing file
// means the default context.
func currentContext(cfgDir string) (string, error) {
	path := filepath.Join(cfgDir, "config.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read docker config %s: %w", path, err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("docker config %s is not valid JSON: %w; fix or remove it", path, err)
	}
	return cfg.CurrentContext, nil
}

// contextEndpoint reads the docker endpoint of context name from the CLI's
// context store: contexts/meta/<sha256(name)>/meta.json.
func contextEndpoint(cfgDir, name string) (Endpoint, error) {
	source := fmt.Sprintf("context %q", name)
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	path := filepath.Join(cfgDir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Endpoint{Source: source}, fmt.Errorf("docker context %q is not in the context store (%s); run `docker context ls` and `docker context use <name>`, or unset DOCKER_CONTEXT", name, path)
	}
	if err != nil {
		return Endpoint{Source: source}, fmt.Errorf("read docker context %q: %w", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return Endpoint{Source: source}, fmt.Errorf("docker context %q: %s is not valid JSON: %w", name, path, err)
	}
	docker, ok := meta.Endpoints["docker"]
	if !ok || docker.Host == "" {
		return Endpoint{Source: source}, fmt.Errorf("docker context %q has no docker endpoint host in %s; recreate it with `docker context create`", name, path)
	}
	ep := Endpoint{Host: docker.Host, Source: source, SkipTLSVerify: docker.SkipTLSVerify}
	tlsDir := filepath.Join(cfgDir, "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tlsDir, "cert.pem")); err == nil {
		ep.TLSDir = tlsDir
	}
	return ep, nil
}

// ClientOptions returns the moby client options that talk to the endpoint
// (host, TLS, and DOCKER_API_VERSION if set; otherwise the client negotiates
// the API version with the engine on first use). It fails when the
// endpoint's TLS files cannot be loaded, naming the folder.
func (ep Endpoint) ClientOptions() ([]client.Opt, error) {
	if ep.fromEnv {
		return []client.Opt{client.FromEnv}, nil
	}
	var opts []client.Opt
	if ep.TLSDir != "" {
		cfg, err := tlsConfig(ep.TLSDir, ep.SkipTLSVerify)
		if err != nil {
			return nil, fmt.Errorf("TLS files of %s in %s: %w", ep.Source, ep.TLSDir, err)
		}
		opts = append(opts, client.WithHTTPClient(&http.Client{
			Transport:     &http.Transport{TLSClientConfig: cfg},
			CheckRedirect: client.CheckRedirect,
		}))
	}
	return append(opts, client.WithHost(ep.Host), client.WithAPIVersionFromEnv()), nil
}

// tlsConfig loads a client certificate (cert.pem, key.pem) and, unless
// verification is skipped, the CA (ca.pem, when present) from dir.
func tlsConfig(dir string, skipVerify bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates:       []tls.Certificate{cert},
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: skipVerify, //nolint:gosec // the user's context asks for it
	}
	if ca, err := os.ReadFile(filepath.Join(dir, "ca.pem")); err == nil && !skipVerify {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("ca.pem holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
