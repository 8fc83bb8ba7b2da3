#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/runtime (issue 3): the runtime's basic costs next to asyncio's, in the same run.
#
#   bench/runtime/run.sh                       # 5 repetitions of each benchmark, 3 peer rounds
#   REPETITIONS=3 PEER_ROUNDS=1 PINNED=0 bench/runtime/run.sh
#
# Builds runtime_bench (Release), runs each of its benchmarks in a process of its own (so one
# benchmark's heap does not shape the next) with REPETITIONS repetitions, then the asyncio peer
# (PEERS_DIR/asyncio/bench.py, via /usr/bin/python3) PEER_ROUNDS times, and prints a table of
# medians and ratios against the targets of issue 3:
#   spawn-and-complete throughput >= 10x asyncio's create_task, one core;
#   to_thread round-trip median < 20 us;
#   memory per idle suspended task <= half of asyncio's.
# With PINNED=1 (the default) the round trips of both run once more with every thread on CPU 0
# (taskset), where a hand-off is a context switch rather than the wake-up of an idle vCPU.
#
# Knobs: REPETITIONS (5), PEER_ROUNDS (3), FILTER (a regex over benchmark names, default all),
#        PINNED (1), PEERS_DIR (default ../shared/peers next to the repository),
#        PYTHON (/usr/bin/python3), AFTERWORK_BUILD_DIR (build).
# Raw output lands in <build>/bench-runtime/<stamp>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/lib.sh"

REPETITIONS="${REPETITIONS:-5}"
PEER_ROUNDS="${PEER_ROUNDS:-3}"
FILTER="${FILTER:-.}"
PINNED="${PINNED:-1}"
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

# run_bench PREFIX FILTER [COMMAND PREFIX...]: each benchmark matching FILTER in a process of
# its own, REPETITIONS repetitions each, JSON to $OUT/PREFIX-NN.json (merged by the summary).
run_bench() {
    local prefix="$1" filter="$2" index=0 name
    shift 2
    local -a names
    mapfile -t names < <("$BIN" --benchmark_list_tests=true --benchmark_filter="$filter")
    for name in "${names[@]}"; do
        index=$((index + 1))
        "$@" "$BIN" --benchmark_filter="^${name}\$" \
            --benchmark_repetitions="$REPETITIONS" --benchmark_report_aggregates_only=true \
            --benchmark_out="$OUT/$prefix-$(printf '%02d' "$index").json" \
            --benchmark_out_format=json 2> /dev/null |
            { grep -E "_(median|cv) |ERROR" || true; } | tee -a "$OUT/$prefix.txt"
    done
}

# run_peer PREFIX [COMMAND PREFIX...]: PEER_ROUNDS runs of the asyncio peer.
run_peer() {
    local prefix="$1" round
    shift
    for round in $(seq 1 "$PEER_ROUNDS"); do
        echo "asyncio ($prefix) round $round:"
        "$@" "$PYTHON" "$PEER" | tee "$OUT/$prefix-$round.txt"
    done
}

run_bench afterwork "$FILTER"
echo "load after afterwork: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.txt"
if [ -f "$PEER" ]; then
    run_peer asyncio
    echo "load after asyncio: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.txt"
else
    echo "no asyncio peer at $PEER: measuring afterwork alone"
fi

# The round trips again with every thread on one CPU. On this VM, waking a thread that sleeps
# on the other, idle vCPU costs tens of microseconds and dominates the figures above; on one
# CPU a hand-off is a context switch, which leaves the runtime's own cost.
if [ "$PINNED" = 1 ] && command -v taskset > /dev/null; then
    run_bench pinned-afterwork 'to_thread|run_on' taskset -c 0
    if [ -f "$PEER" ]; then
        run_peer pinned-asyncio taskset -c 0
    fi
    echo "load after the pinned runs: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.txt"
fi

# The tables: medians over the repetitions (afterwork) and over the rounds (asyncio).
"$PYTHON" - "$OUT" << 'PY' | tee "$OUT/summary.md"
import glob, json, statistics, sys

out = sys.argv[1]


def load(prefix):
    medians, rounds = {}, {}
    for path in sorted(glob.glob(f"{out}/{prefix}afterwork-*.json")):
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                # The median of the repetitions; with REPETITIONS=1 the single run.
                if b.get("aggregate_name") == "median" or b.get("run_type") == "iteration":
                    medians.setdefault(b["run_name"], b)
                    if b.get("aggregate_name") == "median":
                        medians[b["run_name"]] = b
    for path in sorted(glob.glob(f"{out}/{prefix}asyncio-*.txt")):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    rounds.setdefault(parts[0], []).append(float(parts[1]))
    return medians, rounds


