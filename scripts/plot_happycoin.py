#!/usr/bin/env python3
"""Plot Happycoin scaling from scripts/happycoin_bench.sh's medians, as SVG.

    scripts/happycoin_bench.sh                       # writes target/happycoin-bench.tsv
    scripts/plot_happycoin.py target/happycoin-bench.tsv docs/img/happycoin_scaling.svg

Draws/s against workers for threads, green and pool (green and pool run on
procs = min(workers, 2)), with the single-threaded loop and the ideal line
single x min(workers, CPUs) for reference. Python 3 standard library only:
the SVG is written by hand, so there is nothing to install.
"""

import csv
import sys
from html import escape

WIDTH, HEIGHT = 820, 480
LEFT, RIGHT, TOP, BOTTOM = 80, 250, 96, 60
SERIES = [  # mode, colour, marker; green last, so it is drawn on top
    ("threads", "#1f77b4", "square"),
    ("pool", "#ff7f0e", "diamond"),
    ("green", "#2ca02c", "circle"),
]


def read_tsv(path, types):
    """Returns (first comment, rows) from a bench TSV: `#` comment lines, a
    header line, tab-separated rows; `types` maps columns to converters such
    as int. scripts/plot_echo.py reads its TSV with it too."""
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    comments = [l[1:].strip() for l in lines if l.startswith("#")]
    rows = list(csv.DictReader((l for l in lines if not l.startswith("#")), delimiter="\t"))
    for r in rows:
        for column, convert in types.items():
            r[column] = convert(r[column])
    return (comments[0] if comments else ""), rows


def read(path):
    """Returns (comment, rows) from the bench TSV."""
    return read_tsv(path, {"workers": int, "procs": int, "draws_per_s": float})


def marker(shape, x, y, colour):
    if shape == "square":
        return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" fill="{colour}"/>'
    if shape == "diamond":
        pts = f"{x:.1f},{y - 7:.1f} {x + 7:.1f},{y:.1f} {x:.1f},{y + 7:.1f} {x - 7:.1f},{y:.1f}"
        return f'<polygon points="{pts}" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5.5" fill="{colour}"/>'


def plot(comment, rows, cpus=2):
    # Main-line configurations only: <mode>-<workers> (not the extra variants).
    scaling = [r for r in rows if r["name"] == f'{r["mode"]}-{r["workers"]}']
    single = next(r["draws_per_s"] for r in rows if r["name"] == "single")
    workers = sorted({r["workers"] for r in scaling})
    top = max([r["draws_per_s"] for r in scaling] + [single * min(max(workers), cpus)]) * 1.15 / 1e6
    step = 5 if top <= 40 else 10
    top = (int(top / step) + 1) * step

    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(w):
        i = workers.index(w)
        return LEFT + pw * (i + 0.5) / len(workers)

    def sy(v):
        return TOP + ph * (1 - v / 1e6 / top)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="24" font-size="16" font-weight="bold">'
        "Happycoin: draws per second against workers</text>",
    ]
    # The bench's comment: "<date, machine, run>; <others' CPU>; <load>",
    # one line each.
    for i, part in enumerate(p.strip() for p in comment.split(";")):
        out.append(f'<text x="{LEFT}" y="{44 + 16 * i}" fill="#555">{escape(part)}</text>')
    for v in range(0, top + 1, step):  # grid and y labels
        y = sy(v * 1e6)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{v}</text>')
    for w in workers:  # x labels
        x = sx(w)
        out.append(f'<text x="{x:.1f}" y="{TOP + ph + 20}" text-anchor="middle">{w}</text>')
    out.append(
        f'<text x="{LEFT + pw / 2:.1f}" y="{HEIGHT - 18}" text-anchor="middle">'
        f"workers (green and pool: procs = min(workers, {cpus}))</text>"
    )
    out.append(
        f'<text transform="translate(22 {TOP + ph / 2:.1f}) rotate(-90)" text-anchor="middle">'
        "million draws per second</text>"
    )
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')

    legend = []
    # Reference lines: the book's single loop, and perfect scaling.
    y = sy(single)
    out.append(
        f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" '
        'stroke="#777" stroke-width="1.5" stroke-dasharray="6 4"/>'
    )
    legend.append(("single (the book's loop)", "#777", "6 4", None))
    ideal = " ".join(f"{sx(w):.1f},{sy(single * min(w, cpus)):.1f}" for w in workers)
    out.append(
        f'<polyline points="{ideal}" fill="none" stroke="#bbb" stroke-width="1.5" '
        'stroke-dasharray="2 3"/>'
    )
    legend.append((f"ideal: single x min(workers, {cpus})", "#bbb", "2 3", None))

    for mode, colour, shape in SERIES:
        pts = sorted((r["workers"], r["draws_per_s"]) for r in scaling if r["mode"] == mode)
        if not pts:
            continue
        line = " ".join(f"{sx(w):.1f},{sy(v):.1f}" for w, v in pts)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for w, v in pts:
            out.append(marker(shape, sx(w), sy(v), colour))
        legend.append((mode, colour, None, shape))
        # Value labels for the right-most series only would hide the others;
        # label every point of green, the runtime under test.
        if mode == "green":
            for w, v in pts:
                out.append(
                    f'<text x="{sx(w) + 9:.1f}" y="{sy(v) + 16:.1f}" fill="{colour}">'
                    f"{v / 1e6:.1f}</text>"
                )

    lx, ly = LEFT + pw + 20, TOP + 10
    for i, (label, colour, dash, shape) in enumerate(legend):
        y = ly + i * 22
        if shape:
            out.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 28}" y2="{y}" stroke="{colour}" stroke-width="2"/>')
            out.append(marker(shape, lx + 14, y, colour))
        else:
            out.append(
                f'<line x1="{lx}" y1="{y}" x2="{lx + 28}" y2="{y}" stroke="{colour}" '
                f'stroke-width="1.5" stroke-dasharray="{dash}"/>'
            )
        out.append(f'<text x="{lx + 36}" y="{y + 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv, read=read, plot=plot, input_name="BENCH.tsv"):
    """`PROGRAM INPUT.tsv OUT.svg`; scripts/plot_echo.py passes its own
    reader and plotter."""
    if len(argv) != 3:
        sys.stderr.write(f"usage: {argv[0]} {input_name} OUT.svg\n")
        return 2
    comment, rows = read(argv[1])
    with open(argv[2], "w") as f:
        f.write(plot(comment, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
