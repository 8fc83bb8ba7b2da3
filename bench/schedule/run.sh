#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/schedule (issue 4): the scheduler next to APScheduler (Debian's python3-apscheduler),
# in the same run.
#
#   bench/schedule/run.sh                   # 3 rounds of each figure, both sides, interleaved
#   ROUNDS=1 LATENESS_SECONDS=10 bench/schedule/run.sh
#
# Figures (medians of ROUNDS rounds; each round runs afterwork, then APScheduler):
#   next-fire computations per second, 6 cron expressions x 5 zones (schedule_load next_fire),
#     plus Google Benchmark's harder mix (schedule_bench BM_NextFireMixed) for afterwork alone;
#   fire lateness p50/p99/max with 1,000 interval jobs of 1 s for LATENESS_SECONDS;
#   resident memory and add time with 100,000 schedules.
# Targets: p99 lateness < 2 ms on an idle machine; 100,000 schedules < 64 MiB; add and
# next-due O(log n) (add time at 10% vs 100% of the schedules).
#
# Knobs: ROUNDS (3), LATENESS_SECONDS (20), JOBS (1000), SCHEDULES (100000),
#        PYTHON (/usr/bin/python3), AFTERWORK_BUILD_DIR (build). Raw output lands in
#        <build>/bench-schedule/<stamp>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/lib.sh"

ROUNDS="${ROUNDS:-3}"
LATENESS_SECONDS="${LATENESS_SECONDS:-20}"
JOBS="${JOBS:-1000}"
SCHEDULES="${SCHEDULES:-100000}"
PYTHON="${PYTHON:-/usr/bin/python3}"
BUILD_DIR="$ROOT/${AFTERWORK_BUILD_DIR:-build}"
PEER="$ROOT/bench/schedule/apscheduler_peer.py"

AFTERWORK_APT_PACKAGES+=(python3-apscheduler)
afterwork_install_packages
afterwork_build "$BUILD_DIR" Release "" schedule_load schedule_bench
LOAD="$BUILD_DIR/bin/schedule_load"

OUT="$BUILD_DIR/bench-schedule/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
echo "results: $OUT"
{
    echo "date: $(date -Is)"
    echo "commit: $(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null || echo unknown)"
    echo "apscheduler: $("$PYTHON" -c 'import apscheduler; print(apscheduler.__version__)')"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/run.txt"

for round in $(seq 1 "$ROUNDS"); do
    echo "round $round: next_fire, memory, lateness (${LATENESS_SECONDS} s each side)"
    "$LOAD" next_fire 3 >"$OUT/afterwork-next_fire-$round.txt"
    "$PYTHON" "$PEER" next_fire 3 >"$OUT/apscheduler-next_fire-$round.txt"
    "$LOAD" memory "$SCHEDULES" >"$OUT/afterwork-memory-$round.txt"
    "$PYTHON" "$PEER" memory "$SCHEDULES" >"$OUT/apscheduler-memory-$round.txt"
    "$LOAD" lateness "$JOBS" "$LATENESS_SECONDS" 1000 >"$OUT/afterwork-lateness-$round.txt"
    "$PYTHON" "$PEER" lateness "$JOBS" "$LATENESS_SECONDS" 1000 \
        >"$OUT/apscheduler-lateness-$round.txt"
done
if [ -x "$BUILD_DIR/bin/schedule_bench" ]; then
    "$BUILD_DIR/bin/schedule_bench" --benchmark_filter='BM_NextFire' \
        --benchmark_repetitions="$ROUNDS" --benchmark_report_aggregates_only=true \
        --benchmark_format=json >"$OUT/schedule_bench.json" 2>/dev/null
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.txt"

"$PYTHON" - "$OUT" "$ROUNDS" <<'PY'
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])

def figure(side, mode, key):
    values = []
    for r in range(1, rounds + 1):
        with open(os.path.join(out, f"{side}-{mode}-{r}.txt")) as f:
            pairs = dict(line.strip().split("=", 1) for line in f if "=" in line)
        values.append(float(pairs[key]))
    return statistics.median(values), values

rows = [
    ("next-fire computations per s (30 cron triggers)", "next_fire", "next_fire_per_s", True),
    ("lateness p50, ms", "lateness", "p50_ms", False),
    ("lateness p90, ms", "lateness", "p90_ms", False),
    ("lateness p99, ms", "lateness", "p99_ms", False),
    ("lateness max, ms", "lateness", "max_ms", False),
    ("runs in the lateness window", "lateness", "runs", True),
    ("RSS of 100k schedules, MiB", "memory", "rss_mib", False),
    ("bytes per schedule", "memory", "bytes_per_schedule", False),
    ("add, us each, first 10%", "memory", "add_us_first_tenth", False),
    ("add, us each, last 90%", "memory", "add_us_last_nine_tenths", False),
]
print(f"\n{'figure':50} {'afterwork':>12} {'APScheduler':>12} {'ratio':>8}")
for label, mode, key, higher_better in rows:
    a, a_all = figure("afterwork", mode, key)
    p, p_all = figure("apscheduler", mode, key)
    if higher_better:
        ratio = a / p if p else float("inf")
    else:
        ratio = p / a if a else float("inf")
    print(f"{label:50} {a:12.3f} {p:12.3f} {ratio:7.1f}x   afterwork {a_all} peer {p_all}")
path = os.path.join(out, "schedule_bench.json")
if os.path.exists(path):
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            if b.get("aggregate_name") == "median":
                print(f"schedule_bench {b['run_name']}: {b.get('items_per_second', 0):,.0f} next_after/s")
print("ratio: how many times better afterwork is (higher is better for afterwork)")
PY
