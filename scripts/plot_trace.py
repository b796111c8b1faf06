#!/usr/bin/env python3
"""Draws a greenrt trace file (GREENRT_TRACE=path.json) as an SVG timeline.

One row per track of the file (each P, then each thread's syscall and
instant tracks that hold events): runs of green threads are bars coloured
by green thread, instants (park, unpark, steal, retake, netpoll) are ticks.
Standard library only, so it runs wherever python3 does.

    python3 scripts/plot_trace.py trace.json docs/img/trace_pool.svg [title]
"""

import json
import sys
from html import escape

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]
TICK = {"park": "#c0392b", "unpark": "#27ae60", "steal": "#8e44ad",
        "retake": "#d35400", "netpoll": "#2980b9"}


def main():
    src, dst = sys.argv[1], sys.argv[2]
    title = sys.argv[3] if len(sys.argv) > 3 else src
    events = json.load(open(src))["traceEvents"]
    names, order = {}, {}
    for e in events:
        if e["ph"] == "M" and e["name"] == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        if e["ph"] == "M" and e["name"] == "thread_sort_index":
            order[e["tid"]] = e["args"]["sort_index"]
    timed = [e for e in events if e["ph"] in ("X", "i")]
    if not timed:
        sys.exit("no timed events in " + src)
    used = {e["tid"] for e in timed} | {t for t, n in names.items() if n.startswith("P")}
    tracks = sorted(used, key=lambda t: order.get(t, t))
    t0 = min(float(e["ts"]) for e in timed)
    t1 = max(float(e["ts"]) + float(e.get("dur", 0)) for e in timed)
    span = max(t1 - t0, 1.0)
    left, width, row, top = 190, 900, 34, 50
    height = top + row * len(tracks) + 60
    x = lambda ts: left + (float(ts) - t0) / span * width
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" '
           f'height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="22" font-size="14">{escape(title)}</text>']
    for i, tid in enumerate(tracks):
        y = top + i * row
        out.append(f'<rect x="{left}" y="{y}" width="{width}" height="{row - 6}" fill="#f4f4f4"/>')
        out.append(f'<text x="{left - 8}" y="{y + row / 2}" text-anchor="end">'
                   f'{escape(names.get(tid, str(tid)))}</text>')
        for e in timed:
            if e["tid"] != tid:
                continue
            if e["ph"] == "X":
                g = e["args"].get("g", 0)
                w = max(x(float(e["ts"]) + float(e["dur"])) - x(e["ts"]), 0.6)
                out.append(f'<rect x="{x(e["ts"]):.2f}" y="{y + 3}" width="{w:.2f}" '
                           f'height="{row - 12}" fill="{PALETTE[g % len(PALETTE)]}">'
                           f'<title>{escape(e["name"])} ({escape(str(e["args"].get("end")))}), '
                           f'{float(e["dur"]):.1f} µs</title></rect>')
            else:
                kind = e["name"].split(" ")[0].rstrip(":")
                colour = TICK.get(kind, "#555")
                out.append(f'<line x1="{x(e["ts"]):.2f}" x2="{x(e["ts"]):.2f}" y1="{y}" '
                           f'y2="{y + row - 6}" stroke="{colour}" stroke-width="1">'
                           f'<title>{escape(e["name"])}</title></line>')
    axis_y = top + row * len(tracks) + 10
    for k in range(6):
        ts = t0 + span * k / 5
        out.append(f'<text x="{x(ts):.1f}" y="{axis_y + 12}" text-anchor="middle">'
                   f'{(ts - t0) / 1000:.2f} ms</text>')
    lx = left
    for label, colour in [("run of a green thread (colour: which)", PALETTE[0])] + list(TICK.items()):
        out.append(f'<rect x="{lx}" y="{axis_y + 26}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{lx + 14}" y="{axis_y + 35}">{escape(label)}</text>')
        lx += 14 + 7 * len(label) + 18
    out.append("</svg>")
    open(dst, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
