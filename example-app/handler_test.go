package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testInfo = BuildInfo{
	Version:    "1.2.3",
	Commit:     "0a1b2c3",
	Date:       "2025-01-02T03:04:05Z",
	GoVersion:  "go1.25.4",
	GOOS:       "linux",
	GOARCH:     "arm64",
	CgoEnabled: true,
}

func TestHandlerRoutes(t *testing.T) {
	h := NewHandler(testInfo)
	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		body        string // exact body; empty means "don't check"
		contentType string
		allow       string
	}{
		{name: "healthz", method: "GET", path: "/healthz", status: 200, body: "ok\n", contentType: "text/plain; charset=utf-8"},
		{name: "healthz HEAD", method: "HEAD", path: "/healthz", status: 200},
		{name: "root greets with version", method: "GET", path: "/", status: 200,
			body: "Hello from example-app 1.2.3! Try /healthz and /version.\n", contentType: "text/plain; charset=utf-8"},
		{name: "version is JSON", method: "GET", path: "/version", status: 200, contentType: "application/json"},
		{name: "unknown path", method: "GET", path: "/nope", status: 404, body: "404 page not found\n"},
		{name: "unknown below root", method: "GET", path: "/healthz/x", status: 404},
		{name: "POST healthz", method: "POST", path: "/healthz", status: 405, allow: "GET, HEAD"},
		{name: "DELETE version", method: "DELETE", path: "/version", status: 405, allow: "GET, HEAD"},
		{name: "PUT root", method: "PUT", path: "/", status: 405, allow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			res := rec.Result()
			assert.Equal(t, tt.status, res.StatusCode)
			assert.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
			if tt.body != "" {
				assert.Equal(t, tt.body, rec.Body.String())
			}
			if tt.contentType != "" {
				assert.Equal(t, tt.contentType, res.Header.Get("Content-Type"))
			}
			if tt.allow != "" {
				assert.Equal(t, tt.allow, res.Header.Get("Allow"))
			}
		})
	}
}

func TestHandlerVersionJSON(t *testing.T) {
	srv := httptest.NewServer(NewHandler(testInfo))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/version")
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)

	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	assert.Equal(t, map[string]any{
		"version":     "1.2.3",
		"commit":      "0a1b2c3",
		"date":        "2025-01-02T03:04:05Z",
		"go_version":  "go1.25.4",
		"goos":        "linux",
		"goarch":      "arm64",
		"cgo_enabled": true,
	}, fields)
}

func TestCurrentBuildInfo(t *testing.T) {
	info := currentBuildInfo()
	assert.Equal(t, version, info.Version)
	assert.Equal(t, commit, info.Commit)
	assert.Equal(t, date, info.Date)
	assert.Regexp(t, `^go1\.\d+`, info.GoVersion)
	assert.NotEmpty(t, info.GOOS)
	assert.NotEmpty(t, info.GOARCH)
	assert.Equal(t,
		"example-app 1.2.3 (commit 0a1b2c3, built 2025-01-02T03:04:05Z, go1.25.4 linux/arm64, cgo on)",
		testInfo.String())
}
