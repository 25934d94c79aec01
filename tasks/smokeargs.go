package tasks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/magepack/magepack/tasks/engine"
	"github.com/magepack/magepack/tasks/gobuild"
)

// checkSingleServiceSmoke refuses the project-wide smoke arguments and
// environment (MAGEPACK_ARGS, MAGEPACK_ENV, Settings.Args, Settings.Env)
// when there are several services: flags one service needs would make
// another fail to start.
func checkSingleServiceSmoke(smoke engine.SmokeOptions, mains []gobuild.Main) error {
	if len(mains) < 2 {
		return nil
	}
	var set, per []string
	if len(smoke.Args) > 0 {
		set, per = append(set, "MAGEPACK_ARGS (Settings.Args)"), append(per, "Args")
	}
	if len(smoke.Env) > 0 {
		set, per = append(set, "MAGEPACK_ENV (Settings.Env)"), append(per, "Env")
	}
	if len(set) == 0 {
		return nil
	}
	pkgs := make([]string, len(mains))
	for i, m := range mains {
		pkgs[i] = m.Package
	}
	return &configError{fmt.Errorf("%s apply to a single service, but there are %d (%s): set Settings.Services[name].%s for each service instead",
		strings.Join(set, " and "), len(mains), strings.Join(pkgs, ", "), strings.Join(per, " and ."))}
}

// serviceError names the service an error belongs to, for the fixes the
// error table adds; its message is the error's own.
type serviceError struct {
	name string
	err  error
}

func (e *serviceError) Error() string { return e.err.Error() }
func (e *serviceError) Unwrap() error { return e.err }

// smokeArgsFix is the fix for a container that died in its smoke run: it
// may need flags or environment to start, and the settings that give them.
func smokeArgsFix(err error) string {
	name := "name"
	var se *serviceError
	if errors.As(err, &se) {
		name = se.name
	}
	return fmt.Sprintf("\nif it needs flags or environment to start (a peer's address, a data directory under /tmp), give them to its smoke runs: Settings.Services[%q].Args and .Env, or MAGEPACK_ARGS and MAGEPACK_ENV for a single service (e.g. MAGEPACK_ARGS=\"--peer 127.0.0.1:9000\" MAGEPACK_ENV=DATA_DIR=/tmp/data)", name)
}
