#!/usr/bin/env bash
# The shape of a bureau with hall edges, on loopback: a core (http://127.0.0.1:8080) and a
# server in each hall, east :8081, west :8082, central :8083, each the authority of its own
# hall's numbering and forwarding its log to the core. The edges take their configuration from
# the core (their own files hold only [server] and [edge]). Everything lives under
# data/edge-demo/ (QCALL_EDGE_DEMO_DIR to choose); Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh run
cargo build --locked --release -p qcall-server --bin qcall
qcall=target/release/qcall
dir=${QCALL_EDGE_DEMO_DIR:-data/edge-demo}
mkdir -p "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_up() {
  for _ in $(seq 1 100); do
    curl -fsS "$1/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not come up (see $dir/*.log)" >&2
  exit 1
}

# The core: the demo config, each hall's edge one of its devices (a fresh token per hall).
cp config/qcall.toml "$dir/core.toml"
halls=(east west central)
for i in 0 1 2; do
  h=${halls[$i]}
  if [ ! -s "$dir/$h.token" ]; then
    "$qcall" token >"$dir/$h.token.out"
    sed -n 's/^token: *//p' "$dir/$h.token.out" >"$dir/$h.token"
  fi
  hash=$(sed -n 's/^token_hash = //p' "$dir/$h.token.out")
  cat >>"$dir/core.toml" <<TOML

[[devices]]
id = "edge-$h"
name = "$h hall server"
kind = "edge"
hall = "$h"
token_hash = $hash
TOML
  cat >"$dir/$h.toml" <<TOML
# The $h hall's own server: what is its own. The rest comes from the core.
[server]
listen = "127.0.0.1:$((8081 + i))"
db = "$dir/$h/qcall.db"
public_base_url = "http://127.0.0.1:$((8081 + i))"

[edge]
hall = "$h"
upstream = "http://127.0.0.1:8080"
token_file = "$dir/$h.token"
TOML
  mkdir -p "$dir/$h"
done

"$qcall" serve --config "$dir/core.toml" --db "$dir/core.db" --clock-start open >"$dir/core.log" 2>&1 &
pids+=($!)
wait_up http://127.0.0.1:8080
for i in 0 1 2; do
  h=${halls[$i]}
  "$qcall" serve --config "$dir/$h.toml" --clock-start open >"$dir/$h.log" 2>&1 &
  pids+=($!)
  echo "${pids[-1]}" >"$dir/$h.pid"
done
for i in 0 1 2; do wait_up "http://127.0.0.1:$((8081 + i))"; done

cat <<TXT

qcall with a server in each hall is running (logs in $dir/).

  Core: duty leader   http://127.0.0.1:8080/supervisor    duty / demo-duty-password (all three halls)
  East hall server    http://127.0.0.1:8081               its kiosk, TV, consoles and pads talk to it
  West hall server    http://127.0.0.1:8082
  Central hall server http://127.0.0.1:8083
  A hall's duty page  http://127.0.0.1:8081/supervisor    (that hall alone)
  The link            curl -s http://127.0.0.1:8081/healthz   ("upstream": held, pending, …)

  Issue at east:      curl -XPOST http://127.0.0.1:8081/api/v1/halls/east/tickets \\
                        -H 'Authorization: Bearer demo-kiosk-east' \\
                        -H 'Content-Type: application/json' -d '{"service":"filing"}'
  A kiosk window:     target/release/qcall-kiosk --config config/kiosk-east.toml --server http://127.0.0.1:8081

  See a cut: kill -STOP \$(cat $dir/east.pid)   the core shows east 断网 within 15 s and alerts;
             kill -CONT \$(cat $dir/east.pid)   back online within seconds, its log forwarded.
             (Stopping the core instead: every hall goes on issuing and calling; its log waits.)
TXT
echo
echo "Ctrl-C stops everything."
wait "${pids[0]}"
