package sbom

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// APKInstalledPath is where Alpine's package manager keeps its database of
// installed packages.
const APKInstalledPath = "/lib/apk/db/installed"

// APKPackage is one package of an APK installed database.
type APKPackage struct {
	// Name (P:), Version (V:) and Arch (A:) identify the package,
	// e.g. "musl", "1.2.5-r0", "x86_64".
	Name, Version, Arch string
	// License (L:) as the package declares it, e.g. "MIT" or
	// "GPL-2.0-only AND BSD-2-Clause".
	License string
	// Origin (o:) is the source package it was built from.
	Origin string
	// URL (U:) is the project's home page.
	URL string
	// Checksum (C:) is the package's identity checksum, e.g. "Q1…=" (Q1
	// and the base64 of a SHA-1).
	Checksum string
}

// ParseAPKInstalled parses the installed database of Alpine's apk
// (/lib/apk/db/installed): one stanza per package, stanzas separated by a
// blank line, each line a one-letter key, ':' and a value. It keeps the
// package fields APKPackage has and skips the rest (files, directories,
// modes, …). It returns the packages in the order listed, and fails,
// naming the line, on a line that is not "<key>:<value>" or a stanza
// without a name or version.
func ParseAPKInstalled(data []byte) ([]APKPackage, error) {
	var (
		pkgs  []APKPackage
		cur   APKPackage
		start int // line number of cur's first line; 0 when none
	)
	flush := func() error {
		if start == 0 {
			return nil
		}
		if cur.Name == "" || cur.Version == "" {
			return fmt.Errorf("APK database: the package at line %d has no name (P:) or version (V:)", start)
		}
		pkgs = append(pkgs, cur)
		cur, start = APKPackage{}, 0
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text() // without "\n" or "\r\n"
		if strings.TrimSpace(text) == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if len(text) < 2 || text[1] != ':' {
			return nil, fmt.Errorf("APK database: line %d is not <key>:<value>: %q", line, truncate(text, 60))
		}
		if start == 0 {
			start = line
		}
		value := strings.TrimRight(text[2:], "\r")
		switch text[0] {
		case 'P':
			cur.Name = value
		case 'V':
			cur.Version = value
		case 'A':
			cur.Arch = value
		case 'L':
			cur.License = value
		case 'o':
			cur.Origin = value
		case 'U':
			cur.URL = value
		case 'C':
			cur.Checksum = value
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("APK database: line %d: %w", line+1, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return pkgs, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// APKPURL returns the package URL of an Alpine package:
// "pkg:apk/alpine/<name>@<version>?arch=<arch>" (name lowercased, as the
// apk type asks).
func APKPURL(p APKPackage) string {
	return packageURL("apk", "alpine", strings.ToLower(p.Name), p.Version, qualifier{"arch", p.Arch})
}
