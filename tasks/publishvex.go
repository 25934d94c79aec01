package tasks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/magepack/magepack/tasks/dist"
	"github.com/magepack/magepack/tasks/image"
	"github.com/magepack/magepack/tasks/sbom"
	"github.com/magepack/magepack/tasks/vulncheck"
)

// binaryVEX is the OpenVEX document vulncheck wrote of a binary, checked
// to be about the bytes now in dist/.
type binaryVEX struct {
	doc    []byte
	sha256 string
}

// binaryVEXes reads the VEX vulncheck wrote beside each binary the
// planned images carry (<binary>.vex.json), keyed by the binary's path.
// A binary without one gets none (said in one line when other binaries
// have one; not at all when none has, so a project that does not use
// vulncheck hears nothing of it); a VEX about
// other bytes (written before the binary was rebuilt) is left out with a
// line naming it.
func (r *run) binaryVEXes(pp publishPlan) (map[string]binaryVEX, error) {
	p := r.p
	out := map[string]binaryVEX{}
	var missing []string
	seen := map[string]bool{}
	for _, ip := range pp.indexes {
		for _, im := range ip.images {
			bin := im.spec.Binary
			if seen[bin] {
				continue
			}
			seen[bin] = true
			doc, err := os.ReadFile(bin + ".vex.json")
			if errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, filepath.ToSlash(p.rel(bin)))
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read the VEX of %s: %w", p.rel(bin), err)
			}
			sum, err := dist.Sum(bin)
			if err != nil {
				return nil, err
			}
			// Checked here, once per binary, so a stale VEX is said once.
			if err := vulncheck.About(doc, sum); err != nil {
				var stale *vulncheck.StaleError
				if !errors.As(err, &stale) {
					return nil, fmt.Errorf("the VEX of %s: %w", p.rel(bin), err)
				}
				r.log.printf(p.subject(job{svc: im.svc, pl: im.pl}), "no VEX attached to its images: %s.vex.json: %v", p.rel(bin), err)
				continue
			}
			out[bin] = binaryVEX{doc: doc, sha256: sum}
		}
	}
	// A run that never used vulncheck hears nothing of VEX; one that did
	// for some binaries only is told which images go without.
	if len(missing) > 0 && len(out) > 0 {
		r.log.printf("publish", "no VEX attached to the images of %s: not vulnchecked", strings.Join(missing, ", "))
	}
	return out, nil
}

// imageVEX turns the VEX of the binary the planned image ip carries into
// the VEX of img (its statements naming the image by package URL and
// digest) and returns it with the OCI 1.1 referrer that attaches it to
// img. It returns nils when bv holds no document.
func (r *run) imageVEX(ip imagePlan, img v1.Image, bv binaryVEX) ([]byte, v1.Image, error) {
	if bv.doc == nil {
		return nil, nil, nil
	}
	fail := func(err error) ([]byte, v1.Image, error) {
		return nil, nil, fmt.Errorf("VEX of the %s image of %s for %s: %w", ip.variant, ip.svc.name, ip.pl, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fail(err)
	}
	product := vulncheck.Product{ID: sbom.OCIPURL(ip.svc.image, digest.String(), ip.pl.Arch), SHA256: digest.Hex}
	doc, err := vulncheck.ForImage(bv.doc, bv.sha256, product)
	if err != nil {
		return fail(err)
	}
	ref, err := image.Referrer(img, image.Attachment{
		ArtifactType: vulncheck.MediaType, Data: doc,
		Title:       path.Base(ip.spec.Binary) + ".vex.json",
		Annotations: map[string]string{image.AnnotationCreated: r.p.createdStamp()},
	})
	if err != nil {
		return fail(err)
	}
	return doc, ref, nil
}
