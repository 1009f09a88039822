#!/usr/bin/env bash
# Runs the built test executables (unit and end-to-end) under libfaketime at dates that have
# broken date-dependent tests: nothing in the suite may depend on the real date or time of day.
#
#   scripts/test-dates.sh              every date below, every test executable
#   scripts/test-dates.sh --e2e NAME   one date (by name), the end-to-end tests only (CI)
#
# Dates (the wall clock every process sees; the monotonic clock stays real):
#   sunday-night     Sunday 2026-12-13 22:30 in Beijing
#   spring-festival  Monday 2027-02-08 10:00 in Beijing, a Spring Festival holiday past the
#                    demo calendar's configured years
#   new-years-eve    2026-12-31 23:59:30 in Beijing: the business day turns during the run
#   monday-2031      Monday 2031-03-03 09:30 in Beijing
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A AT=(
  [sunday-night]="2026-12-13 14:30:00"
  [spring-festival]="2027-02-08 02:00:00"
  [new-years-eve]="2026-12-31 15:59:30"
  [monday-2031]="2031-03-03 01:30:00"
)
order=(sunday-night spring-festival new-years-eve monday-2031)
only_e2e=""
if [ "${1:-}" = --e2e ]; then
  [ -n "${2:-}" ] && [ -n "${AT[$2]:-}" ] || { echo "usage: $0 [--e2e ${order[*]// /|}]" >&2; exit 2; }
  only_e2e=1
  order=("$2")
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--e2e NAME]" >&2
  exit 2
fi

scripts/deps.sh test
lib=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime.so.1$' || true)
[ -n "$lib" ] || { echo "libfaketime not found (Debian package libfaketime)" >&2; exit 1; }

# Build everything first (never under a fake date): the binaries the end-to-end tests start,
# and every test executable, each with the package directory cargo would run it in.
cargo build --locked --workspace --bins
tests=$(mktemp)
trap 'rm -f "$tests"' EXIT
cargo test --locked --workspace --all-targets --no-run --message-format=json 2>/dev/null \
  | grep '"reason":"compiler-artifact"' | grep -E '"profile":\{[^}]*"test":true' \
  | sed -n 's/.*"manifest_path":"\([^"]*\)".*"executable":"\([^"]*\)".*/\1 \2/p' > "$tests"
[ -s "$tests" ] || { echo "no test executables found" >&2; exit 1; }

bins="$PWD/target/debug"
failed=()
for name in "${order[@]}"; do
  at="${AT[$name]}"
  echo "== $name: $(TZ=Asia/Shanghai date -d "$at UTC" '+%a %Y-%m-%d %H:%M:%S') in Beijing"
  while read -r manifest exe; do
    case "$exe" in */e2e-*) ;; *) [ -n "$only_e2e" ] && continue ;; esac
    log=$(mktemp)
    start=$(date +%s)
    if (cd "$(dirname "$manifest")" && env TZ=UTC LD_PRELOAD="$lib" FAKETIME="@$at" FAKETIME_DONT_FAKE_MONOTONIC=1 \
          QCALL_TEST_BINARIES="$bins" "$exe" >"$log" 2>&1); then
      result=$(grep -h '^test result:' "$log" | tail -1 | sed 's/^test result: ok\. //; s/; 0 measured.*//')
      case "$result" in "0 passed; 0 failed; 0 ignored") ;; *) echo "   ok      $(basename "$exe"): $result ($(( $(date +%s) - start )) s)" ;; esac
    else
      echo "   FAILED  $(basename "$exe") at $name:"
      grep -E '^test .* FAILED$|panicked' "$log" | head -20 | sed 's/^/     /'
      failed+=("$name $(basename "$exe")")
    fi
    rm -f "$log"
  done < "$tests"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "failed at a date: ${failed[*]}"
  exit 1
fi
echo "every test passed at every date: ${order[*]}"
