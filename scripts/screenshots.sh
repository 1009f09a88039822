#!/usr/bin/env bash
# Regenerates every screenshot the README shows (docs/*.png, or DIR), from this checkout:
#   - the kiosk (every screen, both orientations; 短信提醒 also in 长者模式) and the east hall
#     TV, rendered headless with the software renderer against a demo server on a chosen clock
#     (a Wednesday, 10:05);
#   - the web pages (console, counter screen, rating pad, booking, ticket page, duty leader's
#     overview, cases, reports), saved by the browser tests as they walk through them.
#
#   scripts/screenshots.sh [DIR]     (default: docs)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs}
mkdir -p "$out"
out=$(cd "$out" && pwd)
scripts/deps.sh test
cargo build --locked --workspace --bins
bin=target/debug

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# A demo server with a hall in mid-morning: people waiting, counters calling, one 绿色通道.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$bin/qcall" serve --db "$work/qcall.db" --listen "127.0.0.1:$port" --clock-start 2026-11-25T10:05:00+08:00 2>"$work/server.log" &
pids+=($!)
for _ in $(seq 1 100); do curl -fsS "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
json=(-H 'Content-Type: application/json')
issue() { curl -fsS -XPOST "$url/api/v1/halls/$1/tickets" -H "Authorization: Bearer demo-kiosk-$1" "${json[@]}" -d "{\"service\":\"$2\"${3:+,\"priority\":\"$3\"}}" >/dev/null; }
sign_in() { curl -fsS -XPOST "$url/api/v1/sessions" "${json[@]}" -d "{\"clerk\":\"$1\",\"pin\":\"1234\",\"counter\":\"$2\"}" | sed 's/.*"token":"\([^"]*\)".*/\1/'; }
call() { curl -fsS -XPOST "$url/api/v1/counters/$2/call-next" -H "Authorization: Bearer $1" >/dev/null; }
for s in filing filing invoice filing registration consulting invoice filing filing invoice; do issue east "$s"; done
issue east filing priority
for s in filing invoice consulting; do issue west "$s"; issue central "$s"; done
call "$(sign_in clerk01 E01)" E01
call "$(sign_in clerk02 E02)" E02
call "$(sign_in clerk03 E03)" E03

kiosk() { "$bin/qcall-kiosk" --config config/kiosk-east.toml --server "$url" "$@"; }
for orient in landscape portrait; do
  for shot in home printing ticket ticket-not-printed check-in check-in-too-early appointment-ticket elder phone phone-done phone-refused; do
    kiosk "--$orient" --screenshot "$out/kiosk-$shot-$orient.png" --screen "$shot" >/dev/null
  done
  # 短信提醒 in 长者模式 (switched on at home, before the ticket).
  kiosk "--$orient" --screenshot "$out/kiosk-phone-elder-$orient.png" --screen phone --elder >/dev/null
done
kiosk --landscape --screenshot "$out/kiosk-home-landscape-en.png" --english >/dev/null
# A printer that does not answer: tickets are still issued, on screen.
sed 's|^port = .*|port = "/dev/null/no-printer"|' config/kiosk-east.toml > "$work/kiosk-fault.toml"
"$bin/qcall-kiosk" --config "$work/kiosk-fault.toml" --server "$url" --landscape --screenshot "$out/kiosk-printer-fault-landscape.png" >/dev/null || true
"$bin/qcall-display" --config config/display-east.toml --server "$url" --screenshot "$out/display-east.png" >/dev/null

# The web pages, as the browser tests walk through them.
QCALL_SCREENSHOTS="$out" cargo test --locked --workspace --test e2e -- web:: guidance:: --test-threads=1 >/dev/null
echo "screenshots written to $out: $(ls "$out"/*.png | wc -l)"
