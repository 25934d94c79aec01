#!/usr/bin/env bash
# The Go vulnerability database, offline: built from golang.org/x/vulndb (the OSV
# records in data/osv, served by the module proxy) with that module's own cmd/gendb
# into $TOOLS_DIR/vulndb, the layout govulncheck reads (index/db.json, index/modules.json,
# ID/<id>.json). Tests point MAGEPACK_VULNDB at file://$TOOLS_DIR/vulndb.
#
# gendb stamps each record's modified time with the newest commit that touched it, so
# the records are committed once into a fresh git repository with a fixed date (the
# pseudo-version's time): the database, and every VEX document made from it, is the
# same on every machine. Cold: about 5 minutes on 2 cores; cached afterwards.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

version=v0.0.0-20261105234957-e22db6528018
date=2026-11-05T23:49:57Z # the pseudo-version's commit time
out="$TOOLS_DIR/vulndb" stamp="$TOOLS_DIR/vulndb/.version"

if [ -f "$out/index/db.json" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "tools: vulndb cached (golang.org/x/vulndb@$version)"
  exit 0
fi
t0=$SECONDS
echo "tools: building vulndb from golang.org/x/vulndb@$version (first time on this machine)"
go_tool gendb "golang.org/x/vulndb/cmd/gendb@$version"
src=$(GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@$version" | jq -r .Dir)

work=$(mktemp -d "$TOOLS_DIR/.vulndb.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$src" "$work/repo"
chmod -R u+w "$work/repo"
(
  cd "$work/repo"
  export GIT_AUTHOR_NAME=vulndb GIT_AUTHOR_EMAIL=vulndb@localhost GIT_AUTHOR_DATE=$date
  export GIT_COMMITTER_NAME=vulndb GIT_COMMITTER_EMAIL=vulndb@localhost GIT_COMMITTER_DATE=$date
  git init -q -b main .
  git add -A
  git -c commit.gpgsign=false commit -q -m "golang.org/x/vulndb@$version"
)
"$TOOLS_DIR/bin/gendb" -repo "$work/repo" -out "$work/db"
echo "$version" >"$work/db/.version"
rm -rf "$out"
mv "$work/db" "$out"
echo "tools: vulndb built in $((SECONDS - t0))s ($(ls "$out/ID" | grep -c '\.json$') records, $out)"
