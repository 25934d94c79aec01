package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
)

// BuildInfo describes the running binary: the stamped version, commit and
// date, and the toolchain and platform it was built with.
type BuildInfo struct {
	Version    string `json:"version"`
	Commit     string `json:"commit"`
	Date       string `json:"date"`
	GoVersion  string `json:"go_version"`
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CgoEnabled bool   `json:"cgo_enabled"`
}

// String returns the one-line version, e.g.
// "example-app 1.2.3 (commit 0a1b2c3, built 2025-01-02T03:04:05Z, go1.25.4 linux/amd64, cgo off)".
func (b BuildInfo) String() string {
	cgo := "off"
	if b.CgoEnabled {
		cgo = "on"
	}
	return fmt.Sprintf("example-app %s (commit %s, built %s, %s %s/%s, cgo %s)",
		b.Version, b.Commit, b.Date, b.GoVersion, b.GOOS, b.GOARCH, cgo)
}

// currentBuildInfo returns the BuildInfo of this binary. CGO_ENABLED comes
// from the build settings the go command embeds; a binary without them
// (e.g. built by an old toolchain) reports cgo as off.
func currentBuildInfo() BuildInfo {
	info := BuildInfo{
		Version:   version,
		Commit:    commit,
		Date:      date,
		GoVersion: runtime.Version(),
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "CGO_ENABLED" {
				info.CgoEnabled = s.Value == "1"
			}
		}
	}
	return info
}

// NewHandler returns the service's routes: GET /healthz answers "ok",
// GET /version the build info as JSON, GET / a short greeting. Other paths
// answer 404, other methods on known paths 405 with an Allow header.
func NewHandler(info BuildInfo) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(info) // only a failed write can fail, and then the client is gone

	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "Hello from example-app %s! Try /healthz and /version.\n", info.Version)
	})
	return securityHeaders(mux)
}

// securityHeaders sets headers every response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}
