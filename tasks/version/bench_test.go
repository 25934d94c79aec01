package version

import "testing"

// BenchmarkFromGit measures one version lookup (all its git processes) in
// a small repository, on a tag and past one.
func BenchmarkFromGit(b *testing.B) {
	for _, bc := range []struct {
		name  string
		setup func(r *repo)
	}{
		{"on a tag", func(r *repo) { r.commit(20); r.annotated("v1.2.3") }},
		{"past a tag", func(r *repo) { r.commit(20); r.tag("v1.2.3"); r.commit(5) }},
		{"no tag", func(r *repo) { r.commit(25) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := newRepo(b)
			bc.setup(r)
			b.ResetTimer()
			for b.Loop() {
				if _, err := FromGit(b.Context(), r.dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
