"""Small inline SVG charts (bars, lines) for the viewer's pages.

Written by hand: the pages must work offline with no JavaScript library or CDN, and these two chart
kinds are a few dozen lines; every label goes through ``html.escape``.
"""

from __future__ import annotations

from html import escape

COLOURS = ["#3b6fb6", "#d2691e", "#2e8b57", "#8b3a8b", "#b22222", "#708090"]
LEGEND_SLOT = 150
"""Pixels per legend entry of a line chart; a name is cut to fit its slot (its full text stays in the line's title)."""
LEGEND_CHARS = 24


def bars(labels: list[str], values: list[float], unit: str = "%", width: int = 520, height: int = 180) -> str:
    """One bar per label, values in [0, 100] for percentages."""
    if not values:
        return ""
    top = max(100.0 if unit == "%" else max(values), 1e-9)
    slot = (width - 40) / len(values)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 40}" role="img" aria-label="bar chart">']
    for i, (label, value) in enumerate(zip(labels, values)):
        h = (height - 20) * value / top
        x = 30 + i * slot
        parts.append(f'<rect x="{x + 4:.1f}" y="{height - h:.1f}" width="{slot - 8:.1f}" height="{h:.1f}" fill="{COLOURS[i % len(COLOURS)]}">'
                     f"<title>{escape(label)}: {value:.1f}{unit}</title></rect>")
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{height - h - 4:.1f}" text-anchor="middle" font-size="11">{value:.1f}</text>')
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{height + 16}" text-anchor="middle" font-size="11">{escape(label[:18])}</text>')
    parts.append(f'<line x1="28" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/></svg>')
    return "".join(parts)


def lines(series: dict[str, list[tuple[float, float]]], width: int = 560, height: int = 200, y_label: str = "") -> str:
    """One polyline per named series of (x, y) points, sharing the axes."""
    points = [p for s in series.values() for p in s]
    if not points:
        return ""
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(p[1] for p in points), max(p[1] for p in points)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    sx = lambda x: 50 + (width - 60) * (x - x0) / (x1 - x0)  # noqa: E731
    sy = lambda y: height - 10 - (height - 30) * (y - y0) / (y1 - y0)  # noqa: E731
    per_row = max(1, (width - 60) // LEGEND_SLOT)  # legend entries wrap instead of running off the right edge
    rows = -(-len(series) // per_row)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height + 16 + 14 * rows}" role="img" aria-label="line chart">',
             f'<text x="4" y="14" font-size="11">{escape(y_label)} {y1:.3g}</text>',
             f'<text x="4" y="{height - 10}" font-size="11">{y0:.3g}</text>',
             f'<line x1="50" y1="{height - 10}" x2="{width - 10}" y2="{height - 10}" stroke="#999"/>']
    for i, (name, pts) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"><title>{escape(name)}</title></polyline>')
        parts.append(f'<text x="{60 + LEGEND_SLOT * (i % per_row)}" y="{height + 24 + 14 * (i // per_row)}" font-size="11" '
                     f'fill="{colour}">{escape(name[:LEGEND_CHARS])}</text>')
    parts.append(f'<text x="{width - 10}" y="{height + 8}" text-anchor="end" font-size="11">step {x1:.0f}</text></svg>')
    return "".join(parts)
