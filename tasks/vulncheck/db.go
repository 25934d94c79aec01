package vulncheck

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ParseDB checks a vulnerability database location and returns it as
// govulncheck takes it: "" gives DefaultDB; a file:// URL must name an
// absolute folder; anything but file:// and https:// is refused with an
// error that says what to give.
func ParseDB(s string) (string, error) {
	if s == "" {
		return DefaultDB, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("vulnerability database %q is not a URL: give a file:// folder or an https:// URL", s)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "", fmt.Errorf("vulnerability database %q names no host: give e.g. %s", s, DefaultDB)
		}
	case "file":
		if u.Host != "" || !filepath.IsAbs(filepath.FromSlash(u.Path)) {
			return "", fmt.Errorf("vulnerability database %q is not an absolute folder: give file:///path/to/vulndb", s)
		}
	default:
		return "", fmt.Errorf("vulnerability database %q: want a file:// folder or an https:// URL (e.g. %s)", s, DefaultDB)
	}
	return s, nil
}

// CheckDB returns a *DBError when db is a file:// database whose index
// cannot be read, before govulncheck runs: a folder without the database
// would otherwise read as one without vulnerabilities. An https:// database
// is checked by govulncheck itself (Scan).
func CheckDB(db string) error {
	if !strings.HasPrefix(db, "file://") {
		return nil
	}
	u, err := url.Parse(db)
	if err != nil {
		return &DBError{DB: db, Err: err}
	}
	index := filepath.Join(filepath.FromSlash(u.Path), "index", "db.json")
	if _, err := os.Stat(index); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("%s does not exist", index)
		}
		return &DBError{DB: db, Err: err}
	}
	return nil
}

// DBError is a vulnerability database that could not be read.
type DBError struct {
	DB  string
	Err error
}

// Error names the database, the cause and the fix.
func (e *DBError) Error() string {
	return fmt.Sprintf("vulnerability database %s cannot be read: %v; point the setting at a database (a file:// folder holding index/db.json, or %s)", e.DB, e.Err, DefaultDB)
}

// Unwrap returns the cause.
func (e *DBError) Unwrap() error { return e.Err }

// DBModified returns the database's modification time, from its
// index/db.json: read from a file:// folder, fetched from an https://
// one. It returns a *DBError when the index cannot be read or holds no
// time, so a run fails before it builds anything.
func DBModified(ctx context.Context, db string) (time.Time, error) {
	return dbModified(ctx, db, http.DefaultClient)
}

// dbModified is DBModified with client for https.
func dbModified(ctx context.Context, db string, client *http.Client) (time.Time, error) {
	if err := CheckDB(db); err != nil {
		return time.Time{}, err
	}
	var data []byte
	if strings.HasPrefix(db, "file://") {
		u, _ := url.Parse(db)
		var err error
		if data, err = os.ReadFile(filepath.Join(filepath.FromSlash(u.Path), "index", "db.json")); err != nil {
			return time.Time{}, &DBError{DB: db, Err: err}
		}
	} else {
		// What govulncheck itself fetches from a server: the gzipped index.
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(db, "/")+"/index/db.json.gz", nil)
		if err != nil {
			return time.Time{}, &DBError{DB: db, Err: err}
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return time.Time{}, ctx.Err()
			}
			return time.Time{}, &DBError{DB: db, Err: err}
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return time.Time{}, &DBError{DB: db, Err: fmt.Errorf("GET index/db.json.gz: %s", resp.Status)}
		}
		if data, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20)); err != nil {
			return time.Time{}, &DBError{DB: db, Err: err}
		}
		if zr, err := gzip.NewReader(bytes.NewReader(data)); err == nil {
			if data, err = io.ReadAll(io.LimitReader(zr, 1<<20)); err != nil {
				return time.Time{}, &DBError{DB: db, Err: fmt.Errorf("index/db.json.gz: %w", err)}
			}
		}
	}
	var meta struct {
		Modified time.Time `json:"modified"`
	}
	if err := json.Unmarshal(data, &meta); err != nil || meta.Modified.IsZero() {
		return time.Time{}, &DBError{DB: db, Err: errors.New("index/db.json holds no modified time")}
	}
	return meta.Modified.UTC(), nil
}
