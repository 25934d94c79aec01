package plan

import (
	"path/filepath"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/magepack/magepack/tasks/platform"
	"github.com/magepack/magepack/tasks/version"
)

func TestPlanPublish(t *testing.T) {
	lin := func(arch string) platform.Platform { return platform.Platform{OS: "linux", Arch: arch} }
	svc := func(name, image string) Unit { return Unit{Name: name, Main: "./cmd/" + name, Image: image} }
	tests := []struct {
		name      string
		svcs      []Unit
		push      bool
		plats     []platform.Platform
		wantPush  bool
		wantWhy   string
		wantPlats []string
		wantSkip  []string
	}{
		{"registry host with port", []Unit{svc("app", "127.0.0.1:5000/app")}, true, []platform.Platform{lin("amd64"), {OS: "darwin", Arch: "arm64"}}, true, "", []string{"linux/amd64"}, []string{"darwin/arm64"}},
		{"registry host with dot", []Unit{svc("app", "ghcr.io/team/app")}, true, []platform.Platform{lin("arm64"), lin("amd64")}, true, "", []string{"linux/arm64", "linux/amd64"}, nil},
		{"localhost", []Unit{svc("app", "localhost/app")}, true, []platform.Platform{lin("amd64")}, true, "", []string{"linux/amd64"}, nil},
		{"bare name", []Unit{svc("app", "app")}, true, []platform.Platform{lin("amd64")}, false, "names no registry host", []string{"linux/amd64"}, nil},
		{"docker hub style namespace", []Unit{svc("app", "team/app")}, true, []platform.Platform{lin("amd64")}, false, "names no registry host", []string{"linux/amd64"}, nil},
		{"push never", []Unit{svc("app", "ghcr.io/team/app")}, false, []platform.Platform{lin("amd64"), {OS: "windows", Arch: "amd64"}}, false, "MAGEPACK_PUSH=never", []string{"linux/amd64"}, []string{"windows/amd64"}},
		{"several services behind a prefix", []Unit{svc("api", "ghcr.io/team/api"), svc("worker", "ghcr.io/team/worker")}, true, []platform.Platform{lin("amd64"), lin("arm64")}, true, "", []string{"linux/amd64", "linux/arm64"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{Options: Options{Push: tt.push, Variants: []string{"scratch", "alpine"}}, Services: tt.svcs, Platforms: tt.plats, Dist: "/repo/dist",
				Version: version.Info{Version: semver.MustParse("1.2.3")}}
			pp, err := p.Publish()
			require.NoError(t, err)
			assert.Equal(t, tt.wantPush, pp.Push)
			assert.Contains(t, pp.Why, tt.wantWhy)
			assert.Equal(t, tt.wantPlats, platformStrings(pp.Platforms))
			assert.Equal(t, tt.wantSkip, platformStrings(pp.Skipped))
			require.Len(t, pp.Indexes, 2*len(tt.svcs), "one index per service and variant")
			for i, ip := range pp.Indexes {
				assert.Equal(t, tt.svcs[i/2], ip.Service)
				assert.Equal(t, []string{"scratch", "alpine"}[i%2], ip.Variant)
				require.Len(t, ip.Images, len(tt.wantPlats), "one image per Linux platform")
				for k, im := range ip.Images {
					assert.Equal(t, tt.wantPlats[k], im.Platform.String())
					assert.Equal(t, filepath.Join("/repo/dist", ip.Service.Name+"_linux_"+im.Platform.Arch), im.Spec.Binary)
					assert.Equal(t, ip.Service.Name, im.Spec.Name)
				}
			}
		})
	}
	t.Run("no Linux platform", func(t *testing.T) {
		p := &Plan{Options: Options{Push: true, Variants: []string{"scratch"}, Platforms: "darwin/arm64"}, Services: []Unit{svc("app", "app")},
			Platforms: []platform.Platform{{OS: "darwin", Arch: "arm64"}}}
		_, err := p.Publish()
		require.Error(t, err)
		var pe *Error
		assert.ErrorAs(t, err, &pe, "a configuration mistake")
		assert.Contains(t, err.Error(), "add one, e.g. linux/amd64")
	})
}

// platformStrings renders platforms as strings; nil for none.
func platformStrings(ps []platform.Platform) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	return s
}
