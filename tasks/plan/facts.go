package plan

import (
	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/version"
)

// Facts is what a run finds out about the repository and the machine
// before it decides anything: every probe of go, git, the filesystem and
// the environment, made once by the executor (tasks' gather). Make
// decides from Facts and Options alone, so a plan can be tested from
// Facts written by hand.
type Facts struct {
	// GoVersion is the toolchain's version (go env GOVERSION), e.g.
	// "go1.26.8"; GoFlags its GOFLAGS.
	GoVersion, GoFlags string
	// Host is the build machine's platform (GOHOSTOS/GOHOSTARCH).
	Host gobuild.Target
	// Ports are the toolchain's ports (go tool dist list -json).
	Ports []platform.Port
	// ModuleRoot is the module's folder, absolute; ModulePath its path.
	ModuleRoot, ModulePath string
	// Mains are the main packages MAGEPACK_MAIN selects (one go list),
	// or MainsErr why none could be (a *gobuild.NoMainError, say).
	Mains    []gobuild.Main
	MainsErr error
	// ModuleMains are the names of every main package of the module,
	// listed only when per-service settings name a service Mains lacks.
	ModuleMains []string
	// Git is the version information git gives (tags, commit, date,
	// dirty, shallow), or GitErr why it gave none (version.ErrNoGit
	// outside a repository).
	Git    version.Info
	GitErr error
	// DistIsFile is true when the dist folder's path is a file.
	DistIsFile bool
	// CABundleErr says why the configured CA bundle cannot be used.
	CABundleErr error
	// SourceDateEpoch is the SOURCE_DATE_EPOCH variable, "" when unset.
	SourceDateEpoch string
	// Compilers are the C compilers found on PATH, by the name cgo's
	// choice asked for: the path, or "" when none is there.
	Compilers map[string]string
	// Dockerfile is what the configured Dockerfile and go.mod say; nil
	// when MAGEPACK_DOCKERFILE is unset.
	Dockerfile *DockerfileFacts
	// ToolchainNotes are said when the run starts: which Go a configured
	// toolchain turned out to be, a go.mod toolchain newer than it.
	ToolchainNotes []string
}
