#!/usr/bin/env bash
# Overview page render time: GET /admin for a period, signed in as an admin, on an already loaded
# database ($1: a SQLite path or postgres:// URL, e.g. loaded by gen_province.py and
# `sipas import responses`). Prints the status and time of six requests (the first warms caches).
#   scripts/bench-overview.sh /tmp/bench/p1m.db [FROM] [TO]
set -euo pipefail
db=${1:?database path or postgres URL}
from=${2:-2026-01-01}
to=${3:-2026-12-31}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/target/release/sipas
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
export SIPAS_DATABASE_URL=$db SIPAS_SECURITY_SECRET_KEY=bench-secret-bench-secret-bench-secret
export SIPAS_SERVER_BIND=127.0.0.1:18092 SIPAS_SERVER_PUBLIC_URL=http://127.0.0.1:18092 RUST_LOG=warn
base=http://127.0.0.1:18092
email="bench-$(date +%s%N)@bench.test"
password=$("$bin" user add --email "$email" --role admin | sed -n 's/^password (shown once): //p')
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
jar=$work/cookies
csrf=$(curl -s -c "$jar" "$base/admin/login" | grep -o 'name="csrf" value="[^"]*"' | sed 's/.*value="//; s/"$//')
curl -s -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$csrf" \
  --data-urlencode "email=$email" --data-urlencode "password=$password" "$base/admin/login"
for _ in 1 2 3 4 5 6; do
  curl -s -b "$jar" -o /dev/null -w '%{http_code} %{time_total}s %{size_download} bytes\n' \
    "$base/admin?from=$from&to=$to"
done
