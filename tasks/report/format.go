package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// megabytes formats a size in MB (10^6 bytes, as docker images reports),
// one decimal: "6.8 MB".
func megabytes(n int64) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// groupDigits formats n with thousands separators: "6,770,123".
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// sizeWithBytes formats a size as "6.8 MB (6,770,123 bytes)".
func sizeWithBytes(n int64) string {
	return fmt.Sprintf("%s (%s bytes)", megabytes(n), groupDigits(n))
}

// milliseconds formats a short duration for people: "0.4 ms", "85 ms",
// "1.25 s".
func milliseconds(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case ms < 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.0f ms", ms)
	}
}

// yesNo renders a measured boolean.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// title returns s with its first letter in upper case ("alpine" -> "Alpine").
func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
