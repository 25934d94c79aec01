//go:build mage

// This repo's own build: the magepack targets, configured for example-app,
// plus the developer targets below.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"

	//mage:import
	"github.com/magepack/magepack/tasks"
)

func init() {
	tasks.Settings.Main = "./example-app"
	tasks.Settings.Smoke = "/healthz"
}

// Test runs the whole test suite (the same command CI runs).
func Test(ctx context.Context) error {
	return run(ctx, "go", "test", "./...")
}

// Lint runs go vet and fails when gofmt would change a file.
func Lint(ctx context.Context) error {
	if err := run(ctx, "go", "vet", "./..."); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "gofmt", "-l", ".").Output()
	if err != nil {
		return fmt.Errorf("gofmt: %w", err)
	}
	if len(out) > 0 {
		return fmt.Errorf("gofmt would change these files:\n%s", out)
	}
	return nil
}

func run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
