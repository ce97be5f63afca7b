#!/usr/bin/env bash
# Dashboard page timing: GET a page (default /admin, the overview) for a period, signed in as an
# admin, on an already loaded database ($1: a SQLite path or postgres:// URL, e.g. loaded by
# gen_province.py and `sipas import responses`). Prints, for six requests (the first warms the
# caches), the status, the server time (time to the first byte: the page is rendered whole before
# it is sent), the total time, the HTML size, and the size gzipped as sent to a browser.
#   scripts/bench-overview.sh /tmp/bench/p1m.db [FROM] [TO] [PATH]
#   SIPAS_BIN=/path/to/sipas scripts/bench-overview.sh …   (another build; default target/release)
#   SIPAS_SAVE_PAGE=/tmp/page.html scripts/bench-overview.sh …   (also keep the page's HTML)
#   SIPAS_WAIT_SECONDS=10 scripts/bench-overview.sh …   (wait after start-up: the scheduler computes
#   the default overview, the last 365 days of every province, ahead)
set -euo pipefail
db=${1:?database path or postgres URL}
from=${2:-2026-01-01}
to=${3:-2026-12-31}
path=${4:-/admin}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SIPAS_BIN:-$root/target/release/sipas}
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
export SIPAS_DATABASE_URL=$db SIPAS_SECURITY_SECRET_KEY=bench-secret-bench-secret-bench-secret
export SIPAS_SERVER_BIND=127.0.0.1:18092 SIPAS_SERVER_PUBLIC_URL=http://127.0.0.1:18092 RUST_LOG=warn
base=http://127.0.0.1:18092
email="bench-$(date +%s%N)@bench.test"
password="bench-password-$(date +%s%N)"
# A given password is not a one-time password: no change is forced at the first sign-in.
SIPAS_USER_PASSWORD=$password "$bin" user add --email "$email" --role admin >/dev/null
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
jar=$work/cookies
csrf=$(curl -s -c "$jar" "$base/admin/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//; s/"$//')
curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
  --data-urlencode "email=$email" --data-urlencode "password=$password" "$base/admin/login"
sleep "${SIPAS_WAIT_SECONDS:-0}"
sep='?'
case $path in *\?*) sep='&' ;; esac
url="$base$path${sep}from=$from&to=$to"
for _ in 1 2 3 4 5 6; do
  curl -s -b "$jar" -o /dev/null \
    -w '%{http_code} server %{time_starttransfer}s total %{time_total}s %{size_download} bytes' "$url"
  curl -s -b "$jar" -o /dev/null --compressed -w ' (%{size_download} gzipped)\n' "$url"
done
if [ -n "${SIPAS_SAVE_PAGE:-}" ]; then curl -s -b "$jar" -o "$SIPAS_SAVE_PAGE" "$url"; fi
