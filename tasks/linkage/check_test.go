package linkage

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	glibcReport = Report{
		Path: "dist/app_linux_amd64", Format: FormatELF, OS: "linux", Arch: "amd64",
		Linkage: Dynamic, Interpreter: "/lib64/ld-linux-x86-64.so.2", Needed: []string{"libc.so.6"},
		Libc: Glibc, CGO: "1", BuildMode: "exe",
	}
	muslReport = Report{
		Path: "dist/app_linux_amd64", Format: FormatELF, OS: "linux", Arch: "amd64",
		Linkage: Dynamic, Interpreter: "/lib/ld-musl-x86_64.so.1", Needed: []string{"libc.so"},
		Libc: Musl, CGO: "1", BuildMode: "exe",
	}
	pieReport = Report{
		Path: "dist/app_linux_amd64", Format: FormatELF, OS: "linux", Arch: "amd64",
		Linkage: Dynamic, Interpreter: "/lib64/ld-linux-x86-64.so.2",
		Libc: Glibc, CGO: "0", BuildMode: "pie", PIE: true,
	}
	staticReport = Report{
		Path: "dist/app_linux_arm64", Format: FormatELF, OS: "linux", Arch: "arm64",
		Linkage: Static, Libc: None, CGO: "0", BuildMode: "exe",
	}
	staticPIEReport = Report{
		Path: "dist/app_linux_amd64", Format: FormatELF, OS: "linux", Arch: "amd64",
		Linkage: Static, Libc: None, PIE: true,
	}
	unknownLinux = Report{Path: "dist/app_linux_amd64", Format: FormatELF, OS: "linux", Arch: "amd64", Linkage: Unknown, Libc: UnknownLibc}
	unreadable   = Report{Path: "dist/app_linux_amd64", Linkage: Unknown, Libc: UnknownLibc}
	oddLoader    = Report{Path: "dist/app", Format: FormatELF, OS: "linux", Linkage: Dynamic, Interpreter: "/opt/ld.so", Libc: UnknownLibc}
	windows      = Report{Path: "dist/app_windows_amd64.exe", Format: FormatPE, OS: "windows", Arch: "amd64", Linkage: Dynamic, Needed: []string{"kernel32.dll"}, Libc: System, PIE: true}
	darwin       = Report{Path: "dist/app_darwin_arm64", Format: FormatMachO, OS: "darwin", Arch: "arm64", Linkage: Dynamic, Interpreter: "/usr/lib/dyld", Needed: []string{"/usr/lib/libSystem.B.dylib"}, Libc: System, PIE: true}
)

func TestCheckScratch(t *testing.T) {
	tests := []struct {
		name    string
		report  Report
		wantErr string // exact message; "" means the binary passes
	}{
		{name: "static", report: staticReport},
		{name: "static-pie", report: staticPIEReport},
		{name: "windows is not applicable", report: windows},
		{name: "darwin is not applicable", report: darwin},
		{
			name: "cgo glibc: link it statically, never CGO_ENABLED=0", report: glibcReport,
			wantErr: "dist/app_linux_amd64 is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2, needs libc.so.6): it will not run on scratch; link it statically (keep cgo, add -ldflags '-linkmode external -extldflags -static' and the tags netgo,osusergo; CGO_ENABLED=0 would leave its C code out)",
		},
		{
			name: "cgo musl: link it statically, or alpine", report: muslReport,
			wantErr: "dist/app_linux_amd64 is dynamically linked (interpreter /lib/ld-musl-x86_64.so.1, needs libc.so): it will not run on scratch; link it statically (keep cgo, add -ldflags '-linkmode external -extldflags -static' and the tags netgo,osusergo; CGO_ENABLED=0 would leave its C code out), or ship it on the alpine variant, which has the musl loader",
		},
		{
			name: "glibc, cgo unknown (not a Go binary)", report: func() Report { r := glibcReport; r.CGO = ""; return r }(),
			wantErr: "dist/app_linux_amd64 is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2, needs libc.so.6): it will not run on scratch; build with CGO_ENABLED=0 and without -buildmode=pie",
		},
		{
			name: "musl, cgo unknown, points at alpine", report: func() Report { r := muslReport; r.CGO = ""; return r }(),
			wantErr: "dist/app_linux_amd64 is dynamically linked (interpreter /lib/ld-musl-x86_64.so.1, needs libc.so): it will not run on scratch; build with CGO_ENABLED=0 and without -buildmode=pie, or ship it on the alpine variant, which has the musl loader",
		},
		{
			name: "pie without cgo", report: pieReport,
			wantErr: "dist/app_linux_amd64 is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2, -buildmode=pie): it will not run on scratch; build without -buildmode=pie: with CGO_ENABLED=0 Go then links a static binary",
		},
		{
			name: "unknown linux", report: unknownLinux,
			wantErr: "dist/app_linux_amd64 could not be inspected (linkage unknown): it cannot be verified to run on scratch; check that the file is a complete Linux executable (rebuild it) and run the check again",
		},
		{
			name: "unreadable, OS unknown", report: unreadable,
			wantErr: "dist/app_linux_amd64 could not be inspected (linkage unknown): it cannot be verified to run on scratch; check that the file is a complete Linux executable (rebuild it) and run the check again",
		},
		{name: "zero report is never passed", report: Report{}, wantErr: " could not be inspected (linkage unknown): it cannot be verified to run on scratch; check that the file is a complete Linux executable (rebuild it) and run the check again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckScratch(tt.report)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			var v *Violation
			require.ErrorAs(t, err, &v)
			assert.Equal(t, TargetScratch, v.Target)
			assert.Equal(t, tt.report.Path, v.Path)
			assert.Equal(t, tt.report.CGO == "1", v.CGO)
			assert.Equal(t, tt.wantErr, err.Error())
		})
	}
}

