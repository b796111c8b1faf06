#!/usr/bin/env bash
# Echo benchmark: the three echo_server designs and tokio side by side,
# loopback only.
#
# For each connection count, the modes (green, event-loop, thread, and
# tokio: examples/peers/tokio_echo.rs on tokio current_thread) run back
# to back, REPEAT rounds interleaved, each run on a fresh server pinned to
# SERVER_CPU and driven by echo_client pinned to CLIENT_CPU: 64-byte
# request/response round trips for SECS seconds. Reported per (conns, mode):
# the median round trips/s of the rounds with that run's latencies and the
# server's CPU time per round trip (user + system from /proc/PID/stat over
# the client's run: with both cores saturated at >= 100 connections this is
# the figure that carries between runs), the server's peak RSS (VmHWM), and
# errors summed over the rounds. Every server
# must exit 0 on SIGTERM. SURVIVE=N then pushes the thread mode (and, for
# contrast, the green mode) to N connections.
#
# Usage: scripts/echo_bench.sh            (defaults below; override by env)
#   SECS=5 REPEAT=3 CONNS="1 100 1000 10000" MODES="green event-loop thread tokio"
#   SERVER_CPU=0 CLIENT_CPU=1 PROCS=1 CLIENT_PROCS=1 BYTES=64 SURVIVE=19000
#   TSV=$CARGO_TARGET_DIR/echo-bench.tsv
#
# The medians also go to TSV, the input of scripts/plot_echo.py:
#   scripts/plot_echo.py target/echo-bench.tsv docs/img/echo_comparison.svg
#
# The machine's other load skews single runs: the script prints the CPU
# pressure (PSI) before and after, and the median of interleaved rounds is
# what to quote.
set -euo pipefail

