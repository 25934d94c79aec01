// Package image assembles container images in-process with
// go-containerregistry, the way ko does: one layer holding the service's
// binary, a CA bundle, /etc/passwd and /etc/group with a non-root user and,
// when asked, time-zone data, on top of a base image (or none, for
// scratch). It also makes multi-platform OCI image indexes, writes OCI image
// layouts and pushes to registries.
//
// Everything it produces is reproducible: the same Spec and the same input
// files give the same layer, config and manifest digests on any machine.
package image

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultUID and DefaultGID are the ids of the non-root user images run as
// (distroless' and ko's "nonroot").
const (
	DefaultUID = 65532
	DefaultGID = 65532
)

// UserName is the name of the non-root user added to /etc/passwd and
// /etc/group.
const UserName = "nonroot"

// CreatedBy is the history entry's created_by of the layer Build adds.
const CreatedBy = "magepack"

// Paths inside the image.
const (
	BinDir         = "/usr/local/bin"
	CABundlePath   = "/etc/ssl/certs/ca-certificates.crt"
	PasswdPath     = "/etc/passwd"
	GroupPath      = "/etc/group"
	ZoneInfoDir    = "/usr/share/zoneinfo"
	ZoneInfoZip    = "/usr/local/go/lib/time/zoneinfo.zip"
	homeDir        = "/home/" + UserName
	defaultPathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Spec describes one image for one platform.
type Spec struct {
	// Name is the binary's and image's base name; the binary lands at
	// /usr/local/bin/<Name> and is the entrypoint.
	Name string
	// Binary is the path of the built binary on this machine.
	Binary string
	// OS, Arch and Variant are the image's platform (GOOS, GOARCH and e.g.
	// "v7" for linux/arm/v7).
	OS, Arch, Variant string
	// CABundle is the path of the PEM bundle copied to
	// /etc/ssl/certs/ca-certificates.crt; "" uses FindCABundle.
	CABundle string
	// TZData adds time-zone data (see ZoneInfo).
	TZData bool
	// ZoneInfo is the time-zone data to add when TZData is set: a
	// zoneinfo.zip (copied to /usr/local/go/lib/time/zoneinfo.zip with
	// ZONEINFO pointing at it) or a zoneinfo directory (copied to
	// /usr/share/zoneinfo). "" uses FindZoneInfo.
	ZoneInfo string
	// Port is exposed as <Port>/tcp; 0 exposes nothing.
	Port int
	// Labels are merged over the base image's labels.
	Labels map[string]string
	// Annotations go on the image's manifest (see Annotations for the
	// OCI ones); none leaves the manifest as it was. They change the
	// manifest digest, not the config (the engine's image ID). A base's
	// manifest annotations are not inherited.
	Annotations map[string]string
	// Created is the image's creation time, and the modification time of
	// every file in the added layer. The caller picks it (SOURCE_DATE_EPOCH
	// or the commit's time) so builds are reproducible; zero means the Unix
	// epoch.
	Created time.Time
	// Base is the image to build on (its layers are kept byte for byte);
	// nil builds on scratch.
	Base v1.Image
	// UID and GID of the user the image runs as; 0 means DefaultUID and
	// DefaultGID (an image built here never runs as root).
	UID, GID int
}

// Build assembles the image Spec describes: the base's layers unchanged,
// plus one layer with the binary at /usr/local/bin/<Name> (0755), the CA
// bundle (0644), /etc/passwd and /etc/group (0644) holding the base's
// accounts plus the non-root user, and time-zone data if asked. Every entry
// is owned by 0:0 (the user's home by the user), sorted, and stamped with
// Created, so the same Spec gives the same digests anywhere.
//
// The config keeps the base's environment (adding a default PATH when it
// has none), merges the labels and exposed ports, runs the binary as
// entrypoint with no Cmd, as user "<UID>:<GID>", and records Created and
// the platform.
//
// On scratch the image is OCI (manifest, config and layer media types); on
// a base the manifest keeps the base's media type and the added layer
// matches it (Docker or OCI), as ko does, so a base read from the engine
// stays a Docker v2 image.
//
// The image's config, config digest (the engine's image ID) and layers
// are ready without compressing anything, which is all an engine load
// needs; the added layer is gzipped, and the manifest made, the first time
// something asks for the manifest, the digest or a compressed layer (a
// push, an OCI layout), once.
//
// Build fails, naming the input and the fix, when a required field is
// missing or invalid, a file cannot be read, no CA bundle is found, or the
// base's platform differs from Spec's.
func Build(spec Spec) (v1.Image, error) {
	s, err := normalize(spec)
	if err != nil {
		return nil, err
	}

	base := s.Base
	layerType := types.OCILayer
	if base == nil {
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	} else {
		mt, err := base.MediaType()
		if err != nil {
			return nil, fmt.Errorf("image %s: read base image's media type: %w", s.Name, err)
		}
		if mt != types.OCIManifestSchema1 {
			layerType = types.DockerLayer
		}
	}
	baseCfg, err := base.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: read base image's config: %w", s.Name, err)
	}
	if err := checkBasePlatform(s, baseCfg); err != nil {
		return nil, err
	}

	files, env, err := layerFiles(s)
	if err != nil {
		return nil, err
	}
	layer, err := newLayer(files, s.Created, layerType)
	if err != nil {
		return nil, fmt.Errorf("image %s: make layer: %w", s.Name, err)
	}
	history := v1.History{
		Created:   v1.Time{Time: s.Created},
		CreatedBy: CreatedBy,
		Comment:   "add " + path.Join(BinDir, s.Name),
	}
	// The config mutate.Append would make (the base's, plus the layer's
	// DiffID and history), then what Build promises on it.
	cfg := baseCfg.DeepCopy()
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, fmt.Errorf("image %s: layer diff ID: %w", s.Name, err)
	}
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
	cfg.History = append(cfg.History, history)
	configure(cfg, s, env)
	// Annotations change the manifest only: the config, its digest and
	// the uncompressed layers stay the assembled image's own.
	img, err := newAssembled(base, mutate.Addendum{Layer: layer, History: history, MediaType: layerType}, cfg, s.Annotations)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", s.Name, err)
	}
	return img, nil
}

