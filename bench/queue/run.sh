#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/queue (issue 5): the durable queue on the memory and SQLite stores, then the Redis
# queue peers (RQ, Celery, BullMQ: ../shared/peers/queues/bench-queues.sh) in the same run.
#
#   bench/queue/run.sh                      # 3 rounds of each store, then the peers (2 rounds)
#   ROUNDS=1 PEERS=0 bench/queue/run.sh     # afterwork only
#
# queue_bench STORE JOBS prints enqueue one at a time, enqueue batched (1,000 a transaction),
# process (one Worker, concurrency 50, no-op coroutine jobs) and end-to-end (batched enqueue +
# process) jobs/s. Stores: memory; sqlite (WAL, synchronous=NORMAL: a committed job survives a
# crash of the process, a power loss may roll back the last commits); sqlite-full
# (synchronous=FULL: every commit survives power loss).
#
# Knobs: ROUNDS (3), MEMORY_JOBS (200000), SQLITE_JOBS (100000), PEERS (1),
#        PEERS_DIR (../shared/peers), AFTERWORK_BUILD_DIR (build). Raw output:
#        <build>/bench-queue/<stamp>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/lib.sh"

ROUNDS="${ROUNDS:-3}"
MEMORY_JOBS="${MEMORY_JOBS:-200000}"
SQLITE_JOBS="${SQLITE_JOBS:-100000}"
PEERS="${PEERS:-1}"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/peers}"
BUILD_DIR="$ROOT/${AFTERWORK_BUILD_DIR:-build}"

afterwork_install_packages
afterwork_build "$BUILD_DIR" Release "" queue_bench
BIN="$BUILD_DIR/bin/queue_bench"

OUT="$BUILD_DIR/bench-queue/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
echo "results: $OUT"
{
    echo "date: $(date -Is)"
    echo "commit: $(git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null || echo unknown)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/run.txt"

for round in $(seq 1 "$ROUNDS"); do
    for store in memory sqlite sqlite-full; do
        jobs="$SQLITE_JOBS"
        [ "$store" = memory ] && jobs="$MEMORY_JOBS"
        [ "$store" = sqlite-full ] && jobs=$((SQLITE_JOBS / 5))
        echo "round $round: $store ($jobs jobs)"
        "$BIN" "$store" "$jobs" >"$OUT/$store-$round.txt"
    done
done
echo "load after afterwork: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/run.txt"

python3 - "$OUT" "$ROUNDS" <<'PY'
import os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
keys = ["enqueue_one_per_s", "enqueue_batch_per_s", "process_per_s", "end_to_end_per_s"]
print(f"\n{'store':12} " + " ".join(f"{k:>22}" for k in keys))
for store in ["memory", "sqlite", "sqlite-full"]:
    cols = []
    for key in keys:
        values = []
        for r in range(1, rounds + 1):
            with open(os.path.join(out, f"{store}-{r}.txt")) as f:
                pairs = dict(l.strip().split("=", 1) for l in f if "=" in l)
            values.append(float(pairs[key]))
        cols.append(statistics.median(values))
    print(f"{store:12} " + " ".join(f"{v:22,.0f}" for v in cols))
print("(medians of", rounds, "rounds, jobs/s)")
PY

if [ "$PEERS" = 1 ]; then
    PEERS="rq rq-simple celery bullmq" ROUNDS=2 bash "$PEERS_DIR/queues/bench-queues.sh" \
        2>&1 | tee "$OUT/peers.txt" | tail -n 30
fi
