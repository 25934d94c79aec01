// Package sqlite holds the end-to-end tests of cgo builds on a
// service that stores notes in SQLite through github.com/mattn/go-sqlite3:
// the targets compiled into a mage binary, the real engine. They are a test
// binary of their own: a cold build compiles go-sqlite3's C code for two
// platforms (a minute or more each), within go test's time limit for this
// package alone.
package sqlite
