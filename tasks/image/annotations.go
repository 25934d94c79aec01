package image

import (
	"time"
)

// OCI annotation keys (the image spec's pre-defined annotations) that
// magepack sets on manifests and indexes, the way registries such as GHCR
// read them.
const (
	AnnotationSource     = "org.opencontainers.image.source"
	AnnotationRevision   = "org.opencontainers.image.revision"
	AnnotationVersion    = "org.opencontainers.image.version"
	AnnotationCreated    = "org.opencontainers.image.created"
	AnnotationTitle      = "org.opencontainers.image.title"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// Meta is what the OCI annotations say about an image or index.
type Meta struct {
	// Title is the image's name, e.g. "app".
	Title string
	// Version is the packaged software's version, e.g. "1.2.3".
	Version string
	// Revision is the source's commit, e.g. a git hash.
	Revision string
	// Source is the URL of the source, e.g. "https://github.com/team/app".
	Source string
	// Created is the image's creation time (the commit's time, for
	// reproducible builds), written as RFC 3339 in UTC; zero leaves it out.
	Created time.Time
	// BaseName is the base image's reference (e.g. "alpine:3.20") and
	// BaseDigest its manifest digest ("sha256:…"); both empty for scratch.
	BaseName, BaseDigest string
}

// Annotations returns the OCI annotations for m: title, version, revision,
// source, created and the base's name and digest, each one left out when
// its value is empty. The result goes into Spec.Annotations or
// WithIndexAnnotations.
func Annotations(m Meta) map[string]string {
	a := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			a[k] = v
		}
	}
	set(AnnotationTitle, m.Title)
	set(AnnotationVersion, m.Version)
	set(AnnotationRevision, m.Revision)
	set(AnnotationSource, m.Source)
	if !m.Created.IsZero() {
		set(AnnotationCreated, m.Created.UTC().Truncate(time.Second).Format(time.RFC3339))
	}
	set(AnnotationBaseName, m.BaseName)
	set(AnnotationBaseDigest, m.BaseDigest)
	return a
}
