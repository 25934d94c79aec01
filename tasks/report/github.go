package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Output is one GitHub Actions step output: steps.<id>.outputs.<Name>.
type Output struct {
	Name, Value string
}

// outputName is what GitHub Actions accepts as an output name (and so
// what ${{ steps.x.outputs.<name> }} can address).
var outputName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// delimiterBase starts every heredoc delimiter GitHubOutput writes.
const delimiterBase = "magepack_EOF"

// GitHubOutput formats outputs for the file $GITHUB_OUTPUT names, in the
// documented multi-line form, one block per output in the order given:
//
//	<name><<magepack_EOF
//	<value>
//	magepack_EOF
//
// The delimiter is magepack_EOF, or magepack_EOF_1, _2, … when the value
// contains it anywhere, so no line of a value can end the block early;
// the same outputs always give the same bytes. Append the result to the
// file (the runner reads it after the step). It fails on an output whose
// name GitHub would not take (letters, digits, '_' and '-', not starting
// with a digit or '-') or that appears twice.
func GitHubOutput(outputs []Output) ([]byte, error) {
	var b bytes.Buffer
	seen := map[string]bool{}
	for _, o := range outputs {
		if !outputName.MatchString(o.Name) {
			return nil, fmt.Errorf("GitHub output name %q is not valid: use letters, digits, '_' and '-', starting with a letter or '_'", o.Name)
		}
		if seen[o.Name] {
			return nil, fmt.Errorf("GitHub output %q is given twice", o.Name)
		}
		seen[o.Name] = true
		d := delimiterBase
		for i := 1; strings.Contains(o.Value, d); i++ {
			d = delimiterBase + "_" + strconv.Itoa(i)
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", o.Name, d, o.Value, d)
	}
	return b.Bytes(), nil
}

// PublishedIndex is one image index a publish pushed.
type PublishedIndex struct {
	// Service names the service; "" when the project has one.
	Service string
	// Variant is the image variant, e.g. "scratch" or "alpine".
	Variant string
	// Digest is the index's digest ("sha256:…"), the same for all its tags.
	Digest string
	// Refs are the tag references pushed, e.g.
	// "ghcr.io/team/app:1.2.3-scratch".
	Refs []string
}

// PublishOutputs decides the GitHub Actions outputs of a publish:
//
//   - version: the version published;
//   - digest-<key>: each index's digest, where key is the variant
//     ("digest-scratch") or, when any index names a service,
//     "<service>-<variant>" ("digest-api-scratch");
//   - digest: all of them as one JSON object, key → digest
//     ({"alpine":"sha256:…","scratch":"sha256:…"}), for fromJSON();
//   - refs: every pushed reference, one per line, in the order given.
//
// Characters an output name cannot hold become '-'. It fails when two
// indexes get the same key or an index has no digest.
func PublishOutputs(version string, indexes []PublishedIndex) ([]Output, error) {
	outs := []Output{{Name: "version", Value: version}}
	services := false
	for _, ix := range indexes {
		services = services || ix.Service != ""
	}
	digests := map[string]string{}
	var keys []string
	var refs []string
	for _, ix := range indexes {
		if ix.Digest == "" {
			return nil, fmt.Errorf("GitHub outputs: the %s index has no digest", ix.Variant)
		}
		key := ix.Variant
		if services {
			key = ix.Service + "-" + ix.Variant
		}
		key = sanitizeName(key)
		if _, dup := digests[key]; dup {
			return nil, fmt.Errorf("GitHub outputs: two indexes are both %q: give each service and variant its own name", key)
		}
		digests[key] = ix.Digest
		keys = append(keys, key)
		refs = append(refs, ix.Refs...)
	}
	sort.Strings(keys)
	for _, k := range keys {
		outs = append(outs, Output{Name: "digest-" + k, Value: digests[k]})
	}
	all, err := json.Marshal(digests) // keys sorted by encoding/json
	if err != nil {
		return nil, err
	}
	outs = append(outs, Output{Name: "digest", Value: string(all)}, Output{Name: "refs", Value: strings.Join(refs, "\n")})
	return outs, nil
}

// sanitizeName replaces what an output name cannot hold with '-'.
func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '-'
	}, s)
}

// Subject is one artifact to attest: a name and its digest.
type Subject struct {
	// Name is what the attestation calls it, e.g. a pushed reference
	// "ghcr.io/team/app:1.2.3-scratch" or a file name.
	Name string
	// Digest is "sha256:<64 hex>" or "sha512:<128 hex>".
	Digest string
}

var subjectDigest = regexp.MustCompile(`^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$`)

// Digests formats subjects as a checksums file in the shasum format that
// actions/attest-build-provenance's subject-checksums input reads (and
// sha256sum writes): one "<hex digest>  <name>" line per subject, sorted
// by name then digest, duplicates once. It fails on a digest that is not
// sha256/sha512 in lower-case hex, or a name that is empty or holds a line
// break.
func Digests(subjects []Subject) ([]byte, error) {
	list := append([]Subject(nil), subjects...)
	for _, s := range list {
		if !subjectDigest.MatchString(s.Digest) {
			return nil, fmt.Errorf("digests: %q of %s is not sha256:<64 hex> or sha512:<128 hex>", s.Digest, s.Name)
		}
		if s.Name == "" || strings.ContainsAny(s.Name, "\r\n") {
			return nil, fmt.Errorf("digests: subject name %q is empty or holds a line break", s.Name)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Name != list[j].Name {
			return list[i].Name < list[j].Name
		}
		return list[i].Digest < list[j].Digest
	})
	var b bytes.Buffer
	for i, s := range list {
		if i > 0 && s == list[i-1] {
			continue
		}
		_, hex, _ := strings.Cut(s.Digest, ":")
		fmt.Fprintf(&b, "%s  %s\n", hex, s.Name)
	}
	return b.Bytes(), nil
}
