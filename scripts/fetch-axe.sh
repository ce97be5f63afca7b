#!/usr/bin/env bash
# Fetches axe-core, the accessibility checker the browser tests run inside each dashboard page,
# from the npm registry (`npm pack`: the registry's integrity hash is checked), once, into
# target/axe-core/VERSION/, checks the script against the hash pinned here, and prints its path.
# Idempotent: an existing, matching copy is used as it is. Needs npm (apt-get install npm).
#   scripts/fetch-axe.sh            # → …/target/axe-core/4.14.1/axe.min.js
set -euo pipefail
version=4.14.1
sha256=29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/target/axe-core/$version
script=$dir/axe.min.js
matches() { [ -s "$script" ] && echo "$sha256  $script" | sha256sum --check --status; }
if ! matches; then
  command -v npm >/dev/null 2>&1 || { echo "npm is needed to fetch axe-core (apt-get install npm)" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "axe-core@$version" >/dev/null)
  tar -xzf "$work/axe-core-$version.tgz" -C "$work"
  mkdir -p "$dir"
  cp "$work/package/LICENSE" "$dir/LICENSE"
  # Into place whole or not at all: tests running at once read either nothing or all of it.
  cp "$work/package/axe.min.js" "$dir/axe.min.js.$$"
  mv "$dir/axe.min.js.$$" "$script"
  matches || { echo "axe-core $version does not match its pinned hash" >&2; rm -f "$script"; exit 1; }
fi
echo "$script"
