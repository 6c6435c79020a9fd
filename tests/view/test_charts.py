"""The viewer's inline SVG charts: every legend entry stays inside the chart."""

from __future__ import annotations

import re

from salam.view.charts import lines


def test_a_line_charts_legend_wraps_inside_its_width():
    series = {f"reward of series number {i} (stage II)": [(0, i), (10, i + 1)] for i in range(5)}
    svg = lines(series, width=560, height=200)
    height = float(re.search(r'viewBox="0 0 560 ([\d.]+)"', svg).group(1))
    legend = re.findall(r'<text x="(\d+)" y="(\d+)" font-size="11" fill="[^"]+">([^<]+)</text>', svg)
    assert len(legend) == 5
    assert all(int(x) + 150 <= 560 and int(y) < height for x, y, _ in legend)  # each entry has its 150 px slot
    assert len({y for _, y, _ in legend}) == 2  # 3 in the first row, 2 in the second