SECS=${SECS:-5}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-"1 100 1000 10000"}
MODES=${MODES:-"green event-loop thread tokio"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PROCS=${PROCS:-1}               # greenrt processors of the green server
CLIENT_PROCS=${CLIENT_PROCS:-1} # greenrt processors of the client
BYTES=${BYTES:-64}
SURVIVE=${SURVIVE:-}

TSV=${TSV:-${CARGO_TARGET_DIR:-target}/echo-bench.tsv}
TSV=$(realpath -m "$TSV") # relative to the caller's directory
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BIN="$TARGET/release/examples"

# 10 000 connections need 10 000 descriptors in each process.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10100 ]; then
    echo "echo_bench: warning: fd limit $(ulimit -n) is below 10 100; large runs will fail" >&2
fi

cargo build --quiet --release --example echo_server --example echo_client --example peer_tokio_echo

OUT=$(mktemp -d /tmp/echo_bench.XXXXXX)
RESULTS="$OUT/results.txt"
: >"$RESULTS"
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

pressure() {
    sed -n 's/^some avg10=\([^ ]*\) avg60=\([^ ]*\).*/avg10 \1%, avg60 \2%/p' /proc/pressure/cpu 2>/dev/null ||
        echo "n/a"
}

echo "# echo benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# $(uname -sr), $(nproc) CPUs; before: load $(cut -d' ' -f1-3 /proc/loadavg), CPU pressure $(pressure)"
echo "# server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU (greenrt, $CLIENT_PROCS procs);" \
     "green server procs=$PROCS; $BYTES-byte messages; $SECS s per run; $REPEAT rounds; fd limit $(ulimit -n)"
echo "# raw output: $OUT"

start_server() { # mode tag -> sets SERVER_PID, ADDR
    local mode=$1 tag=$2 extra=()
    if [ "$mode" = green ]; then extra=(--procs "$PROCS"); fi
    if [ "$mode" = tokio ]; then
        taskset -c "$SERVER_CPU" "$BIN/peer_tokio_echo" --addr 127.0.0.1:0 \
            >"$OUT/server-$tag.out" 2>"$OUT/server-$tag.err" &
    else
        taskset -c "$SERVER_CPU" "$BIN/echo_server" --mode "$mode" --addr 127.0.0.1:0 "${extra[@]}" \
            >"$OUT/server-$tag.out" 2>"$OUT/server-$tag.err" &
    fi
    SERVER_PID=$!
    ADDR=
    for _ in $(seq 1 100); do
        # The shell may not have created the file yet (set -e would exit).
        ADDR=$(sed -n 's/.*listening on \([0-9.:]*\).*/\1/p' "$OUT/server-$tag.out" 2>/dev/null || true)
        [ -n "$ADDR" ] && return 0
        sleep 0.1
    done
    echo "echo_bench: $mode server did not start:" >&2
    cat "$OUT/server-$tag.err" >&2
    exit 1
}

stop_server() { # tag
    kill -TERM "$SERVER_PID"
    local rc=0
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=
    if [ "$rc" -ne 0 ]; then
        echo "echo_bench: server $1 exited with status $rc on SIGTERM" >&2
        exit 1
    fi
}

field() { # key line
    sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0
}
TICK_HZ=$(getconf CLK_TCK)

hwm_kib() {
    awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0
}

for c in $CONNS; do
    for round in $(seq 1 "$REPEAT"); do
        for mode in $MODES; do
            tag="$mode-$c-$round"
            start_server "$mode" "$tag"
            cpu0=$(cpu_ticks)
            line=$(taskset -c "$CLIENT_CPU" "$BIN/echo_client" --addr "$ADDR" --conns "$c" \
                --bytes "$BYTES" --secs "$SECS" --procs "$CLIENT_PROCS" |
                tee "$OUT/client-$tag.out" | grep '^RESULT' || true)
            hwm=$(hwm_kib)
            cpu1=$(cpu_ticks)
            stop_server "$tag"
            if [ -z "$line" ]; then
                echo "echo_bench: no result for $tag (see $OUT/client-$tag.out)" >&2
                line="RESULT rtps=0 p50_us=- p99_us=- max_us=- connect_errors=$c io_errors=0 mismatches=0"
            fi
            echo "$c $mode $(field rtps "$line") $(field p50_us "$line") $(field p99_us "$line")" \
                "$(field max_us "$line") $(( $(field connect_errors "$line") + $(field io_errors "$line") ))" \
                "$(field mismatches "$line") $hwm" \
                "$(awk -v t=$((cpu1 - cpu0)) -v hz="$TICK_HZ" -v r="$(field rtps "$line")" -v s="$SECS" \
                    'BEGIN { if (r > 0) printf "%.2f", t / hz * 1e6 / (r * s); else print "-" }')" >>"$RESULTS"
        done
    done
done

printf '\n| conns | mode | round trips/s (median of %s) | p50 µs | p99 µs | max µs | server CPU µs per round trip | errors | mismatches | server peak RSS |\n' "$REPEAT"
printf '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
{
    echo "# echo_bench $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) CPUs; $SECS s per run, median of $REPEAT rounds; green server procs=$PROCS"
    printf 'conns\tmode\trtps\tp50_us\tp99_us\tmax_us\terrors\tmismatches\tpeak_rss_mib\tcpu_us_per_rt\n'
} >"$TSV"
for c in $CONNS; do
    for mode in $MODES; do
        # The median round by round trips/s, its latencies, and totals: a
        # table row on stdout, a TSV row in $TSV.
        awk -v c="$c" -v m="$mode" '$1 == c && $2 == m' "$RESULTS" | sort -k3,3n |
            awk -v n="$REPEAT" -v tsv="$TSV" '
                { row[NR] = $0; err += $7; mis += $8; if ($9 > hwm) hwm = $9 }
                END {
                    split(row[int((NR + 1) / 2)], f, " ")
                    printf "| %s | %s | %s | %s | %s | %s | %s | %d | %d | %.1f MiB |\n",
                        f[1], f[2], f[3], f[4], f[5], f[6], f[10], err, mis, hwm / 1024
                    printf "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%.1f\t%s\n",
                        f[1], f[2], f[3], f[4], f[5], f[6], err, mis, hwm / 1024, f[10] >>tsv
                }'
    done
done
echo "# all rounds (conns mode rtps p50 p99 max errors mismatches hwm_kib cpu_us_per_rt): $RESULTS"
echo "# medians as TSV: $TSV"

if [ -n "$SURVIVE" ]; then
    for mode in thread green; do
        echo
        echo "# $mode mode at $SURVIVE connections (2 s):"
        start_server "$mode" "$mode-survive"
        taskset -c "$CLIENT_CPU" "$BIN/echo_client" --addr "$ADDR" --conns "$SURVIVE" \
            --bytes "$BYTES" --secs 2 --procs "$CLIENT_PROCS" | grep -v '^RESULT' || true
        echo "# server peak RSS $(( $(hwm_kib) / 1024 )) MiB"
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            stop_server "$mode-survive"
            tail -n 1 "$OUT/server-$mode-survive.out"
        else
            rc=0
            wait "$SERVER_PID" || rc=$?
            SERVER_PID=
            echo "# $mode server DIED during the run (status $rc)"
        fi
        grep -m 3 -e 'at most' -e 'cannot start a thread' -e 'accept failed' -e 'panicked' \
            "$OUT/server-$mode-survive.err" || true
    done
fi
echo "# after: load $(cut -d' ' -f1-3 /proc/loadavg), CPU pressure $(pressure)"
