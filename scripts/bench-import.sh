#!/usr/bin/env bash
# A citizen during a large import: `sipas serve` on a fresh database, `sipas import responses` of
# a generated province (scripts/gen_province.py) in another process, and meanwhile a walk-in
# citizen POSTing a complete form every 0.2 s. Prints the import's time and every submission's
# status and latency (curl's time_total, a new connection each time).
#   scripts/bench-import.sh /tmp/bench/imp.db /tmp/bench/p1m [path/to/sipas]
# The database must not exist yet (a SQLite path, or an empty postgres:// database).
set -euo pipefail
db=${1:?database path or postgres URL}
data=${2:?folder with agencies.csv and responses.csv}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${3:-$root/target/release/sipas}
work=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
export SIPAS_DATABASE_URL=$db SIPAS_SECURITY_SECRET_KEY=bench-secret-bench-secret-bench-secret
export SIPAS_SERVER_BIND=127.0.0.1:18091 SIPAS_SERVER_PUBLIC_URL=http://127.0.0.1:18091
export SIPAS_WALKIN_MAX_PER_WINDOW=1000000 SIPAS_MONITORING_SWEEP_MINUTES=0 RUST_LOG=warn
"$bin" import agencies "$data/agencies.csv" >/dev/null
printf 'code,name,field,level\nBENCH-T,Thủ tục cấp tỉnh,Hộ tịch,tinh\n' >"$work/procedures.csv"
"$bin" import procedures "$work/procedures.csv" >/dev/null
"$bin" serve >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:18091/healthz >/dev/null && break; sleep 0.2; done
agency=$(sed -n 2p "$data/agencies.csv" | cut -d, -f1)
form="form=short&procedure=BENCH-T&TC0=5&TT0=4&CC0=4&KQ0=5&PA0=na&HL0=4&E1=2&E2=1&E3=1&E6=1&E7=1"
post() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' \
    -H 'Content-Type: application/x-www-form-urlencoded' --data "$form" \
    "http://127.0.0.1:18091/k/$agency"
}
for _ in 1 2 3 4 5; do post; done >"$work/idle.txt"
started=$(date +%s.%N)
/usr/bin/time -f '%e s elapsed, %M KB peak' "$bin" import responses "$data/responses.csv" \
  >"$work/import.out" 2>"$work/import.err" &
importer=$!
while kill -0 "$importer" 2>/dev/null; do
  post >>"$work/during.txt"
  sleep 0.2
done
wait "$importer" || echo "the import failed"
cat "$work/import.out" "$work/import.err"
python3 - "$work/idle.txt" "$work/during.txt" <<'PY'
import sys
for name, path in (("without an import", sys.argv[1]), ("during the import", sys.argv[2])):
    rows = [line.split() for line in open(path) if line.strip()]
    statuses = {}
    for status, _ in rows:
        statuses[status] = statuses.get(status, 0) + 1
    ms = sorted(float(t) * 1000 for _, t in rows)
    if not ms:
        print(f"{name}: no submissions")
        continue
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    print(f"{name}: {len(ms)} submissions, statuses {statuses}, median {pick(0.5):.1f} ms, "
          f"p95 {pick(0.95):.1f} ms, max {ms[-1]:.1f} ms")
PY
