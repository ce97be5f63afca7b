#!/usr/bin/env bash
# Submit-path benchmark: responses per second through POST /s/{token} (wrk on loopback), on the
# database named by $1 (a SQLite path or a postgres:// URL), compared with the raw insert rate of
# the same rows: one thread (benches/insert.rs) and, on PostgreSQL, pgbench with the same
# concurrency (scripts/pgbench/submit-*.sql). Needs wrk (apt-get install wrk), pgbench
# (postgresql-contrib) for PostgreSQL, and builds the release binary.
#   scripts/bench-submit.sh /tmp/bench/submit.db [SECONDS] [CONNECTIONS]
# SIPAS_BIN=path/to/sipas runs that binary instead of building this checkout's (A/B runs).
set -euo pipefail
db=${1:?database path or postgres URL}
secs=${2:-10}
conns=${3:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SIPAS_BIN:-$root/target/release/sipas}
work=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
export SIPAS_DATABASE_URL=$db SIPAS_SECURITY_SECRET_KEY=bench-secret-bench-secret-bench-secret
export SIPAS_SERVER_BIND=127.0.0.1:18090 SIPAS_SERVER_PUBLIC_URL=http://127.0.0.1:18090 RUST_LOG=warn
[[ -n ${SIPAS_BIN:-} ]] || cargo build --release --quiet --manifest-path "$root/Cargo.toml"
"$bin" import agencies "$root/assets/demo/agencies.csv" >/dev/null
"$bin" import procedures "$root/assets/demo/procedures.csv" >/dev/null
# Enough single-use links for the whole run.
python3 - "$work/dossiers.csv" "${LINKS:-200000}" <<'PY'
import sys, time
n = int(sys.argv[2])
stamp = int(time.time())
with open(sys.argv[1], "w") as f:
    f.write("dossier_code,agency_code,procedure_code,channel,received_at,due_at,returned_at\n")
    for i in range(n):
        f.write(f"B{stamp}-{i},TN-STP,TP-LLTP,counter,2026-11-01,2026-11-20,2026-11-10\n")
PY
"$bin" import dossiers "$work/dossiers.csv" | tail -n +2 | cut -d, -f4 | sed 's|.*/s/||' > "$work/tokens.txt"
# The first link is kept for the page benchmark; the submitters take the others.
page=$(head -1 "$work/tokens.txt")
sed -i 1d "$work/tokens.txt"
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:18090/healthz >/dev/null && break; sleep 0.2; done
cat > "$work/submit.lua" <<LUA
local tokens = {}
for line in io.lines("$work/tokens.txt") do tokens[#tokens + 1] = line end
-- Each of the 4 wrk threads takes every 4th token, so every request uses a fresh link.
local counter = 1
function setup(thread)
  thread:set("first", counter)
  counter = counter + 1
end
function init(args)
  counter = first
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "form=short&TC0=5&TT0=4&CC0=4&KQ0=5&PA0=na&HL0=4&E1=2&E2=1&E6=1&E7=1"
function request()
  local t = tokens[counter]
  counter = counter + 4
  return wrk.format(nil, "/s/" .. t)
end
LUA
# The questionnaire page: GET of one link (a GET does not use it up), and its size on the wire.
echo "GET /s/{token}:"
wrk -t4 -c"$conns" -d"${secs}s" --latency -H "Accept-Encoding: gzip" "http://127.0.0.1:18090/s/$page" | grep -E "Requests/sec|50%|99%|Non-2xx"
plain=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:18090/s/$page")
gzipped=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "http://127.0.0.1:18090/s/$page")
echo "page bytes: $plain plain, $gzipped gzip"
echo "POST /s/{token}:"
wrk -t4 -c"$conns" -d"${secs}s" --latency -s "$work/submit.lua" http://127.0.0.1:18090 | tee "$work/wrk.txt"
today=$(TZ=Asia/Ho_Chi_Minh date +%F)
stored=$("$bin" report --format json --from "$today" --to "$today" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["responses"])')
echo "responses stored by the run: $stored"
kill $server; wait $server 2>/dev/null || true
if [[ $db == postgres://* || $db == postgresql://* ]]; then
  agency=$(psql "$db" -Atc "SELECT id FROM agencies WHERE code = 'TN-STP'")
  procedure=$(psql "$db" -Atc "SELECT id FROM procedures WHERE code = 'TP-LLTP'")
  invitations=$(psql "$db" -Atc "SELECT max(id) FROM invitations")
  agencies=$(psql "$db" -Atc "SELECT max(id) FROM agencies")
  for shape in minimal full; do
    echo "pgbench, $shape shape, $conns clients, one transaction per response:"
    pgbench -n -c "$conns" -j 4 -T "$secs" -D agency="$agency" -D procedure="$procedure" \
      -D invitations="$invitations" -r -f "$root/scripts/pgbench/submit-$shape.sql" "$db" \
      | grep -E "^tps|latency average"
    # The same rows spread over every agency (no hot count row): the engine's best case.
    { echo "\\set agency random(1, $agencies)"; cat "$root/scripts/pgbench/submit-$shape.sql"; } \
      > "$work/spread-$shape.sql"
    echo "pgbench, $shape shape spread over $agencies agencies, $conns clients:"
    pgbench -n -c "$conns" -j 4 -T "$secs" -D procedure="$procedure" \
      -D invitations="$invitations" -f "$work/spread-$shape.sql" "$db" \
      | grep -E "^tps|latency average"
  done
fi
echo "raw insert rate of the same rows, one thread:"
SIPAS_DATABASE_URL=$db cargo bench --quiet --manifest-path "$root/Cargo.toml" --bench insert -- 20000 | tail -1
