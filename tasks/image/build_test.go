package image

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuildScratchLayer(t *testing.T) {
	spec := scratchSpec(t)
	img := mustBuild(t, spec)

	ls, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, ls, 1, "scratch image has exactly the one added layer")
	entries, order := layerEntries(t, ls[0])

	bin, err := os.ReadFile(helloBin(t))
	require.NoError(t, err)
	ca, err := os.ReadFile(spec.CABundle)
	require.NoError(t, err)

	assert.Equal(t, []string{
		"etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt",
		"home/", "home/nonroot/", "tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/hello",
	}, order, "entries are sorted and parent directories are included")

	tests := []struct {
		name     string
		typ      byte
		mode     int64
		uid, gid int
		data     string
	}{
		{name: "usr/local/bin/hello", typ: tar.TypeReg, mode: 0o755, data: string(bin)},
		{name: "etc/ssl/certs/ca-certificates.crt", typ: tar.TypeReg, mode: 0o644, data: string(ca)},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, data: "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		{name: "etc/group", typ: tar.TypeReg, mode: 0o644, data: "root:x:0:\nnonroot:x:65532:\n"},
		{name: "home/nonroot/", typ: tar.TypeDir, mode: 0o700, uid: 65532, gid: 65532},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/local/bin/", typ: tar.TypeDir, mode: 0o755},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := entries[tt.name]
			require.True(t, ok, "layer has %s", tt.name)
			assert.Equal(t, tt.typ, e.Type, "type")
			assert.Equal(t, tt.mode, e.Mode, "mode %o", e.Mode)
			assert.Equal(t, tt.uid, e.UID, "uid")
			assert.Equal(t, tt.gid, e.GID, "gid")
			assert.True(t, testCreated.Equal(e.ModTime), "mtime %s", e.ModTime)
			assert.Equal(t, tt.data, string(e.Data))
		})
	}
}

func TestBuildScratchConfig(t *testing.T) {
	img := mustBuild(t, scratchSpec(t))
	cfg, err := img.ConfigFile()
	require.NoError(t, err)

	assert.Equal(t, "65532:65532", cfg.Config.User)
	assert.Equal(t, []string{"/usr/local/bin/hello"}, cfg.Config.Entrypoint)
	assert.Empty(t, cfg.Config.Cmd)
	assert.Equal(t, map[string]struct{}{"8080/tcp": {}}, cfg.Config.ExposedPorts)
	assert.Equal(t, map[string]string{"org.opencontainers.image.title": "hello"}, cfg.Config.Labels)
	assert.Equal(t, []string{defaultPathEnv}, cfg.Config.Env)
	assert.True(t, testCreated.Equal(cfg.Created.Time), "created %s", cfg.Created.Time)
	assert.Equal(t, "linux", cfg.OS)
	assert.Equal(t, "amd64", cfg.Architecture)
	require.Len(t, cfg.History, 1)
	assert.Equal(t, CreatedBy, cfg.History[0].CreatedBy)
	assert.True(t, testCreated.Equal(cfg.History[0].Created.Time))
	assert.Equal(t, "layers", cfg.RootFS.Type)

	mt, err := img.MediaType()
	require.NoError(t, err)
	assert.Equal(t, types.OCIManifestSchema1, mt)
	m, err := img.Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.OCIConfigJSON, m.Config.MediaType)
	require.Len(t, m.Layers, 1)
	assert.Equal(t, types.OCILayer, m.Layers[0].MediaType)
}

func TestBuildReproducible(t *testing.T) {
	base := scratchSpec(t)
	want := digestsOf(t, mustBuild(t, base))

	otherBin := filepath.Join(t.TempDir(), "other")
	data, err := os.ReadFile(helloBin(t))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(otherBin, append(data, 0), 0o755))

	tests := []struct {
		name   string
		change func(*Spec)
		same   bool
	}{
		{name: "same spec again", change: func(*Spec) {}, same: true},
		{name: "same time in another zone", change: func(s *Spec) { s.Created = s.Created.In(time.FixedZone("X", 3600)) }, same: true},
		{name: "labels given in another map", change: func(s *Spec) { s.Labels = map[string]string{"org.opencontainers.image.title": "hello"} }, same: true},
		{name: "different created time", change: func(s *Spec) { s.Created = s.Created.Add(time.Second) }},
		{name: "different label", change: func(s *Spec) { s.Labels = map[string]string{"org.opencontainers.image.title": "bye"} }},
		{name: "different binary", change: func(s *Spec) { s.Binary = otherBin }},
		{name: "different port", change: func(s *Spec) { s.Port = 9090 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.change(&s)
			got := digestsOf(t, mustBuild(t, s))
			if tt.same {
				assert.Equal(t, want, got)
			} else {
				assert.NotEqual(t, want.manifest, got.manifest)
				assert.NotEqual(t, want.config, got.config)
			}
		})
	}
}

