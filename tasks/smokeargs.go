package tasks

import (
	"errors"
	"fmt"
)

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
