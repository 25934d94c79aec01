// Package e2e holds magepack's end-to-end tests: the targets compiled into
// a mage binary, as a user or CI runs them, against throw-away consumer
// modules, the real Docker engine and a real registry. They are a package
// of their own so that `go test ./...` runs them as one test binary,
// beside the package tests, each within go test's time limit.
package e2e
