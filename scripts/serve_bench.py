#!/usr/bin/env python3
"""Mining beside serving: happycoin --serve in each echo server design.

    flock /tmp/greenrt-bench.lock scripts/serve_bench.py            # 3 rounds
    scripts/serve_bench.py --rounds 1 --secs 1 --draws 30_000_000  # a quick look

Each configuration runs examples/happycoin with --serve on 127.0.0.1: the
internal client measures 64-byte echo round trips for --secs seconds
without mining, then while the miners run (happycoin's serve.rs). Every
round runs every configuration once, in a fixed order, so a burst of load
from elsewhere hits all of them alike; the table shows, per configuration,
the median over the rounds of each figure separately, and the draws/s the
miners made during the mining window (the client's load included). The
draw count is chosen so that the mining outlasts the window (the table shows
the window's length: when it is shorter than --secs, the mining ended
first).

Like scripts/happycoin_bench.py, each run also measures how much CPU
*other* processes used meanwhile (cores, from /proc/stat minus the run's
own CPU time), since this machine is shared.

Writes the medians as TSV (default $CARGO_TARGET_DIR/serve-bench.tsv).
Python 3 standard library only.
"""

import argparse
import csv
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

# The sibling scripts imported below must not leave __pycache__ in scripts/.
sys.dont_write_bytecode = True
from happycoin_bench import busy_seconds, children_cpu, loadavg

CONFIGS = [  # name, flags (besides --serve, --draws, --serve-*, --quiet)
    ("green", "--server-mode green --workers 2 --procs 2"),
    ("green-slice-10ms", "--server-mode green --workers 2 --procs 2 --time-slice-ms 10"),
    ("event-loop", "--server-mode event-loop"),
    ("event-loop-chunk-1024", "--server-mode event-loop --loop-chunk 1024"),
    ("thread", "--server-mode thread --workers 2"),
]
FIGURES = ["rtt_per_s", "p50_us", "p99_us", "max_us"]
PAIR = re.compile(r"(\w+)=(\S+)")


def run_once(binary, flags, a):
    """One run; returns (fields of the serve and summary lines, others' cores)."""
    args = [binary, "--serve", "127.0.0.1:0", *flags.split(), "--draws", str(a.draws),
            "--serve-conns", str(a.conns), "--serve-secs", str(a.secs), "--quiet"]
    busy0, cpu0, t0 = busy_seconds(), children_cpu(), time.monotonic()
    # The client's timeouts bound a run; this only catches a hung process.
    done = subprocess.run(args, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - t0
    others = max(0.0, (busy_seconds() - busy0) - (children_cpu() - cpu0)) / wall
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    fields = {}
    for line in done.stdout.splitlines():
        if line.startswith(("serve ", "summary ")):
            fields.update(PAIR.findall(line))
    return fields, others


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--draws", type=lambda s: int(s.replace("_", "")), default=80_000_000)
    p.add_argument("--secs", type=float, default=2.0, help="per phase (default 2)")
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    p.add_argument("--out", default=os.path.join(target, "serve-bench.tsv"))
    a = p.parse_args()
    out_path = os.path.abspath(a.out)

    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    subprocess.run(["cargo", "build", "--release", "--example", "happycoin"], check=True)
    binary = os.path.join(target, "release", "examples", "happycoin")
    header = (
        f"serve_bench {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs; "
        f"{a.conns} conns x 64 B, {a.secs} s per phase, draws={a.draws}, median of {a.rounds} rounds"
    )
    load_before = loadavg()
    print(f"# {header}\n# load average before: {load_before}", flush=True)

    runs = {name: [] for name, _ in CONFIGS}
    for r in range(1, a.rounds + 1):
        for name, flags in CONFIGS:
            fields, others = run_once(binary, flags, a)
            runs[name].append((fields, others))
            print(
                f"# round {r} {name}: baseline p99 {fields['baseline_p99_us']} us, "
                f"mining p99 {fields['mining_p99_us']} us, others {others:.2f} cores",
                file=sys.stderr, flush=True,
            )
    load_after = loadavg()

    def median(name, key):
        return statistics.median(float(f[key]) for f, _ in runs[name])

    print(
        f"\n| configuration | knob | phase | round trips/s | p50 µs | p99 µs | max µs "
        f"| window s | draws/s in the window | others' CPU |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for name, _ in CONFIGS:
        first = runs[name][0][0]
        knob = ", ".join(
            f"{k} {first[k]}" for k in ("time_slice_ms", "checkpoint_every", "loop_chunk")
            if first[k] != "-"
        ) or "kernel"
        others = statistics.mean(o for _, o in runs[name])
        for phase in ("baseline", "mining"):
            row = {fig: median(name, f"{phase}_{fig}") for fig in FIGURES}
            row.update(name=name, phase=phase, knob=knob, others=others,
                       secs=median(name, f"{phase}_secs"),
                       draws_per_s=median(name, "mining_draws_per_s") if phase == "mining" else 0.0,
                       errors=sum(int(f[f"{phase}_errors"]) + int(f[f"{phase}_mismatches"])
                                  for f, _ in runs[name]))
            rows.append(row)
            rate = f"{row['draws_per_s'] / 1e6:.1f} M" if phase == "mining" else ""
            print(
                f"| {name} | {knob} | {phase} | {row['rtt_per_s']:.0f} | {row['p50_us']:.0f} "
                f"| {row['p99_us']:.0f} | {row['max_us']:.0f} | {row['secs']:.2f} | {rate} "
                f"| {others:.2f} |"
            )
    conditions = f"load average {load_before} before, {load_after} after"
    print(f"\nconditions: {conditions}")
    if any(r["errors"] for r in rows):
        sys.exit("error: some round trips failed or came back wrong")
    columns = ["name", "phase", "knob", *FIGURES, "secs", "draws_per_s", "others"]
    with open(out_path, "w", newline="") as f:
        f.write(f"# {header}; {conditions}\n")
        tsv = csv.DictWriter(f, columns, delimiter="\t", lineterminator="\n", extrasaction="ignore")
        tsv.writeheader()
        tsv.writerows({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in rows)
    print(f"medians written to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
