#!/usr/bin/env bash
# The README's estimate table: every shipped profile, seeds 1-5 (or SEEDS="..."), one day each,
# the mean of each figure over the seeds. Builds the release binary first.
# BOUND=N adds how close any estimate could come (`--bound N`: minutes a day, ten on the
# filing peak); FORKED=1 adds the forked estimate (`--forked`, its range: the config's percentiles
# and the range's median width; QUANTILE=q picks what it tells, 0.6 by default); LEARNT=1 lets
# the estimates know when taxpayers come by time of day (`--learnt-arrivals`); PROFILES="..."
# picks profiles; CONFIG=path another deployment (config/qcall.toml by default).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p qcall-server --bin qcall >&2
seeds=${SEEDS:-"1 2 3 4 5"}
bound=${BOUND:-0}
extra=()
if [ -n "${FORKED:-}" ]; then extra+=(--forked --fork-quantile "${QUANTILE:-0.6}"); fi
if [ -n "${LEARNT:-}" ]; then extra+=(--learnt-arrivals); fi
printf '%-14s %8s %8s %7s %8s %9s %8s %7s' profile simple forward ratio under10m mae+10min under+10 ranges
if [ -n "${FORKED:-}" ]; then printf ' %7s %8s %9s %7s %6s' forked under5m mae+10min inside width; fi
if [ "$bound" -gt 0 ]; then printf ' %11s %11s' bound-median least-mae; fi
printf '\n'
for profile in ${PROFILES:-ordinary-day filing-peak one-window short-staffed sudden-closing}; do
  for seed in $seeds; do
    target/release/qcall simulate --config "${CONFIG:-config/qcall.toml}" --profile "config/profiles/$profile.toml" --seed "$seed" --bound "$bound" "${extra[@]}" --json
  done | python3 -c '
import json, sys
lines = [json.loads(line) for line in sys.stdin]
reports, runs = lines[0::2], lines[1::2]
def mean(estimator, when, key):
    xs = [e[when][key] for run in runs for e in run if e["estimator"] == estimator]
    return sum(xs) / len(xs)
inside = [e["ranges"]["inside"] for run in runs for e in run if e.get("ranges") and e["estimator"] == "forward"]
simple, forward = mean("simple", "at_issue", "mae_min"), mean("forward", "at_issue", "mae_min")
row = "%-14s %8.1f %8.1f %7.2f %7.1f%% %9.1f %7.1f%% %6.0f%%" % (sys.argv[1], simple, forward, forward / simple,
      100 * mean("forward", "at_issue", "under_by_5_min"), mean("forward", "after_10_min", "mae_min"),
      100 * mean("forward", "after_10_min", "under_by_5_min"), 100 * sum(inside) / max(len(inside), 1))
forked = [e for run in runs for e in run if e["estimator"] == "forked"]
if forked:
    f = lambda when, key: sum(e[when][key] for e in forked) / len(forked)
    r = lambda key: sum(e["ranges"][key] for e in forked) / len(forked)
    row += " %7.1f %7.1f%% %9.1f %6.0f%% %6.1f" % (f("at_issue", "mae_min"), 100 * f("at_issue", "under_by_5_min"),
        f("after_10_min", "mae_min"), 100 * r("inside"), r("median_width_min"))
bounds = [r["bound"] for r in reports if "bound" in r]
if bounds:
    row += " %11.2f %11.2f" % (sum(b["median"]["mae_min"] for b in bounds) / len(bounds), sum(b["least_mae_min"] for b in bounds) / len(bounds))
print(row)
' "$profile"
done
