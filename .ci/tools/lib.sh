# Shared by .ci/tools/*.sh: where peer tools are cached (outside the checkout, so a
# warm machine reuses them) and a helper that installs a Go command at a pinned version.
TOOLS_DIR=${PEER_TOOLS_DIR:-/var/cache/magepack/tools}
mkdir -p "$TOOLS_DIR/bin"

# go_tool NAME PACKAGE@VERSION: builds the command into $TOOLS_DIR/bin once per
# version (a stamp file records which version the binary is).
go_tool() {
  local name=$1 pkg=$2 stamp="$TOOLS_DIR/bin/.$1.version"
  if [ -x "$TOOLS_DIR/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then
    echo "tools: $name cached ($pkg)"
    return 0
  fi
  local t0=$SECONDS
  echo "tools: building $name from $pkg (first time on this machine)"
  GOBIN="$TOOLS_DIR/bin" GOFLAGS=-trimpath go install "$pkg"
  echo "$pkg" >"$stamp"
  echo "tools: $name built in $((SECONDS - t0))s"
}
