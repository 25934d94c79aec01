package dockerhost

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeContext stores a docker context the way `docker context create` does.
func writeContext(t *testing.T, cfgDir, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	dir := filepath.Join(cfgDir, "contexts", "meta", hex.EncodeToString(sum[:]))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	meta := `{"Name":"` + name + `","Metadata":{},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta), 0o644))
}

func TestResolve(t *testing.T) {
	cfg := t.TempDir()
	writeContext(t, cfg, "colima", "unix:///home/u/.colima/default/docker.sock")
	writeContext(t, cfg, "remote", "tcp://10.0.0.5:2376")
	require.NoError(t, os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"auths":{},"currentContext":"colima"}`), 0o644))
	noCurrent := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(noCurrent, "config.json"), []byte(`{"auths":{}}`), 0o644))
	broken := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(broken, "config.json"), []byte(`{"currentContext":`), 0o644))

	tests := []struct {
		name    string
		env     map[string]string
		want    Endpoint
		wantErr string
	}{
		{
			name: "DOCKER_HOST wins over everything",
			env:  map[string]string{"DOCKER_HOST": "tcp://1.2.3.4:2375", "DOCKER_CONTEXT": "remote", "DOCKER_CONFIG": cfg},
			want: Endpoint{Host: "tcp://1.2.3.4:2375", Source: "DOCKER_HOST", fromEnv: true},
		},
		{
			name: "DOCKER_HOST with certs and verification",
			env:  map[string]string{"DOCKER_HOST": "tcp://1.2.3.4:2376", "DOCKER_CERT_PATH": "/certs", "DOCKER_TLS_VERIFY": "1"},
			want: Endpoint{Host: "tcp://1.2.3.4:2376", Source: "DOCKER_HOST", TLSDir: "/certs", fromEnv: true},
		},
		{
			name: "DOCKER_CONTEXT over currentContext",
			env:  map[string]string{"DOCKER_CONTEXT": "remote", "DOCKER_CONFIG": cfg},
			want: Endpoint{Host: "tcp://10.0.0.5:2376", Source: `context "remote"`},
		},
		{
			name: "currentContext from config.json",
			env:  map[string]string{"DOCKER_CONFIG": cfg},
			want: Endpoint{Host: "unix:///home/u/.colima/default/docker.sock", Source: `context "colima"`},
		},
		{
			name: "DOCKER_CONTEXT=default is the default socket",
			env:  map[string]string{"DOCKER_CONTEXT": "default", "DOCKER_CONFIG": cfg},
			want: Endpoint{Host: client.DefaultDockerHost, Source: DefaultSource},
		},
		{
			name: "no currentContext",
			env:  map[string]string{"DOCKER_CONFIG": noCurrent},
			want: Endpoint{Host: client.DefaultDockerHost, Source: DefaultSource},
		},
		{
			name: "no config at all",
			env:  map[string]string{"DOCKER_CONFIG": filepath.Join(noCurrent, "missing")},
			want: Endpoint{Host: client.DefaultDockerHost, Source: DefaultSource},
		},
		{
			name: "config under HOME",
			env:  map[string]string{"HOME": filepath.Join(noCurrent, "home")},
			want: Endpoint{Host: client.DefaultDockerHost, Source: DefaultSource},
		},
		{
			name:    "unknown context",
			env:     map[string]string{"DOCKER_CONTEXT": "nope", "DOCKER_CONFIG": cfg},
			want:    Endpoint{Source: `context "nope"`},
			wantErr: `docker context "nope" is not in the context store`,
		},
		{
			name:    "broken config.json",
			env:     map[string]string{"DOCKER_CONFIG": broken},
			wantErr: "is not valid JSON",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestClientOptionsTLSErrorNamesFolder(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("not a cert"), 0o644))
	_, err := Endpoint{Host: "tcp://1.2.3.4:2376", Source: `context "remote"`, TLSDir: dir}.ClientOptions()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `TLS files of context "remote" in `+dir)
}
