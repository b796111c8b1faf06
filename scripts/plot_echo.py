#!/usr/bin/env python3
"""Plot the echo server comparison from scripts/echo_bench.sh's medians, as SVG.

    scripts/echo_bench.sh                            # writes target/echo-bench.tsv
    scripts/plot_echo.py target/echo-bench.tsv docs/img/echo_comparison.svg
    scripts/plot_echo.py docs/data/echo_bench.tsv docs/img/echo_comparison.svg

Two panels against the number of connections (log scale): round trips per
second, and p99 latency (log scale), one line per server design (green,
event-loop, thread). Python 3 standard library only, SVG written by hand
like scripts/plot_happycoin.py, whose TSV reader and point markers it
borrows.
"""

import math
import sys
from html import escape

# The sibling scripts imported below must not leave __pycache__ in scripts/.
sys.dont_write_bytecode = True
import plot_happycoin
from plot_happycoin import marker, read_tsv

WIDTH = 900
PANEL_W, PANEL_H = 330, 270
LEFTS = (80, 500)
SERIES = [  # mode, colour, marker; green last, so it is drawn on top
    ("thread", "#1f77b4", "square"),
    ("event-loop", "#ff7f0e", "diamond"),
    ("green", "#2ca02c", "circle"),
]


def read(path):
    """Returns (comment, rows) from an echo_bench TSV."""
    return read_tsv(path, {"conns": int, "rtps": float, "p99_us": float})


def log_ticks(lo, hi):
    """Powers of ten covering lo..hi."""
    return [10**e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def si(v):
    """1000 -> 1k, 10000 -> 10k, 1e6 -> 1M."""
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:g}{suffix}"
    return f"{v:g}"


def duration(us):
    """A latency in µs as a short label: 50 µs, 2 ms, 0.3 s."""
    if us >= 1e6:
        return f"{us / 1e6:g} s"
    if us >= 1e3:
        return f"{us / 1e3:g} ms"
    return f"{us:g} µs"


def panel(out, left, top, title, rows, key, log_y, label):
    """One panel: `key` against connections, a line per design."""
    conns = sorted({r["conns"] for r in rows})
    xs = log_ticks(min(conns), max(conns))
    values = [r[key] for r in rows]
    if log_y:
        ys = log_ticks(min(values), max(values))
        lo, hi = math.log10(ys[0]), math.log10(ys[-1])
    else:
        step = 10 ** math.floor(math.log10(max(values)))
        if max(values) / step < 3:
            step /= 2
        ys = [i * step for i in range(int(max(values) * 1.1 / step) + 2)]
        lo, hi = 0, ys[-1]

    def sx(c):
        span = math.log10(xs[-1]) - math.log10(xs[0]) or 1
        return left + PANEL_W * (math.log10(c) - math.log10(xs[0])) / span

    def sy(v):
        pos = math.log10(v) if log_y else v
        return top + PANEL_H * (1 - (pos - lo) / (hi - lo))

    out.append(f'<text x="{left}" y="{top - 12}" font-size="14" font-weight="bold">{escape(title)}</text>')
    for y in ys:
        out.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{left + PANEL_W}" y2="{sy(y):.1f}" stroke="#ddd"/>')
        text = duration(y) if log_y else si(y)
        out.append(f'<text x="{left - 8}" y="{sy(y) + 4:.1f}" text-anchor="end">{escape(text)}</text>')
    for x in xs:
        out.append(f'<line x1="{sx(x):.1f}" y1="{top}" x2="{sx(x):.1f}" y2="{top + PANEL_H}" stroke="#eee"/>')
        out.append(f'<text x="{sx(x):.1f}" y="{top + PANEL_H + 18}" text-anchor="middle">{si(x)}</text>')
    out.append(
        f'<text x="{left + PANEL_W / 2}" y="{top + PANEL_H + 40}" text-anchor="middle">'
        "connections (log scale)</text>"
    )
    out.append(
        f'<text transform="translate({left - 58} {top + PANEL_H / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(label)}</text>'
    )
    out.append(f'<rect x="{left}" y="{top}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#333"/>')
    for mode, colour, shape in SERIES:
        pts = sorted((r["conns"], r[key]) for r in rows if r["mode"] == mode)
        if not pts:
            continue
        line = " ".join(f"{sx(c):.1f},{sy(v):.1f}" for c, v in pts)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.extend(marker(shape, sx(c), sy(v), colour) for c, v in pts)


def plot(comment, rows):
    # The bench's comment, one line per "; "-separated part.
    notes = [p.strip() for p in comment.split(";") if p.strip()]
    legend_y = 44 + 16 * len(notes) + 8
    top = legend_y + 48
    height = top + PANEL_H + 56
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{LEFTS[0]}" y="24" font-size="16" font-weight="bold">'
        "Echo server: green threads vs event loop vs threads (64-byte round trips)</text>",
    ]
    for i, note in enumerate(notes):
        out.append(f'<text x="{LEFTS[0]}" y="{44 + 16 * i}" fill="#555">{escape(note)}</text>')
    # The legend, one row across the top.
    x = LEFTS[0]
    for mode, colour, shape in reversed(SERIES):
        out.append(
            f'<line x1="{x}" y1="{legend_y}" x2="{x + 28}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>'
        )
        out.append(marker(shape, x + 14, legend_y, colour))
        out.append(f'<text x="{x + 36}" y="{legend_y + 4}">{escape(mode)}</text>')
        x += 130
    panel(out, LEFTS[0], top, "Throughput", rows, "rtps", False, "round trips per second")
    panel(out, LEFTS[1], top, "p99 latency", rows, "p99_us", True, "p99 round-trip latency (log scale)")
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(plot_happycoin.main(sys.argv, read, plot, "ECHO_BENCH.tsv"))
