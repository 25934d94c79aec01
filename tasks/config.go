package tasks

import (
	"github.com/magepack/magepack/tasks/attest"
	"github.com/magepack/magepack/tasks/plan"
)

// Config is magepack's configuration (plan.Config, where every field is
// documented): a magefile sets fields of Settings in its init();
// MAGEPACK_* environment variables override them (env > Go > defaults);
// fields left empty take their defaults from the repo itself.
type Config = plan.Config

// Service is the per-service part of the configuration
// (Config.Services): zero fields take the project-wide values.
type Service = plan.Service

// Settings holds the Go-level configuration a magefile sets in init().
// Environment variables override it.
var Settings Config

// Image variants.
const (
	variantScratch = plan.VariantScratch
	variantAlpine  = plan.VariantAlpine
)

// options is the parsed configuration, plus what reading it needs I/O
// for: the signing key, loaded (and decrypted) once.
type options struct {
	plan.Options
	signer    attest.Signer // nil: nothing is signed
	verifyKey string        // as given; read by verify
}

// configure merges settings with the environment lookup reads and parses
// the result: every mistake of either step, and of the signing key, is
// reported in one *plan.Error, each naming its setting.
func configure(settings Config, lookup func(string) (string, bool)) (options, error) {
	c, mergeErr := plan.Merge(settings, lookup)
	parsed, parseErr := plan.Parse(c)
	o := options{Options: parsed, verifyKey: c.VerifyKey}
	var keyErr error
	o.signer, keyErr = loadSignKey(c.SignKey, lookup)
	return o, plan.Join(mergeErr, parseErr, keyErr)
}
