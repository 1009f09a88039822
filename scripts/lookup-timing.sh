#!/usr/bin/env bash
# Times booking view requests for a live booking code (wrong phone) against unknown codes, each from
# its own loopback address (the limits allow 30 an hour per address, 10 per code).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${QCALL_BIN:-target/debug/qcall}
[ -x "$bin" ] || cargo build --locked --bin qcall
dir=$(mktemp -d)
port=$((20000 + RANDOM % 10000))
"$bin" serve --db "$dir/q.db" --listen 127.0.0.1:$port --clock-start 2026-12-01T09:00:00+08:00 >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid; rm -rf $dir' EXIT
for _ in $(seq 100); do curl -fsS 127.0.0.1:$port/healthz >/dev/null 2>&1 && break; sleep 0.1; done
code=$(curl -s -XPOST 127.0.0.1:$port/api/v1/appointments -H 'Authorization: Bearer demo-booking' -H 'Content-Type: application/json' \
  -d '{"hall":"east","service":"filing","date":"2026-12-02","start":"10:00","name":"张三","phone":"13812341234","id_number":"11010519491231002X","request_id":"t1"}' | sed 's/.*"code":"\([0-9]*\)".*/\1/')
t() { curl -s -o /dev/null -w '%{time_starttransfer}\n' --interface "$1" -XPOST "127.0.0.1:$port/api/v1/appointments/$2/view" -H 'Content-Type: application/json' -d '{"phone":"13900000000"}'; }
live=(); unknown=()
for i in $(seq 10 19); do
  live+=("$(t 127.0.0.$i "$code")")
  unknown+=("$(t 127.0.0.$((i+20)) "$(printf '%08d' $((10000000 + i)))")")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]*1e6 " µs"}'; }
echo "MEASURE view, live code (wrong phone): median $(med "${live[@]}") over ${#live[@]}"
echo "MEASURE view, unknown code:             median $(med "${unknown[@]}") over ${#unknown[@]}"
