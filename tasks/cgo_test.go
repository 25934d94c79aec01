package tasks

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/magepack/magepack/tasks/gobuild"
	"github.com/magepack/magepack/tasks/linkage"
)

func TestLibcColumn(t *testing.T) {
	tests := []struct {
		rep  linkage.Report
		want string
	}{
		{linkage.Report{Linkage: linkage.Static, Libc: linkage.None}, "none"},
		{linkage.Report{Linkage: linkage.Static, Libc: linkage.None, LinkedLibc: linkage.Musl}, "musl linked in"},
		{linkage.Report{Linkage: linkage.Static, Libc: linkage.None, LinkedLibc: linkage.Glibc, NSS: true}, "glibc linked in, NSS"},
		{linkage.Report{Linkage: linkage.Static, Libc: linkage.None, LinkedLibc: linkage.UnknownLibc}, "none"},
		{linkage.Report{Linkage: linkage.Dynamic, Libc: linkage.Glibc}, "glibc"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, libcColumn(tt.rep), "%+v", tt.rep)
	}
	assert.Equal(t, "musl", linkedLibc(tests[1].rep))
	assert.Equal(t, "", linkedLibc(tests[3].rep), "unknown is not recorded")
}

func TestNSSWarning(t *testing.T) {
	assert.Nil(t, nssWarning("dist/a", linkage.Report{Linkage: linkage.Static, LinkedLibc: linkage.Glibc}))
	w := nssWarning("dist/a", linkage.Report{Linkage: linkage.Static, LinkedLibc: linkage.Glibc, NSS: true})
	if assert.Len(t, w, 1) {
		assert.Contains(t, w[0], "dist/a is static but carries glibc's NSS")
		assert.Contains(t, w[0], "netgo,osusergo")
	}
}

func TestCgoWords(t *testing.T) {
	assert.Equal(t, "CGO off", cgoWords(gobuild.Config{}))
	assert.Equal(t, "CGO on", cgoWords(gobuild.Config{CGO: true}))
	assert.Equal(t, "CGO on, static", cgoWords(gobuild.Config{CGO: true, StaticCGO: true}))
}

func TestArgValue(t *testing.T) {
	args := []string{"build", "-trimpath", "-tags", "netgo,osusergo", "-ldflags", "-s -w", "-o", "x", "."}
	assert.Equal(t, "netgo,osusergo", argValue(args, "-tags"))
	assert.Equal(t, "", argValue(args, "-gcflags"))
	assert.Equal(t, "", argValue([]string{"build", "-tags"}, "-tags"), "a flag without a value")
}
