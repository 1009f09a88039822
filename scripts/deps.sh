#!/usr/bin/env bash
# Installs the Debian packages qcall needs that this machine lacks.
#   scripts/deps.sh build   what building needs (ALSA headers, fontconfig)
#   scripts/deps.sh test    + headless Chromium and its driver (browser tests), systemd-analyze,
#                           libfaketime (scripts/test-dates.sh), HAProxy (the public face behind a proxy;
#                           two servers on PostgreSQL), PostgreSQL and pg_auto_failover (the store's
#                           tests on PostgreSQL, failover)
#   scripts/deps.sh run     same as build
set -euo pipefail
want=(pkg-config libasound2-dev libfontconfig1-dev libfreetype-dev libxkbcommon-dev)
case "${1:-build}" in
  test) want+=(chromium chromium-driver fonts-wqy-microhei systemd faketime haproxy postgresql postgresql-15-auto-failover pg-auto-failover-cli) ;;
  build|run) ;;
  *) echo "usage: $0 [build|test|run]" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
