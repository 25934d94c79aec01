#!/usr/bin/env bash
# cosign, the independent verifier of magepack's signatures and attestations.
# Cold: 5-15 minutes on 2 cores; cached in $TOOLS_DIR afterwards.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
go_tool cosign github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3
