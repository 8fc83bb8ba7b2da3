#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/runtime (issue 3): the runtime's basic costs next to asyncio's, in the same run.
#
#   bench/runtime/run.sh                       # 5 repetitions of each benchmark, 3 peer rounds
#   REPETITIONS=3 PEER_ROUNDS=1 bench/runtime/run.sh
#
# Builds runtime_bench (Release), runs each of its benchmarks in a process of its own (so one
# benchmark's heap does not shape the next) with REPETITIONS repetitions, then the asyncio peer
# (PEERS_DIR/asyncio/bench.py, via /usr/bin/python3) PEER_ROUNDS times, and prints a table of
# medians and ratios against the targets of issue 3:
#   spawn-and-complete throughput >= 10x asyncio's create_task, one core;
#   to_thread round-trip median < 20 us;
#   memory per idle suspended task <= half of asyncio's.
#
# Knobs: REPETITIONS (5), PEER_ROUNDS (3), FILTER (a regex over benchmark names, default all),
#        PEERS_DIR (default ../shared/peers next to the repository), PYTHON (/usr/bin/python3),
#        AFTERWORK_BUILD_DIR (build). Raw output lands in <build>/bench-runtime/<stamp>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/lib.sh"

REPETITIONS="${REPETITIONS:-5}"
PEER_ROUNDS="${PEER_ROUNDS:-3}"
FILTER="${FILTER:-.}"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/peers}"
PYTHON="${PYTHON:-/usr/bin/python3}"
BUILD_DIR="$ROOT/${AFTERWORK_BUILD_DIR:-build}"
PEER="$PEERS_DIR/asyncio/bench.py"

afterwork_install_packages
afterwork_build "$BUILD_DIR" Release "" runtime_bench
BIN="$BUILD_DIR/bin/runtime_bench"
[ -x "$BIN" ] || afterwork_die "$BIN was not built: is libbenchmark-dev installed?"

OUT="$BUILD_DIR/bench-runtime/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
echo "results: $OUT"
{
    echo "date: $(date -Is)"
    echo "commit: $(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null || echo unknown)"
    echo "cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/run.txt"

# One process per benchmark, REPETITIONS repetitions each; the JSON files are merged below.
mapfile -t names < <("$BIN" --benchmark_list_tests=true --benchmark_filter="$FILTER")
index=0
for name in "${names[@]}"; do
    index=$((index + 1))
    "$BIN" --benchmark_filter="^${name}\$" \
        --benchmark_repetitions="$REPETITIONS" --benchmark_report_aggregates_only=true \
        --benchmark_out="$OUT/afterwork-$(printf '%02d' "$index").json" \
        --benchmark_out_format=json | { grep -E "_(median|cv) |ERROR" || true; } | tee -a "$OUT/afterwork.txt"
done
echo "load after afterwork: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.txt"

if [ -f "$PEER" ]; then
    for round in $(seq 1 "$PEER_ROUNDS"); do
        echo "asyncio round $round:"
        "$PYTHON" "$PEER" | tee "$OUT/asyncio-$round.txt"
    done
    echo "load after asyncio: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.txt"
else
    echo "no asyncio peer at $PEER: measuring afterwork alone"
fi

# The table: medians over the repetitions (afterwork) and over the rounds (asyncio).
"$PYTHON" - "$OUT" <<'EOF' | tee "$OUT/summary.md"
import glob, json, statistics, sys

out = sys.argv[1]
medians = {}
for path in sorted(glob.glob(f"{out}/afterwork-*.json")):
    with open(path) as f:
        for b in json.load(f)["benchmarks"]:
            if b.get("aggregate_name") == "median":
                medians[b["run_name"]] = b

def aw(name, counter):
    for run_name, b in medians.items():
        if run_name.startswith(name + "/") and counter in b:
            return b[counter]
    return None

rounds = {}
for path in sorted(glob.glob(f"{out}/asyncio-*.txt")):
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                rounds.setdefault(parts[0], []).append(float(parts[1]))
py = {k: statistics.median(v) for k, v in rounds.items()}

def fmt(v, digits=1):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.{digits}f}"

rows = []
def row(label, mine, theirs, ratio_kind, target=None, check=None):
    ratio = None
    if mine is not None and theirs:
        ratio = mine / theirs if ratio_kind == "mine/theirs" else theirs / mine
    met = "-" if check is None or mine is None else ("yes" if check(mine, ratio) else "**no**")
    rows.append((label, fmt(mine), fmt(theirs), "-" if ratio is None else f"{ratio:.2f}x",
                 target or "-", met))

spawn_py = py.get("spawn_complete_per_s")
row("spawn + complete, TaskHandle, tasks/s (200k a batch, one core)",
    aw("spawn_complete_handles/200000", "tasks_per_s"), spawn_py, "mine/theirs",
    ">= 10x asyncio", lambda m, r: r is not None and r >= 10)
row("spawn + complete, TaskGroup, tasks/s (200k a batch)",
    aw("spawn_complete_task_group/200000", "tasks_per_s"), spawn_py, "mine/theirs")
row("spawn + complete, TaskHandle on a Loop thread, tasks/s (200k)",
    aw("spawn_complete_loop/200000", "tasks_per_s"), spawn_py, "mine/theirs")
row("spawn + complete, TaskHandle, tasks/s (1k a batch)",
    aw("spawn_complete_handles/1000", "tasks_per_s"), spawn_py, "mine/theirs")
row("(Asio floor: bare co_spawn, tasks/s, 200k a batch)",
    aw("spawn_complete_bare_co_spawn/200000", "tasks_per_s"), spawn_py, "mine/theirs")
row("to_thread round trip, median us (ratio: asyncio / afterwork)",
    aw("to_thread_round_trip", "median_us"), py.get("to_thread_roundtrip_median"), "theirs/mine",
    "< 20 us", lambda m, r: m < 20)
row("run_on(loop, noop()).get() from a thread, median us (vs run_coroutine_threadsafe)",
    aw("run_on_from_thread", "median_us"), py.get("run_on_roundtrip_median"), "theirs/mine")
row("run_on loop A -> loop B, co_await .wait(), median us",
    aw("run_on_loop_to_loop", "median_us"), py.get("run_on_roundtrip_median"), "theirs/mine")
idle_py = py.get("idle_task_bytes")
row("bytes per idle task: shared event (timer), ratio afterwork / asyncio",
    aw("idle_task_memory/event", "bytes_per_task"), idle_py, "mine/theirs",
    "<= 0.5x asyncio", lambda m, r: r is not None and r <= 0.5)
row("bytes per idle task: sleep_for(24h)",
    aw("idle_task_memory/sleep", "bytes_per_task"), idle_py, "mine/theirs")
row("bytes per idle task: awaiting another TaskHandle",
    aw("idle_task_memory/wait_handle", "bytes_per_task"), idle_py, "mine/theirs")
row("(Asio floor: bare co_spawn on the shared event, bytes)",
    aw("idle_task_memory/bare_co_spawn", "bytes_per_task"), idle_py, "mine/theirs")

print()
print("| figure | afterwork | asyncio | ratio | target | met |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
residual = {n.split("/")[1]: b.get("residual_bytes") for n, b in medians.items()
            if n.startswith("idle_task_memory/")}
print()
print("residual heap after releasing the idle tasks (bytes, median):",
      ", ".join(f"{k} {fmt(v)}" for k, v in residual.items()))
for k, v in sorted(rounds.items()):
    print(f"asyncio {k} per round: " + ", ".join(fmt(x) for x in v))
EOF
