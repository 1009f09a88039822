#!/usr/bin/env bash
# Idle CPU and memory of the hall display in a real window under Xvfb, ticker scrolling,
# following a running server (no calls during the measurement).
#
#   display/bench/idle.sh [SERVER_URL] [SECONDS]
#
# Env: QCALL_DISPLAY (binary, default target/release/qcall-display), XVFB_DISPLAY (default :99).
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${QCALL_DISPLAY:-target/release/qcall-display}
server=${1:-http://127.0.0.1:8080}
secs=${2:-30}
disp=${XVFB_DISPLAY:-:99}

Xvfb "$disp" -screen 0 1920x1080x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 1
DISPLAY=$disp SLINT_BACKEND=winit-software RUST_LOG=warn "$bin" --server "$server" >/dev/null 2>&1 &
app=$!
sleep 5 # start-up and first sync are not idle

hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$app/stat"; }
t0=$(ticks)
start=$(date +%s.%N)
sleep "$secs"
t1=$(ticks)
end=$(date +%s.%N)
cpu=$(awk -v a="$t0" -v b="$t1" -v s="$start" -v e="$end" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz / (e - s) * 100 }')
rss=$(awk '/VmRSS/ {print $2}' "/proc/$app/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$app/status")
threads=$(awk '/Threads/ {print $2}' "/proc/$app/status")
echo "binary: $bin  window: 1920x1080 (Xvfb, winit-software)  measured: ${secs} s"
echo "idle CPU: ${cpu}% of one core   RSS: $((rss / 1024)) MiB   peak RSS: $((hwm / 1024)) MiB   threads: $threads"
