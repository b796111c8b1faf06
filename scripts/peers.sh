#!/usr/bin/env bash
# greenrt beside tokio, may and Go on the same three micro benchmarks
# (yield ping-pong, channel hop, spawn+join), one table of medians and ratios.
#
#   bash scripts/peers.sh [criterion args...]
#
# Go runs first as its own process (benches/go/peers.go, GOMAXPROCS=1) when a
# Go toolchain is on PATH; without one its column says "–" and this script
# says it skipped Go. Then `cargo bench --bench peers` measures the Rust
# systems in one process and prints the table, also written to
# <target>/peers.md.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"

if command -v go >/dev/null 2>&1; then
    echo "== Go: $(go version)"
    go_results="$(realpath "$target")/peers_go.txt"
    (cd benches/go && GOMAXPROCS=1 GO111MODULE=off go run peers.go) >"$go_results"
    cat "$go_results"
    export GREENRT_PEERS_GO="$go_results"
else
    echo "== Go: skipped: no Go toolchain on PATH (apt-get install golang-go)"
    unset GREENRT_PEERS_GO
fi

echo "== Rust: cargo bench --bench peers $*"
cargo bench --bench peers -- "$@"