type allDigests struct{ layer, config, manifest string }

func digestsOf(t *testing.T, img v1.Image) allDigests {
	t.Helper()
	d, err := Digests(img)
	require.NoError(t, err)
	l, err := topLayer(t, img).Digest()
	require.NoError(t, err)
	return allDigests{layer: l.String(), config: d.ConfigDigest, manifest: d.ManifestDigest}
}

func TestDigests(t *testing.T) {
	img := mustBuild(t, scratchSpec(t))
	d, err := Digests(img)
	require.NoError(t, err)
	cfgName, err := img.ConfigName()
	require.NoError(t, err)
	m, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, cfgName.String(), d.ConfigDigest)
	assert.Equal(t, m.String(), d.ManifestDigest)
	assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, d.ConfigDigest)
	assert.NotEqual(t, d.ConfigDigest, d.ManifestDigest)

	_, err = Digests(nil)
	assert.Error(t, err)
}

// alpineLikeBase is a two-layer Docker-media-type base with accounts, an
// env, a Cmd, labels and a port, as an Alpine base read from the engine
// looks.
func alpineLikeBase(t *testing.T, passwd, group string) v1.Image {
	t.Helper()
	l1 := tarLayer(t, [2]string{"etc/", ""}, [2]string{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"}, [2]string{"bin/", ""}, [2]string{"bin/sh", "#!"})
	l2 := tarLayer(t, [2]string{"etc/", ""}, [2]string{"etc/passwd", passwd}, [2]string{"etc/group", group})
	img, err := mutate.AppendLayers(empty.Image, l1, l2)
	require.NoError(t, err)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	cfg.Config.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cfg.Config.Cmd = []string{"/bin/sh"}
	cfg.Config.Labels = map[string]string{"base": "alpine-like", "org.opencontainers.image.title": "base"}
	cfg.Config.ExposedPorts = map[string]struct{}{"22/tcp": {}}
	img, err = mutate.ConfigFile(img, cfg)
	require.NoError(t, err)
	return img
}

func TestBuildOnBase(t *testing.T) {
	tests := []struct {
		name       string
		passwd     string
		group      string
		wantPasswd string
		wantGroup  string
		wantHome   bool
	}{
		{
			name:       "base users kept, nonroot appended",
			passwd:     "root:x:0:0:root:/root:/bin/sh\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\n",
			group:      "root:x:0:root\ndaemon:x:2:root,bin,daemon",
			wantPasswd: "root:x:0:0:root:/root:/bin/sh\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
			wantGroup:  "root:x:0:root\ndaemon:x:2:root,bin,daemon\nnonroot:x:65532:\n",
			wantHome:   true,
		},
		{
			name:       "base already has uid 65532 and a nonroot group",
			passwd:     "root:x:0:0:root:/root:/bin/sh\nnobody2:x:65532:65532::/:/sbin/nologin\n",
			group:      "root:x:0:\nnonroot:x:1000:\n",
			wantPasswd: "root:x:0:0:root:/root:/bin/sh\nnobody2:x:65532:65532::/:/sbin/nologin\n",
			wantGroup:  "root:x:0:\nnonroot:x:1000:\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := alpineLikeBase(t, tt.passwd, tt.group)
			s := scratchSpec(t)
			s.Base = base
			img := mustBuild(t, s)

			baseLayers, err := base.Layers()
			require.NoError(t, err)
			layers, err := img.Layers()
			require.NoError(t, err)
			require.Len(t, layers, len(baseLayers)+1)
			for i, bl := range baseLayers {
				bd, err := bl.Digest()
				require.NoError(t, err)
				d, err := layers[i].Digest()
				require.NoError(t, err)
				assert.Equal(t, bd, d, "base layer %d is kept byte for byte", i)
			}

			entries, _ := layerEntries(t, layers[len(layers)-1])
			assert.Equal(t, tt.wantPasswd, string(entries["etc/passwd"].Data))
			assert.Equal(t, tt.wantGroup, string(entries["etc/group"].Data))
			_, home := entries["home/nonroot/"]
			assert.Equal(t, tt.wantHome, home, "home directory only for an added user")
			_, tmp := entries["tmp/"]
			assert.False(t, tmp, "a base brings its own /tmp")

			cfg, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}, cfg.Config.Env, "base env kept, no second PATH")
			assert.Empty(t, cfg.Config.Cmd, "base Cmd must not become the binary's arguments")
			assert.Equal(t, map[string]string{"base": "alpine-like", "org.opencontainers.image.title": "hello"}, cfg.Config.Labels)
			assert.Equal(t, map[string]struct{}{"22/tcp": {}, "8080/tcp": {}}, cfg.Config.ExposedPorts)
			assert.Equal(t, "65532:65532", cfg.Config.User)
			assert.Len(t, cfg.History, 3)
			assert.Len(t, cfg.RootFS.DiffIDs, 3)

			mt, err := img.MediaType()
			require.NoError(t, err)
			assert.Equal(t, types.DockerManifestSchema2, mt, "a Docker base stays a Docker image")
			m, err := img.Manifest()
			require.NoError(t, err)
			assert.Equal(t, types.DockerLayer, m.Layers[len(m.Layers)-1].MediaType)

			again := mustBuild(t, s)
			assert.Equal(t, digestsOf(t, img), digestsOf(t, again), "same base and spec give the same image")
		})
	}
}