func TestCheckAlpine(t *testing.T) {
	tests := []struct {
		name    string
		report  Report
		wantErr string
	}{
		{name: "static", report: staticReport},
		{name: "static-pie", report: staticPIEReport},
		{name: "musl dynamic", report: muslReport},
		{name: "windows is not applicable", report: windows},
		{name: "darwin is not applicable", report: darwin},
		{
			name: "cgo glibc", report: glibcReport,
			wantErr: "dist/app_linux_amd64 needs glibc: it is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2, needs libc.so.6): it will not run on alpine; build against musl (CC=musl-gcc), or link it statically (keep cgo, add -ldflags '-linkmode external -extldflags -static' and the tags netgo,osusergo; CGO_ENABLED=0 would leave its C code out)",
		},
		{
			name: "pie without cgo uses glibc's loader", report: pieReport,
			wantErr: "dist/app_linux_amd64 needs glibc: it is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2, -buildmode=pie): it will not run on alpine; build without -buildmode=pie: with CGO_ENABLED=0 Go then links a static binary",
		},
		{
			name: "unrecognised loader", report: oddLoader,
			wantErr: "dist/app is dynamically linked (interpreter /opt/ld.so) against an unrecognised C library: it will not run on alpine; build with CGO_ENABLED=0, or build against musl with CC=musl-gcc CGO_ENABLED=1",
		},
		{
			name: "unknown", report: unreadable,
			wantErr: "dist/app_linux_amd64 could not be inspected (linkage unknown): it cannot be verified to run on alpine; check that the file is a complete Linux executable (rebuild it) and run the check again",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAlpine(tt.report)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			var v *Violation
			require.ErrorAs(t, err, &v)
			assert.Equal(t, TargetAlpine, v.Target)
			assert.Equal(t, tt.wantErr, err.Error())
		})
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name   string
		report Report
		want   string
	}{
		{name: "static", report: staticReport, want: "static, no libc"},
		{name: "static-pie", report: staticPIEReport, want: "static (static-pie), no libc"},
		{name: "musl", report: muslReport, want: "dynamic, interpreter /lib/ld-musl-x86_64.so.1, needs libc.so, musl"},
		{name: "glibc", report: glibcReport, want: "dynamic, interpreter /lib64/ld-linux-x86-64.so.2, needs libc.so.6, glibc"},
		{name: "windows", report: windows, want: "dynamic, needs kernel32.dll, system libraries"},
		{name: "odd loader", report: oddLoader, want: "dynamic, interpreter /opt/ld.so, libc unknown"},
		{name: "unknown", report: unreadable, want: "unknown linkage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.report.Summary())
		})
	}
}

func TestReportJSONNames(t *testing.T) {
	r := glibcReport
	r.GoVersion = "go1.26.8"
	r.Settings = map[string]string{"GOOS": "linux"}
	r.Notes = []string{"n"}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, k := range []string{"path", "format", "os", "arch", "linkage", "interpreter", "needed", "libc", "go_version", "cgo", "build_mode", "pie", "settings", "notes"} {
		assert.Contains(t, m, k)
	}
	assert.Len(t, m, 14)
}
