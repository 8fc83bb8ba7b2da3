#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/http: many keep-alive connections on POST /send-notification/{email} against
# `afterwork serve`, side by side with the peers (nginx `return 200`, FastAPI, Fastify) driven
# by the same wrk client in the same run. Reports req/s, p50 and p99, and checks that every
# background task ran (lines in log.txt vs requests answered).
#
#   bench/http/run.sh                 # 3 rounds x (afterwork, nginx, fastapi-2w-asgimw, fastify)
#   ROUNDS=2 DURATION=10s PEER_TARGETS="nginx fastapi-2w-asgimw" bench/http/run.sh
#
# Knobs: ROUNDS (3), DURATION (10s), WARMUP (3s), CONNS (64), THREADS (2), PEER_TARGETS,
#        PEERS_DIR (the peer benchmarks: default ../shared/peers next to the repository),
#        AFTERWORK_BUILD_DIR (build). Without the peers it measures afterwork alone.
# Two afterwork variants run: the reference route (the append runs as a coroutine task on the
# loop) through the peers' script as its `custom` target, and `?sync=1` (a plain-function task
# on the background pool, as FastAPI's `def` task) with the same wrk settings right after.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/scripts/lib.sh"

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-3s}"
CONNS="${CONNS:-64}"
THREADS="${THREADS:-2}"
PEER_TARGETS="${PEER_TARGETS:-nginx fastapi-2w-asgimw fastify}"
PEERS_DIR="${PEERS_DIR:-$ROOT/../shared/peers}"
BUILD_DIR="$ROOT/${AFTERWORK_BUILD_DIR:-build}"
PORT=8704
LUA="$ROOT/bench/http/post-notification.lua"

afterwork_install_packages
(AFTERWORK_APT_PACKAGES=(wrk curl python3) && afterwork_install_packages)
afterwork_build "$BUILD_DIR" Release "" afterwork_app
BIN="$BUILD_DIR/bin/afterwork"

OUT="$BUILD_DIR/bench-http/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
echo "results: $OUT"

# The peers' script, with afterwork as its `custom` target: same client, same run.
if [ -x "$PEERS_DIR/bench-http.sh" ] || [ -f "$PEERS_DIR/bench-http.sh" ]; then
    export PEERS_RUN="$OUT/run" PEERS_RESULTS="$OUT"
    TARGETS="custom $PEER_TARGETS" ROUNDS="$ROUNDS" DURATION="$DURATION" WARMUP="$WARMUP" \
    CONNS="$CONNS" THREADS="$THREADS" CUSTOM_PORT="$PORT" \
    CUSTOM_BG_LOG="$PEERS_RUN/http-custom/log.txt" \
    CUSTOM_CMD="$BIN serve --host 127.0.0.1 --port \$PORT --data-dir \$PEER_LOG_DIR --log-level warn" \
        bash "$PEERS_DIR/bench-http.sh" | tee "$OUT/peers.md"
else
    echo "no peers at $PEERS_DIR: measuring afterwork alone"
fi

# The plain-function variant, same wrk settings.
wait_healthy() {
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$PORT/healthz" > /dev/null && return 0
        sleep 0.1
    done
    return 1
}
lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
wait_stable() {
    local last=-1 now
    for _ in $(seq 1 300); do
        now="$(lines "$1")"
        [ "$now" = "$last" ] && break
        last="$now"
        sleep 0.2
    done
    echo "$now"
}
printf 'round\tvariant\trps\tp50_ms\tp99_ms\trequests\tbg_lines\tcheck\n' > "$OUT/variants.tsv"
for round in $(seq 1 "$ROUNDS"); do
    for variant in sync; do
        data="$OUT/data-$variant-$round"
        mkdir -p "$data"
        "$BIN" serve --host 127.0.0.1 --port "$PORT" --data-dir "$data" --log-level warn \
            > "$OUT/server-$variant-$round.out" 2>&1 &
        pid=$!
        wait_healthy || { kill "$pid"; echo "afterwork did not start"; exit 1; }
        path="/send-notification/x@example.com?sync=1"
        timeout 120 wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" -s "$LUA" \
            "http://127.0.0.1:$PORT" -- "$path" > /dev/null
        wait_stable "$data/log.txt" > /dev/null
        : > "$data/log.txt"
        result="$(timeout 300 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$LUA" \
            "http://127.0.0.1:$PORT" -- "$path" | grep WRKRESULT)"
        count="$(wait_stable "$data/log.txt")"
        kill -TERM "$pid"; wait "$pid" || true
        field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<< "$result"; }
        requests="$(field requests)"
        extra=$((count - requests))
        check="MISMATCH($extra)"
        if [ "$extra" -ge 0 ] && [ "$extra" -le "$CONNS" ]; then check="ok(+$extra)"; fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "afterwork-$variant" "$(field rps)" \
            "$(field p50_ms)" "$(field p99_ms)" "$requests" "$count" "$check" \
            >> "$OUT/variants.tsv"
        rm -rf "$data"
    done
done
echo
echo "afterwork variants (wrk -t$THREADS -c$CONNS -d$DURATION):"
column -t -s $'\t' "$OUT/variants.tsv"

# Medians and ratios over the rounds of both tables.
python3 - "$OUT" <<'PY'
import csv, glob, os, statistics, sys
out = sys.argv[1]
rows = []
for path in glob.glob(os.path.join(out, "http-*", "summary.tsv")) + [os.path.join(out, "variants.tsv")]:
    if not os.path.exists(path):
        continue
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            name = row.get("target") or row.get("variant")
            if name == "custom":
                name = "afterwork (loop task)"
            if name == "afterwork-sync":
                name = "afterwork (plain task, pool)"
            rows.append((name, float(row["rps"]), float(row["p50_ms"]), float(row["p99_ms"])))
by = {}
for name, rps, p50, p99 in rows:
    by.setdefault(name, []).append((rps, p50, p99))
med = {n: tuple(statistics.median(x[i] for x in v) for i in range(3)) for n, v in by.items()}
print("\nmedians over rounds")
print("| target | req/s | p50 ms | p99 ms | x nginx | x fastapi-2w-asgimw |")
print("|---|---|---|---|---|---|")
for n, (rps, p50, p99) in sorted(med.items(), key=lambda kv: -kv[1][0]):
    ng = med.get("nginx", (0,))[0]
    fa = med.get("fastapi-2w-asgimw", (0,))[0]
    r1 = f"{rps / ng:.2f}" if ng else "-"
    r2 = f"{rps / fa:.1f}" if fa else "-"
    print(f"| {n} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {r1} | {r2} |")
PY
