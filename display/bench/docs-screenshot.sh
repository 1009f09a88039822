#!/usr/bin/env bash
# Regenerates docs/display-east.png: starts a server on a fresh database, issues tickets, opens
# six counters, calls at each, and renders the east hall's screen while one more call arrives
# (so the newest call is highlighted).
#
#   display/bench/docs-screenshot.sh [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-docs/display-east.png}
qcall=${QCALL:-target/debug/qcall}
display=${QCALL_DISPLAY:-target/debug/qcall-display}
port=${PORT:-18181}
dir=$(mktemp -d)
"$qcall" serve --db "$dir/q.db" --listen "127.0.0.1:$port" >"$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
base="http://127.0.0.1:$port/api/v1"
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

post() { curl -fsS -X POST -H 'content-type: application/json' "$@"; }
for s in filing filing invoice filing registration consulting invoice filing filing invoice \
         filing consulting filing invoice filing registration filing filing invoice filing; do
  post -H 'Authorization: Bearer demo-kiosk-east' -d "{\"service\":\"$s\"}" "$base/halls/east/tickets" >/dev/null
done
declare -A tokens
for i in 1 2 3 4 5 6; do
  c=E0$i
  tokens[$c]=$(post -d "{\"clerk\":\"clerk0$i\",\"pin\":\"1234\",\"counter\":\"$c\"}" "$base/sessions" |
    sed 's/.*"token":"\([^"]*\)".*/\1/')
done
for c in E04 E02 E06 E01 E05; do
  post -H "Authorization: Bearer ${tokens[$c]}" "$base/counters/$c/call-next" >/dev/null
  sleep 0.05
done
"$display" --server "http://127.0.0.1:$port" --screenshot "$out" --follow 1.5 &
shot=$!
sleep 0.7
post -H "Authorization: Bearer ${tokens[E03]}" "$base/counters/E03/call-next" >/dev/null
wait $shot