def fmt(v, digits=1):
    if v is None:
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.{digits}f}"


def table(prefix, specs):
    medians, rounds = load(prefix)
    if not medians:
        return
    py = {k: statistics.median(v) for k, v in rounds.items()}

    def aw(name, counter):
        for run_name, b in medians.items():
            if run_name.startswith(name + "/") and counter in b:
                return b[counter]
        return None

    print()
    print("| figure | afterwork | asyncio | ratio | target | met |")
    print("|---|---|---|---|---|---|")
    for label, name, counter, peer, kind, target, check in specs:
        mine, theirs = aw(name, counter), py.get(peer)
        ratio = None
        if mine is not None and theirs:
            ratio = mine / theirs if kind == "mine/theirs" else theirs / mine
        met = "-" if check is None or mine is None else ("yes" if check(mine, ratio) else "**no**")
        shown = "-" if ratio is None else f"{ratio:.2f}x"
        print(f"| {label} | {fmt(mine)} | {fmt(theirs)} | {shown} | {target or '-'} | {met} |")
    residual = {n.split("/")[1]: b.get("residual_bytes") for n, b in medians.items()
                if n.startswith("idle_task_memory/")}
    if residual:
        print()
        print("residual heap after releasing the idle tasks (bytes, median): " +
              ", ".join(f"{k} {fmt(v)}" for k, v in residual.items()))
    for k, v in sorted(rounds.items()):
        print(f"asyncio {k} per round: " + ", ".join(fmt(x) for x in v))


def ten_x(mine, ratio):
    return ratio is not None and ratio >= 10


def half(mine, ratio):
    return ratio is not None and ratio <= 0.5


def under_20(mine, ratio):
    return mine < 20


S, L, R, B = ("spawn_complete_per_s", "to_thread_roundtrip_median", "run_on_roundtrip_median",
              "idle_task_bytes")
MINE, THEIRS = "mine/theirs", "theirs/mine"
latency = [
    ("to_thread round trip, median us (ratio: asyncio / afterwork)",
     "to_thread_round_trip", "median_us", L, THEIRS, "< 20 us", under_20),
    ("run_on(loop, noop()).get() from a thread, median us (vs run_coroutine_threadsafe)",
     "run_on_from_thread", "median_us", R, THEIRS, None, None),
    ("run_on loop A -> loop B, co_await .wait(), median us (vs the same)",
     "run_on_loop_to_loop", "median_us", R, THEIRS, None, None),
]
table("", [
    ("spawn + complete, TaskHandle, tasks/s (200k a batch, one core)",
     "spawn_complete_handles/200000", "tasks_per_s", S, MINE, ">= 10x asyncio", ten_x),
    ("spawn + complete, TaskGroup, tasks/s (200k a batch)",
     "spawn_complete_task_group/200000", "tasks_per_s", S, MINE, None, None),
    ("spawn + complete, TaskHandle on a Loop thread, tasks/s (200k)",
     "spawn_complete_loop/200000", "tasks_per_s", S, MINE, None, None),
    ("spawn + complete, TaskHandle, tasks/s (1k a batch)",
     "spawn_complete_handles/1000", "tasks_per_s", S, MINE, None, None),
    ("spawn + complete, TaskGroup, tasks/s (1k a batch)",
     "spawn_complete_task_group/1000", "tasks_per_s", S, MINE, None, None),
    ("(Asio floor: bare co_spawn, tasks/s, 200k a batch)",
     "spawn_complete_bare_co_spawn/200000", "tasks_per_s", S, MINE, None, None),
] + latency + [
    ("bytes per idle task: shared event (timer), ratio afterwork / asyncio",
     "idle_task_memory/event", "bytes_per_task", B, MINE, "<= 0.5x asyncio", half),
    ("bytes per idle task: sleep_for(24h)",
     "idle_task_memory/sleep", "bytes_per_task", B, MINE, None, None),
    ("bytes per idle task: awaiting another TaskHandle",
     "idle_task_memory/wait_handle", "bytes_per_task", B, MINE, None, None),
    ("(Asio floor: bare co_spawn on the shared event, bytes)",
     "idle_task_memory/bare_co_spawn", "bytes_per_task", B, MINE, None, None),
])
if glob.glob(f"{out}/pinned-afterwork-*.json"):
    print()
    print("Round trips with every thread on one CPU (taskset -c 0):")
    table("pinned-", latency)
PY