// normalize validates spec and fills its defaults.
func normalize(s Spec) (Spec, error) {
	switch {
	case s.Name == "" || s.Name == "." || s.Name == ".." || strings.ContainsAny(s.Name, `/\`):
		return s, fmt.Errorf("image name %q is not a file name: set the binary's base name, e.g. \"app\"", s.Name)
	case s.Binary == "":
		return s, fmt.Errorf("image %s: no binary path: build the binary first and set Spec.Binary", s.Name)
	case s.OS == "" || s.Arch == "":
		return s, fmt.Errorf("image %s: platform %q is incomplete: set OS and Arch (e.g. linux/amd64)", s.Name, platformString(s.OS, s.Arch, s.Variant))
	case s.Port < 0 || s.Port > 65535:
		return s, fmt.Errorf("image %s: port %d is out of range: use 1-65535, or 0 for none", s.Name, s.Port)
	case s.UID < 0 || s.GID < 0:
		return s, fmt.Errorf("image %s: user %d:%d is invalid: ids must not be negative", s.Name, s.UID, s.GID)
	}
	if s.UID == 0 {
		s.UID = DefaultUID
	}
	if s.GID == 0 {
		s.GID = DefaultGID
	}
	if s.Created.IsZero() {
		s.Created = time.Unix(0, 0)
	}
	s.Created = s.Created.UTC().Truncate(time.Second)
	if s.CABundle == "" {
		p, err := FindCABundle()
		if err != nil {
			return s, fmt.Errorf("image %s: %w", s.Name, err)
		}
		s.CABundle = p
	}
	if s.TZData && s.ZoneInfo == "" {
		p, err := FindZoneInfo()
		if err != nil {
			return s, fmt.Errorf("image %s: %w", s.Name, err)
		}
		s.ZoneInfo = p
	}
	return s, nil
}

func checkBasePlatform(s Spec, cfg *v1.ConfigFile) error {
	if cfg.Architecture == "" && cfg.OS == "" {
		return nil // scratch, or a base that does not say
	}
	variantClash := cfg.Variant != "" && s.Variant != "" && cfg.Variant != s.Variant
	if cfg.OS != s.OS || cfg.Architecture != s.Arch || variantClash {
		return fmt.Errorf("image %s: base image is %s but the image is for %s: use the base image built for %s (e.g. RemoteBase with that platform)",
			s.Name, platformString(cfg.OS, cfg.Architecture, cfg.Variant), platformString(s.OS, s.Arch, s.Variant), platformString(s.OS, s.Arch, s.Variant))
	}
	return nil
}

// layerFiles reads everything the added layer holds and returns the
// environment entries the config needs for it.
func layerFiles(s Spec) ([]file, []string, error) {
	bin, err := readRegular(s.Binary)
	if err != nil {
		return nil, nil, fmt.Errorf("image %s: read binary: %w", s.Name, err)
	}
	if len(bin) == 0 {
		return nil, nil, fmt.Errorf("image %s: binary %s is empty: rebuild it", s.Name, s.Binary)
	}
	ca, err := readRegular(s.CABundle)
	if err != nil {
		return nil, nil, fmt.Errorf("image %s: read CA bundle: %w: install ca-certificates or set the bundle's path in the config", s.Name, err)
	}

	var basePasswd, baseGroup []byte
	if s.Base != nil {
		found, err := readImageFiles(s.Base, PasswdPath, GroupPath)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: read base image's accounts: %w", s.Name, err)
		}
		basePasswd, baseGroup = found[PasswdPath], found[GroupPath]
	}
	passwd, addedUser := addAccount(basePasswd, passwdLine("root", 0, 0, "/root"), passwdLine(UserName, s.UID, s.GID, homeDir), s.UID)
	group, _ := addAccount(baseGroup, groupLine("root", 0), groupLine(UserName, s.GID), s.GID)

	files := []file{
		{name: path.Join(BinDir, s.Name), mode: 0o755, data: bin},
		{name: CABundlePath, mode: 0o644, data: ca},
		{name: PasswdPath, mode: 0o644, data: passwd},
		{name: GroupPath, mode: 0o644, data: group},
	}
	if addedUser {
		files = append(files, file{name: homeDir, dir: true, mode: 0o700, uid: s.UID, gid: s.GID})
	}
	if s.Base == nil {
		files = append(files, file{name: "/tmp", dir: true, mode: 0o1777})
	}
	var env []string
	if s.TZData {
		tz, tzEnv, err := zoneInfoFiles(s.ZoneInfo)
		if err != nil {
			return nil, nil, fmt.Errorf("image %s: %w", s.Name, err)
		}
		files = append(files, tz...)
		env = append(env, tzEnv...)
	}
	return files, env, nil
}

func readRegular(p string) ([]byte, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	return os.ReadFile(p)
}

func passwdLine(name string, uid, gid int, home string) string {
	return fmt.Sprintf("%s:x:%d:%d:%s:%s:/sbin/nologin", name, uid, gid, name, home)
}

func groupLine(name string, gid int) string {
	return fmt.Sprintf("%s:x:%d:", name, gid)
}

// addAccount returns base (an /etc/passwd or /etc/group) with line appended
// unless an entry already has line's name or the id; an empty base becomes
// root's line plus line. It reports whether line was added. The base's own
// entries are never changed.
func addAccount(base []byte, root, line string, id int) ([]byte, bool) {
	if len(base) == 0 {
		return []byte(root + "\n" + line + "\n"), true
	}
	name := strings.SplitN(line, ":", 2)[0]
	idField := strconv.Itoa(id)
	for _, l := range strings.Split(string(base), "\n") {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) >= 3 && (f[0] == name || f[2] == idField) {
			return base, false
		}
	}
	out := append([]byte(nil), base...)
	if out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, line+"\n"...), true
}

// configure sets what Build promises on the image's config.
func configure(cfg *v1.ConfigFile, s Spec, env []string) {
	cfg.Created = v1.Time{Time: s.Created}
	cfg.OS, cfg.Architecture, cfg.Variant = s.OS, s.Arch, s.Variant
	c := &cfg.Config
	c.User = fmt.Sprintf("%d:%d", s.UID, s.GID)
	c.Entrypoint = []string{path.Join(BinDir, s.Name)}
	c.Cmd = nil // a base's Cmd (alpine's /bin/sh) would become the binary's arguments
	if s.Port != 0 {
		ports := map[string]struct{}{}
		for p := range c.ExposedPorts {
			ports[p] = struct{}{}
		}
		ports[strconv.Itoa(s.Port)+"/tcp"] = struct{}{}
		c.ExposedPorts = ports
	}
	if len(s.Labels) > 0 {
		labels := map[string]string{}
		for k, v := range c.Labels {
			labels[k] = v
		}
		for k, v := range s.Labels {
			labels[k] = v
		}
		c.Labels = labels
	}
	if !hasEnv(c.Env, "PATH") {
		c.Env = append(c.Env, defaultPathEnv)
	}
	for _, kv := range env {
		c.Env = setEnv(c.Env, kv)
	}
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// setEnv replaces key's entry in env, or appends one.
func setEnv(env []string, kv string) []string {
	key := kv[:strings.IndexByte(kv, '=')+1]
	out := append([]string(nil), env...)
	for i, e := range out {
		if strings.HasPrefix(e, key) {
			out[i] = kv
			return out
		}
	}
	return append(out, kv)
}

func platformString(os, arch, variant string) string {
	s := os + "/" + arch
	if variant != "" {
		s += "/" + variant
	}
	return s
}

// ImageDigests are the two names of an image.
type ImageDigests struct {
	// ConfigDigest ("sha256:…") is the digest of the config blob: the
	// image ID an engine shows after loading the image.
	ConfigDigest string
	// ManifestDigest ("sha256:…") is the digest of the manifest: what a
	// registry shows, and what <repo>@<digest> pulls.
	ManifestDigest string
}

// Digests returns img's config digest (the engine's image ID) and manifest
// digest (the registry's digest), or the error that computing either met.
func Digests(img v1.Image) (ImageDigests, error) {
	if img == nil {
		return ImageDigests{}, errors.New("digests of a nil image: build the image first")
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return ImageDigests{}, fmt.Errorf("compute config digest: %w", err)
	}
	m, err := img.Digest()
	if err != nil {
		return ImageDigests{}, fmt.Errorf("compute manifest digest: %w", err)
	}
	return ImageDigests{ConfigDigest: cfg.String(), ManifestDigest: m.String()}, nil
}
