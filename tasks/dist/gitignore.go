package dist

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// GitignoreFile is the file KeepOutOfGit writes into an output folder.
const GitignoreFile = ".gitignore"

// gitignore ignores the folder's whole content, itself included.
const gitignore = "# Written by magepack: build outputs stay out of git, so that Go's\n# VCS stamping (vcs.modified) sees only real source changes.\n*\n"

// KeepOutOfGit writes dir/.gitignore ignoring everything in dir, unless
// dir has a .gitignore already. Go stamps binaries with vcs.modified=true
// when `git status` shows untracked files, and an output folder that git
// does not ignore would make every build after the first look modified.
// Files git tracks already stay tracked. It returns an error naming the
// file when it cannot be written.
func KeepOutOfGit(dir string) error {
	path := filepath.Join(dir, GitignoreFile)
	if _, err := os.Lstat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return WriteFile(path, []byte(gitignore), 0o644)
}