func TestBuildOnBaseWrongPlatform(t *testing.T) {
	s := scratchSpec(t)
	s.Base = alpineLikeBase(t, "root:x:0:0::/:/bin/sh\n", "root:x:0:\n")
	s.Arch = "arm64"
	_, err := Build(s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "base image is linux/amd64 but the image is for linux/arm64")
}

func TestReadImageFiles(t *testing.T) {
	tests := []struct {
		name   string
		layers [][][2]string
		want   map[string]string
	}{
		{
			name:   "top layer wins",
			layers: [][][2]string{{{"etc/passwd", "lower"}}, {{"./etc/passwd", "upper"}}},
			want:   map[string]string{"/etc/passwd": "upper"},
		},
		{
			name:   "file only in a lower layer",
			layers: [][][2]string{{{"etc/passwd", "lower"}, {"etc/group", "g"}}, {{"etc/hosts", "h"}}},
			want:   map[string]string{"/etc/passwd": "lower", "/etc/group": "g"},
		},
		{
			name:   "whiteout deletes",
			layers: [][][2]string{{{"etc/passwd", "lower"}, {"etc/group", "g"}}, {{"etc/.wh.passwd", ""}}},
			want:   map[string]string{"/etc/group": "g"},
		},
		{
			name:   "whited-out directory",
			layers: [][][2]string{{{"etc/passwd", "lower"}}, {{".wh.etc", ""}}},
			want:   map[string]string{},
		},
		{
			name:   "opaque directory hides lower layers but not its own",
			layers: [][][2]string{{{"etc/passwd", "lower"}, {"etc/group", "g"}}, {{"etc/.wh..wh..opq", ""}, {"etc/group", "g2"}}},
			want:   map[string]string{"/etc/group": "g2"},
		},
		{
			name:   "no accounts at all",
			layers: [][][2]string{{{"bin/sh", "#!"}}},
			want:   map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ls []v1.Layer
			for _, files := range tt.layers {
				ls = append(ls, tarLayer(t, files...))
			}
			img, err := mutate.AppendLayers(empty.Image, ls...)
			require.NoError(t, err)
			found, err := readImageFiles(img, PasswdPath, GroupPath)
			require.NoError(t, err)
			got := map[string]string{}
			for k, v := range found {
				got[k] = string(v)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAddAccount(t *testing.T) {
	root, line := "root:x:0:0:root:/root:/sbin/nologin", "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin"
	tests := []struct {
		name      string
		base      string
		want      string
		wantAdded bool
	}{
		{name: "no base file", base: "", want: root + "\n" + line + "\n", wantAdded: true},
		{name: "appended", base: "root:x:0:0::/:/bin/sh\n", want: "root:x:0:0::/:/bin/sh\n" + line + "\n", wantAdded: true},
		{name: "missing final newline", base: "root:x:0:0::/:/bin/sh", want: "root:x:0:0::/:/bin/sh\n" + line + "\n", wantAdded: true},
		{name: "name taken", base: "nonroot:x:1000:1000::/:/bin/sh\n", want: "nonroot:x:1000:1000::/:/bin/sh\n"},
		{name: "id taken", base: "someone:x:65532:1::/:/bin/sh\n", want: "someone:x:65532:1::/:/bin/sh\n"},
		{name: "id only as a prefix elsewhere", base: "a:x:655320:1::/:/bin/sh\n", want: "a:x:655320:1::/:/bin/sh\n" + line + "\n", wantAdded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, added := addAccount([]byte(tt.base), root, line, 65532)
			assert.Equal(t, tt.want, string(got))
			assert.Equal(t, tt.wantAdded, added)
		})
	}
}

func TestBuildInvalidSpec(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{name: "no name", change: func(s *Spec) { s.Name = "" }, want: `image name "" is not a file name`},
		{name: "name with a slash", change: func(s *Spec) { s.Name = "a/b" }, want: `image name "a/b" is not a file name`},
		{name: "no binary", change: func(s *Spec) { s.Binary = "" }, want: "no binary path"},
		{name: "missing binary", change: func(s *Spec) { s.Binary = "/nonexistent/hello" }, want: "/nonexistent/hello"},
		{name: "binary is a directory", change: func(s *Spec) { s.Binary = os.TempDir() }, want: "is not a regular file"},
		{name: "no arch", change: func(s *Spec) { s.Arch = "" }, want: `platform "linux/" is incomplete`},
		{name: "port out of range", change: func(s *Spec) { s.Port = 70000 }, want: "port 70000 is out of range"},
		{name: "negative uid", change: func(s *Spec) { s.UID = -1 }, want: "ids must not be negative"},
		{name: "missing CA bundle", change: func(s *Spec) { s.CABundle = "/nonexistent/ca.pem" }, want: "install ca-certificates or set the bundle's path"},
		{name: "missing zoneinfo", change: func(s *Spec) { s.TZData, s.ZoneInfo = true, "/nonexistent/zoneinfo.zip" }, want: "install tzdata or set the zoneinfo path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scratchSpec(t)
			tt.change(&s)
			_, err := Build(s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestBuildUserAndDefaults(t *testing.T) {
	s := scratchSpec(t)
	s.UID, s.GID, s.Port, s.Created, s.Labels = 1000, 1001, 0, time.Time{}, nil
	img := mustBuild(t, s)
	cfg, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "1000:1001", cfg.Config.User)
	assert.Empty(t, cfg.Config.ExposedPorts, "port 0 exposes nothing")
	assert.True(t, time.Unix(0, 0).Equal(cfg.Created.Time), "zero Created means the epoch")
	entries, _ := layerEntries(t, topLayer(t, img))
	assert.Contains(t, string(entries["etc/passwd"].Data), "nonroot:x:1000:1001:")
	assert.Equal(t, 1000, entries["home/nonroot/"].UID)
	assert.True(t, time.Unix(0, 0).Equal(entries["etc/passwd"].ModTime))
}

func TestBuildTZData(t *testing.T) {
	zip := filepath.Join(t.TempDir(), "zoneinfo.zip")
	require.NoError(t, os.WriteFile(zip, []byte("PK fake zip"), 0o644))
	tree := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "Europe"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tree, "UTC"), []byte("TZif utc"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(tree, "Europe", "Paris"), []byte("TZif paris"), 0o644))
	require.NoError(t, os.Symlink("Paris", filepath.Join(tree, "Europe", "Monaco")))

	tests := []struct {
		name     string
		zoneinfo string
		want     map[string]tarEntry
		wantEnv  string
	}{
		{
			name:     "toolchain zip",
			zoneinfo: zip,
			want:     map[string]tarEntry{"usr/local/go/lib/time/zoneinfo.zip": {Type: tar.TypeReg, Mode: 0o644, Data: []byte("PK fake zip")}},
			wantEnv:  "ZONEINFO=/usr/local/go/lib/time/zoneinfo.zip",
		},
		{
			name:     "zoneinfo directory",
			zoneinfo: tree,
			want: map[string]tarEntry{
				"usr/share/zoneinfo/UTC":           {Type: tar.TypeReg, Mode: 0o644, Data: []byte("TZif utc")},
				"usr/share/zoneinfo/Europe/Paris":  {Type: tar.TypeReg, Mode: 0o644, Data: []byte("TZif paris")},
				"usr/share/zoneinfo/Europe/Monaco": {Type: tar.TypeSymlink, Mode: 0o777, Linkname: "Paris", Data: []byte{}},
				"usr/share/zoneinfo/Europe/":       {Type: tar.TypeDir, Mode: 0o755, Data: []byte{}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scratchSpec(t)
			s.TZData, s.ZoneInfo = true, tt.zoneinfo
			img := mustBuild(t, s)
			entries, _ := layerEntries(t, topLayer(t, img))
			for name, want := range tt.want {
				got, ok := entries[name]
				require.True(t, ok, "layer has %s", name)
				want.ModTime = testCreated
				got.ModTime = got.ModTime.UTC()
				assert.Equal(t, want, got, name)
			}
			cfg, err := img.ConfigFile()
			require.NoError(t, err)
			if tt.wantEnv != "" {
				assert.Contains(t, cfg.Config.Env, tt.wantEnv)
			} else {
				for _, e := range cfg.Config.Env {
					assert.False(t, strings.HasPrefix(e, "ZONEINFO="), e)
				}
			}
		})
	}
}

func TestFindZoneInfo(t *testing.T) {
	zip := filepath.Join(t.TempDir(), "zoneinfo.zip")
	require.NoError(t, os.WriteFile(zip, []byte("PK"), 0o644))
	tree := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(tree, "UTC"), []byte("TZif"), 0o644))

	tests := []struct {
		name    string
		zips    []string
		dir     string
		want    string
		wantErr bool
	}{
		{name: "toolchain zip first", zips: []string{"/nonexistent/zoneinfo.zip", zip}, dir: tree, want: zip},
		{name: "system tree when no zip", zips: []string{"/nonexistent/zoneinfo.zip"}, dir: tree, want: tree},
		{name: "nothing", zips: []string{"/nonexistent/zoneinfo.zip"}, dir: t.TempDir(), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findZoneInfo(tt.zips, tt.dir)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrNoZoneInfo)
				assert.Contains(t, err.Error(), "/nonexistent/zoneinfo.zip")
				assert.Contains(t, err.Error(), "install tzdata")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	// This machine has a Go toolchain, so the real lookup must succeed.
	got, err := FindZoneInfo()
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(got))
}

func TestFindCABundle(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full.pem")
	emptyFile := filepath.Join(dir, "empty.pem")
	require.NoError(t, os.WriteFile(full, []byte("pem"), 0o644))
	require.NoError(t, os.WriteFile(emptyFile, nil, 0o644))

	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{name: "first existing", candidates: []string{"/nonexistent/a.pem", full}, want: full},
		{name: "empty file skipped", candidates: []string{emptyFile, full}, want: full},
		{name: "unset env entry skipped", candidates: []string{"", full}, want: full},
		{name: "directory skipped", candidates: []string{dir, full}, want: full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findFile(tt.candidates)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	_, err := findFile([]string{"/nonexistent/a.pem", emptyFile})
	require.ErrorIs(t, err, ErrNoCABundle)
	assert.Equal(t, "no CA certificate bundle found (looked in /nonexistent/a.pem, "+emptyFile+"): install ca-certificates or set the path in the config", err.Error())

	t.Setenv("SSL_CERT_FILE", full)
	got, err := FindCABundle()
	require.NoError(t, err)
	assert.Equal(t, full, got, "SSL_CERT_FILE wins, as in crypto/x509")

	t.Setenv("SSL_CERT_FILE", "")
	got, err = FindCABundle()
	require.NoError(t, err, "ca-certificates is installed on this machine")
	assert.Contains(t, caBundles, got)
}
