package toolchain

import (
	"os/exec"
	"testing"
)

// BenchmarkSetup compares what magepack asked go for at the start of every
// run before this package (six go commands: go env GOMOD twice, go mod edit
// -json, go env GOVERSION, go tool dist list -json, go env CC) with one
// Probe, the module path read from go.mod and the cached port list.
//
//	go test -run '^$' -bench Setup ./tasks/toolchain/
func BenchmarkSetup(b *testing.B) {
	if _, err := exec.LookPath("go"); err != nil {
		b.Skip("go not on PATH:", err)
	}
	mod := module(b, "example.com/bench")
	b.Run("six go commands", func(b *testing.B) {
		for b.Loop() {
			for _, args := range [][]string{
				{"env", "GOMOD"}, {"env", "GOMOD"}, {"mod", "edit", "-json"},
				{"env", "GOVERSION"}, {"tool", "dist", "list", "-json"}, {"env", "CC"},
			} {
				cmd := exec.Command("go", args...)
				cmd.Dir = mod
				if err := cmd.Run(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("probe, go.mod, cached ports", func(b *testing.B) {
		cache := b.TempDir()
		for b.Loop() {
			info, err := Probe(b.Context(), mod)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := info.ModulePath(); err != nil {
				b.Fatal(err)
			}
			if _, err := info.Ports(b.Context(), WithCacheDir(cache)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
