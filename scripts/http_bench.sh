#!/usr/bin/env bash
# HTTP benchmark: examples/http_server (greenrt) beside may_minihttp and
# hyper 1 on tokio current_thread (examples/peers/), measured with wrk on
# loopback, GET /plaintext.
#
# Every server runs on one thread (greenrt --procs 1, may 1 worker, tokio
# current_thread) pinned to SERVER_CPU; wrk (one thread) is pinned to
# CLIENT_CPU. Two loads per server: CONNS connections without pipelining,
# and CONNS connections with DEPTH requests pipelined per write
# (scripts/wrk/pipeline.lua). The servers run back to back, REPEAT rounds
# interleaved; reported per (load, server): the median requests/s of the
# rounds, that run's p99 latency and the server's CPU time per request
# (user + system from /proc/PID/stat over the wrk run; when wrk, not the
# server, is the bottleneck, req/s ties and this is the figure that
# separates the servers), plus greenrt's req/s ratio to each peer.
#
# "server %" and "wrk %" are how busy each side kept its core during the
# run (CPU time / wall time). A wrk near 100% with a server below it means
# the client set the pace: req/s then shows the client's limit, not the
# server's, and only CPU per request compares the servers.
#
# Usage: scripts/http_bench.sh         (defaults below; override by env)
#   SECS=10 REPEAT=1 CONNS=256 DEPTH=16 SERVER_CPU=0 CLIENT_CPU=1
#   SERVERS="greenrt may_minihttp hyper"  TSV=$CARGO_TARGET_DIR/http-bench.tsv
#
# The medians go to TSV, the input of scripts/plot_http.py:
#   scripts/plot_http.py target/http-bench.tsv docs/img/http_comparison.svg
#
# Needs wrk (apt-get install wrk); without it the script says so and exits 0.
set -euo pipefail

if ! command -v wrk >/dev/null 2>&1; then
    echo "http_bench: skipped: wrk is not installed (apt-get install wrk)"
    exit 0
fi

SECS=${SECS:-10}
REPEAT=${REPEAT:-1}
CONNS=${CONNS:-256}
DEPTH=${DEPTH:-16}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVERS=${SERVERS:-"greenrt may_minihttp hyper"}
PORT=${PORT:-18080}
TSV=${TSV:-${CARGO_TARGET_DIR:-target}/http-bench.tsv}
TSV=$(realpath -m "$TSV")
cd "$(dirname "$0")/.."
TARGET=${CARGO_TARGET_DIR:-target}
BIN="$TARGET/release/examples"

ulimit -n "$(ulimit -Hn)"
cargo build --quiet --release --example http_server --example peer_may_minihttp --example peer_hyper

PIN_SERVER=()
PIN_CLIENT=()
if command -v taskset >/dev/null 2>&1; then
    PIN_SERVER=(taskset -c "$SERVER_CPU")
    PIN_CLIENT=(taskset -c "$CLIENT_CPU")
else
    echo "http_bench: warning: no taskset; server and wrk are not pinned" >&2
fi

OUT=$(mktemp -d /tmp/http_bench.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

start_server() { # name
    local addr="127.0.0.1:$PORT"
    case "$1" in
    greenrt) "${PIN_SERVER[@]}" "$BIN/http_server" --addr "$addr" --procs 1 >"$OUT/server.log" 2>&1 & ;;
    may_minihttp) "${PIN_SERVER[@]}" "$BIN/peer_may_minihttp" --addr "$addr" --workers 1 >"$OUT/server.log" 2>&1 & ;;
    hyper) "${PIN_SERVER[@]}" "$BIN/peer_hyper" --addr "$addr" >"$OUT/server.log" 2>&1 & ;;
    *) echo "http_bench: unknown server $1" >&2; exit 2 ;;
    esac
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "http_bench: $1 did not start:" >&2
    cat "$OUT/server.log" >&2
    exit 1
}

# The server's CPU time so far (user + system), in clock ticks.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$SERVER_PID/stat" 2>/dev/null || echo 0
}
TICK_HZ=$(getconf CLK_TCK)

stop_server() {
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

# wrk's output -> "req/s p99_ms"
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v
        }
        # The p99 from scripts/wrk/p99.lua; the "99%" line of wrk only when
        # that is absent, as wrk prints 0.00us there after some runs.
        BEGIN { client = "client_ticks=0" }
        $1 == "99%" { wrk_p99 = ms($2) }
        $1 == "p99_us:" { p99 = $2 / 1000; have_p99 = 1 }
        $1 == "Requests/sec:" { rps = $2 }
        $1 ~ /^client_ticks=/ { client = $1 }
        /Non-2xx|Socket errors/ { errors = errors " " $0 }
        END {
            if (!have_p99) p99 = wrk_p99
            printf "%.0f %.3f %s%s\n", rps, p99, client, (errors == "" ? "" : " ERR:" errors) }
    '
}

