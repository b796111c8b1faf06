#!/usr/bin/env bash
# The scheduler is self-contained (docs/ARCHITECTURE.md, "One-way imports"):
# no code under runtime/sched/ names a crate module outside runtime/sched/.
# Comments (doc links included) may mention other modules; code may not.
set -euo pipefail
cd "$(dirname "$0")/.."
leaks=$(grep -rnE '\bcrate::' runtime/sched --include='*.rs' \
  | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' \
  | grep -vE '\bcrate::sched(::|\b)' || true)
if [ -n "$leaks" ]; then
  echo "runtime/sched/ must not import from the rest of the crate; found:" >&2
  echo "$leaks" >&2
  exit 1
fi
echo "sched imports: runtime/sched/ is self-contained"
