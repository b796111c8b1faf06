#!/usr/bin/env python3
"""Plot scripts/http_bench.sh's medians as SVG bar charts.

    scripts/http_bench.sh                 # writes target/http-bench.tsv
    scripts/plot_http.py target/http-bench.tsv docs/img/http_comparison.svg

Four panels: requests/s and p99 latency, for the unpipelined and the
pipelined load; one bar per server. Python 3 standard library only; lines
starting with '#' in the TSV are printed as the chart's subtitle.
"""

import sys
from html import escape

COLOURS = {"greenrt": "#2ca02c", "may_minihttp": "#1f77b4", "hyper": "#ff7f0e"}
PANEL_W, PANEL_H = 200, 200
LEFT, TOP, GAP = 70, 90, 90


def read(path):
    comments, rows = [], []
    with open(path) as f:
        header = None
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                comments.append(line.lstrip("# "))
            elif header is None:
                header = line.split("\t")
            elif line:
                rows.append(dict(zip(header, line.split("\t"))))
    return comments, rows


def panel(out, x0, title, bars, unit):
    top = max(v for _, v in bars) * 1.15 or 1
    out.append(f'<text x="{x0}" y="{TOP - 10}" font-weight="bold">{escape(title)}</text>')
    out.append(f'<line x1="{x0}" y1="{TOP + PANEL_H}" x2="{x0 + PANEL_W}" y2="{TOP + PANEL_H}" stroke="#000"/>')
    w = PANEL_W / (len(bars) * 1.5)
    for i, (server, v) in enumerate(bars):
        h = PANEL_H * v / top
        x = x0 + w * 0.25 + i * w * 1.5
        out.append(f'<rect x="{x:.1f}" y="{TOP + PANEL_H - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{COLOURS.get(server, "#888")}"/>')
        label = f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
        out.append(f'<text x="{x + w / 2:.1f}" y="{TOP + PANEL_H - h - 4:.1f}" text-anchor="middle" font-size="11">{label}</text>')
        out.append(f'<text x="{x + w / 2:.1f}" y="{TOP + PANEL_H + 14}" text-anchor="middle" font-size="11">{escape(server)}</text>')
    out.append(f'<text x="{x0}" y="{TOP + PANEL_H + 32}" font-size="11" fill="#555">{escape(unit)}</text>')


def main(src, dst):
    comments, rows = read(src)
    panels = []
    for load, name in (("plain", "256 conns"), ("pipelined", "256 conns, 16 pipelined")):
        sel = [r for r in rows if r["load"] == load]
        panels.append((f"{name}: req/s", [(r["server"], float(r["req_per_s"])) for r in sel], "requests per second"))
        panels.append((f"{name}: p99", [(r["server"], float(r["p99_ms"])) for r in sel], "p99 latency, ms"))
    width = LEFT + len(panels) * (PANEL_W + GAP)
    height = TOP + PANEL_H + 50
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="13">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{LEFT}" y="24" font-size="16" font-weight="bold">HTTP /plaintext with wrk: greenrt vs may_minihttp vs hyper</text>',
    ]
    for i, c in enumerate(comments):
        out.append(f'<text x="{LEFT}" y="{44 + 16 * i}" fill="#555" font-size="11">{escape(c)}</text>')
    for i, (title, bars, unit) in enumerate(panels):
        panel(out, LEFT + i * (PANEL_W + GAP), title, bars, unit)
    out.append("</svg>")
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot_http.py HTTP_BENCH_TSV OUT_SVG")
    main(sys.argv[1], sys.argv[2])