# The CPU time (user + system, clock ticks) of the children this shell has
# waited for, i.e. of the wrk run before it in the same subshell.
waited_children_ticks() {
    awk '{ sub(/^.*\) /, ""); print "client_ticks=" $14 + $15 }' "/proc/$BASHPID/stat"
}

run_wrk() { # load
    local url="http://127.0.0.1:$PORT/plaintext"
    if [ "$1" = plain ]; then
        "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency \
            -s scripts/wrk/p99.lua "$url"
    else
        "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d"${SECS}s" --latency \
            -s scripts/wrk/pipeline.lua "$url" -- "$DEPTH"
    fi
}

echo "http_bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, SECS=$SECS REPEAT=$REPEAT CONNS=$CONNS DEPTH=$DEPTH"
[ -r /proc/pressure/cpu ] && echo "cpu pressure before: $(head -1 /proc/pressure/cpu)"
: >"$OUT/all.txt"
for round in $(seq 1 "$REPEAT"); do
    for load in plain pipelined; do
        for s in $SERVERS; do
            start_server "$s"
            # A short warm-up so every server starts from its steady state.
            "${PIN_CLIENT[@]}" wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$PORT/plaintext" >/dev/null 2>&1 || true
            cpu0=$(cpu_ticks)
            start=$(date +%s.%N)
            line=$({ run_wrk "$load" 2>&1; waited_children_ticks; } | parse_wrk)
            cpu1=$(cpu_ticks)
            wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
            stop_server
            read -r rps p99 client rest <<<"$line"
            client=${client#client_ticks=}
            line="$rps $p99 ${rest:-}"
            line="${line% }"
            cpu=$(awk -v t=$((cpu1 - cpu0)) -v hz="$TICK_HZ" -v r="$rps" -v s="$SECS" \
                'BEGIN { if (r > 0) printf "%.2f", t / hz * 1e6 / (r * s); else print "-" }')
            busy=$(awk -v t=$((cpu1 - cpu0)) -v c="$client" -v hz="$TICK_HZ" -v w="$wall" \
                'BEGIN { printf "server_busy_pct=%.0f client_busy_pct=%.0f", t / hz / w * 100, c / hz / w * 100 }')
            line="$line cpu_us_per_req=$cpu $busy"
            echo "$load $s $line" >>"$OUT/all.txt"
            echo "  round $round: $load $s: $line"
        done
    done
done
[ -r /proc/pressure/cpu ] && echo "cpu pressure after:  $(head -1 /proc/pressure/cpu)"

# Median over rounds (by req/s), then the table and greenrt's ratios.
printf 'load\tserver\treq_per_s\tp99_ms\tcpu_us_per_req\tserver_busy_pct\tclient_busy_pct\n' >"$TSV"
for load in plain pipelined; do
    for s in $SERVERS; do
        grep "^$load $s " "$OUT/all.txt" | sort -k3,3n | awk -v n="$REPEAT" '
            NR == int((n + 1) / 2) {
                cpu = sb = cb = "-"
                for (i = 5; i <= NF; i++) {
                    if ($i ~ /^cpu_us_per_req=/) { cpu = $i; sub(/^cpu_us_per_req=/, "", cpu) }
                    if ($i ~ /^server_busy_pct=/) { sb = $i; sub(/^server_busy_pct=/, "", sb) }
                    if ($i ~ /^client_busy_pct=/) { cb = $i; sub(/^client_busy_pct=/, "", cb) }
                }
                printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $1, $2, $3, $4, cpu, sb, cb
            }' >>"$TSV"
    done
done
echo
printf '%-10s %-13s %12s %10s %16s %9s %6s %14s\n' load server "req/s" "p99 ms" "CPU us/request" "server %" "wrk %" "greenrt/this"
awk -F'\t' 'NR > 1 { rps[$1, $2] = $3; p99[$1, $2] = $4; cpu[$1, $2] = $5; sb[$1, $2] = $6; cb[$1, $2] = $7; order[++n] = $1 SUBSEP $2 }
    END {
        for (i = 1; i <= n; i++) {
            split(order[i], k, SUBSEP)
            ratio = (rps[k[1], "greenrt"] != "" && rps[order[i]] > 0) ? sprintf("%.2fx", rps[k[1], "greenrt"] / rps[order[i]]) : "-"
            printf "%-10s %-13s %12d %10.2f %16s %9s %6s %14s\n", k[1], k[2], rps[order[i]], p99[order[i]], cpu[order[i]], sb[order[i]], cb[order[i]], ratio
        }
    }' "$TSV"
echo "(medians in $TSV)"
