#!/usr/bin/env bash
# actionlint, the checker of GitHub Actions workflows the README's YAML examples must pass
# (tasks/e2e/readme_test.go). Cold: about a minute on 2 cores; cached in $TOOLS_DIR afterwards.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
go_tool actionlint github.com/rhysd/actionlint/cmd/actionlint@v1.7.12
