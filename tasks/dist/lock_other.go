//go:build !unix

package dist

import "os"

// tryLock always succeeds: this platform has no flock, so Lock only
// creates the folder and the lock file.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlockFile(*os.File) error { return nil }
