#!/usr/bin/env python3
"""Plot mining beside serving from scripts/serve_bench.py's medians, as SVG.

    scripts/serve_bench.py                          # writes target/serve-bench.tsv
    scripts/plot_serve.py target/serve-bench.tsv docs/img/serve_latency.svg

For each configuration, the echo p99 latency without mining and while
mining, as bars on a log scale, with the 5 ms goal of the green design.
Python 3 standard library only; the helpers come from plot_happycoin.py
(TSV reader, command line) and plot_echo.py (log ticks, time labels).
"""

import math
import sys
from html import escape

# The sibling scripts imported below must not leave __pycache__ in scripts/.
sys.dont_write_bytecode = True
import plot_happycoin
from plot_echo import duration, log_ticks
from plot_happycoin import read_tsv

WIDTH, LEFT, RIGHT, TOP = 860, 290, 40, 110
BAR, GAP = 14, 18
PHASES = [("baseline", "#bbbbbb", "without mining"), ("mining", "#d62728", "while mining")]
GOAL_US = 5000


def read(path):
    """Returns (comment, rows) from a serve_bench TSV."""
    return read_tsv(path, {"p99_us": float})


def plot(comment, rows):
    names = list(dict.fromkeys(r["name"] for r in rows))
    p99 = {(r["name"], r["phase"]): r["p99_us"] for r in rows}
    knob = {r["name"]: r["knob"] for r in rows}
    ticks = log_ticks(min(p99.values()), max(list(p99.values()) + [GOAL_US]))
    pw = WIDTH - LEFT - RIGHT
    ph = len(names) * (2 * BAR + GAP) + GAP
    height = TOP + ph + 50

    def sx(us):
        lo, hi = math.log10(ticks[0]), math.log10(ticks[-1])
        return LEFT + pw * (math.log10(us) - lo) / (hi - lo)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        '<text x="20" y="24" font-size="16" font-weight="bold">'
        "Mining beside serving: echo p99 latency, without and while mining</text>",
    ]
    for i, note in enumerate(p.strip() for p in comment.split(";") if p.strip()):
        out.append(f'<text x="20" y="{44 + 16 * i}" fill="#555">{escape(note)}</text>')
    for t in ticks:
        out.append(f'<line x1="{sx(t):.1f}" y1="{TOP}" x2="{sx(t):.1f}" y2="{TOP + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{sx(t):.1f}" y="{TOP + ph + 18}" text-anchor="middle">{escape(duration(t))}</text>')
    out.append(
        f'<text x="{LEFT + pw / 2}" y="{TOP + ph + 40}" text-anchor="middle">'
        "p99 round-trip latency (log scale), median of the rounds</text>"
    )
    for i, name in enumerate(names):
        y = TOP + GAP + i * (2 * BAR + GAP)
        out.append(f'<text x="{LEFT - 10}" y="{y + BAR - 2}" text-anchor="end" font-weight="bold">{escape(name)}</text>')
        out.append(f'<text x="{LEFT - 10}" y="{y + 2 * BAR - 1}" text-anchor="end" fill="#555">{escape(knob[name])}</text>')
        for j, (phase, colour, _) in enumerate(PHASES):
            v = p99.get((name, phase))
            if v is None:
                continue
            by = y + j * BAR
            out.append(
                f'<rect x="{LEFT}" y="{by}" width="{sx(v) - LEFT:.1f}" height="{BAR - 2}" fill="{colour}"/>'
            )
            out.append(f'<text x="{sx(v) + 4:.1f}" y="{by + BAR - 4}">{escape(duration(round(v, -1)))}</text>')
    x = sx(GOAL_US)
    out.append(
        f'<line x1="{x:.1f}" y1="{TOP - 6}" x2="{x:.1f}" y2="{TOP + ph}" stroke="#2ca02c" '
        'stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    out.append(f'<text x="{x + 4:.1f}" y="{TOP - 10}" fill="#2ca02c">goal for green: p99 &lt; 5 ms</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    lx = 20
    for _, colour, label in PHASES:
        out.append(f'<rect x="{lx}" y="{TOP - 22}" width="14" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 20}" y="{TOP - 12}">{escape(label)}</text>')
        lx += 130
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(plot_happycoin.main(sys.argv, read, plot, "SERVE_BENCH.tsv"))
