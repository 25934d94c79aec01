package tasks

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// logger prints one progress line per event, prefixed by what it concerns:
// "[linux/arm64] built dist/app_linux_arm64 5.6 MB in 3.2s". Lines from
// parallel work never interleave.
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

// out is where targets report progress; errors go to stderr through mage.
var out = &logger{w: os.Stdout}

func (l *logger) printf(subject, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if subject != "" {
		fmt.Fprintf(l.w, "[%s] ", subject)
	}
	fmt.Fprintf(l.w, format+"\n", args...)
}

// Write lets tables and reports go through the same lock.
func (l *logger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// mb formats a byte count the way docker and the compare report do, in
// decimal units: "5.6 MB".
func mb(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// secs formats a duration for progress lines: "3.2s", "180ms".
func secs(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
