#!/usr/bin/env python3
"""Happycoin scaling benchmark: every mode at 1, 2 and 4 workers, back to back.

    scripts/happycoin_bench.py                         # 10 000 000 draws, 3 rounds
    scripts/happycoin_bench.py --draws 2_000_000 --rounds 1   # a quick look
    scripts/plot_happycoin.py target/happycoin-bench.tsv docs/img/happycoin_scaling.svg

Each round runs every configuration once, in a fixed order, so a burst of
load from elsewhere hits all configurations alike; the table shows the
median draws/s over the rounds. Every run uses --rng fast with one seed, so
all configurations must report the same coins; the script fails otherwise.

The machine is shared, so each run also measures how much CPU *other*
processes used meanwhile: the system's busy time (/proc/stat, including
hypervisor steal) minus the run's own CPU time (getrusage), divided by the
run's wall time, in cores. A run during which others used more than
--max-others cores is repeated (up to --retries times); the table shows the
others' average for the runs kept, and how many runs were repeated.

Writes the medians as TSV (default $CARGO_TARGET_DIR/happycoin-bench.tsv),
the input of scripts/plot_happycoin.py. Python 3 standard library only.
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

CONFIGS = [  # name, flags (besides --draws, --seed, --quiet)
    ("single", "--mode single"),
    ("threads-1", "--mode threads --workers 1"),
    ("threads-2", "--mode threads --workers 2"),
    ("threads-4", "--mode threads --workers 4"),
    ("green-1", "--mode green --workers 1 --procs 1"),
    ("green-2", "--mode green --workers 2 --procs 2"),
    ("green-4", "--mode green --workers 4 --procs 2"),
    ("green-2-on-1p", "--mode green --workers 2 --procs 1"),
    ("pool-1", "--mode pool --workers 1 --procs 1"),
    ("pool-2", "--mode pool --workers 2 --procs 2"),
    ("pool-4", "--mode pool --workers 4 --procs 2"),
    ("single-reject-first", "--mode single --reject-first"),
    ("single-rng-os", "--mode single --rng os"),
]
SUMMARY = re.compile(
    r"^summary mode=(\S+) workers=(\d+) procs=(\d+) draws=(\d+) count=(\d+) "
    r"elapsed_s=([\d.]+) draws_per_s=([\d.]+)$",
    re.M,
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    """CPU seconds the whole system has spent busy (steal included)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(binary, flags, draws, seed):
    """Runs one configuration; returns (summary dict, others' cores)."""
    args = [binary, *flags.split(), "--draws", str(draws), "--quiet"]
    if "--rng os" not in flags:
        args += ["--seed", str(seed)]
    busy0, cpu0, t0 = busy_seconds(), children_cpu(), time.monotonic()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    wall = time.monotonic() - t0
    others = max(0.0, (busy_seconds() - busy0) - (children_cpu() - cpu0)) / wall
    m = SUMMARY.search(out)
    if not m:
        sys.exit(f"no summary line from {' '.join(args)}:\n{out}")
    keys = ["mode", "workers", "procs", "draws", "count", "elapsed_s", "draws_per_s"]
    summary = dict(zip(keys, m.groups()))
    summary["draws_per_s"] = float(summary["draws_per_s"])
    return summary, others


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--draws", type=lambda s: int(s.replace("_", "")), default=10_000_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-others", type=float, default=0.15, help="cores (default 0.15)")
    p.add_argument("--retries", type=int, default=3, help="per run (default 3)")
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    p.add_argument("--out", default=os.path.join(target, "happycoin-bench.tsv"))
    a = p.parse_args()
    out_path = os.path.abspath(a.out)  # relative to the caller's directory

    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    subprocess.run(["cargo", "build", "--release", "--example", "happycoin"], check=True)
    binary = os.path.join(target, "release", "examples", "happycoin")
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout
    header = (
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"{' '.join(rustc.split()[:2])}, draws={a.draws} rounds={a.rounds} seed={a.seed}"
    )
    load_before = loadavg()
    print(f"# {header}\n# load average before: {load_before}", flush=True)

    runs = {name: [] for name, _ in CONFIGS}  # name -> [(summary, others)]
    repeated = {name: 0 for name, _ in CONFIGS}
    for r in range(1, a.rounds + 1):
        for name, flags in CONFIGS:
            for attempt in range(a.retries + 1):
                summary, others = run_once(binary, flags, a.draws, a.seed)
                if others <= a.max_others or attempt == a.retries:
                    break
                repeated[name] += 1
                print(f"# {name}: others used {others:.2f} cores, repeating", file=sys.stderr)
            runs[name].append((summary, others))
        print(f"# round {r} done, load average {loadavg()}", file=sys.stderr, flush=True)
    load_after = loadavg()
    print(f"# load average after:  {load_after}\n")

    rows = []
    seeded_coins = None
    for name, _ in CONFIGS:
        summaries = [s for s, _ in runs[name]]
        coins = "/".join(sorted({s["count"] for s in summaries}, key=int))
        if not name.endswith("rng-os"):
            if seeded_coins is None:
                seeded_coins = coins
            elif coins != seeded_coins:
                sys.exit(f"error: {name} found {coins} coins, the others {seeded_coins}")
        rows.append(
            {
                "name": name,
                "mode": summaries[0]["mode"],
                "workers": summaries[0]["workers"],
                "procs": summaries[0]["procs"],
                "rate": statistics.median(s["draws_per_s"] for s in summaries),
                "coins": coins,
                "others": statistics.mean(o for _, o in runs[name]),
                "repeated": repeated[name],
            }
        )
    rate = {row["name"]: row["rate"] for row in rows}

    print(
        f"| configuration | mode | workers | procs | draws/s (median of {a.rounds}) "
        "| vs single | coins | others' CPU | repeated |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['name']} | {row['mode']} | {row['workers']} | {row['procs']} "
            f"| {row['rate'] / 1e6:.2f} M | {row['rate'] / rate['single']:.2f}x "
            f"| {row['coins']} | {row['others']:.2f} | {row['repeated']} |"
        )
    print(f"\ngreen procs=2 / procs=1: {rate['green-2'] / rate['green-1']:.2f}x (goal >= 1.8x)")
    print(f"green procs=2 / threads=2: {rate['green-2'] / rate['threads-2']:.3f} (goal >= 0.95)")

    worst = max(o for kept in runs.values() for _, o in kept)
    conditions = (
        f"other processes used at most {worst:.2f} cores during a run; "
        f"load average {load_before} before, {load_after} after"
    )
    print(f"conditions: {conditions}")
    with open(out_path, "w") as f:
        f.write(f"# {header}; {conditions}\n")
        f.write("name\tmode\tworkers\tprocs\tdraws_per_s\tcount\tothers_cores\n")
        for row in rows:
            f.write(
                f"{row['name']}\t{row['mode']}\t{row['workers']}\t{row['procs']}\t"
                f"{row['rate']:.1f}\t{row['coins']}\t{row['others']:.3f}\n"
            )
    print(f"medians written to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
