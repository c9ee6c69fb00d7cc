"""Charts drawn on the server as inline SVG: pure functions from data to an SVG string.

No script, no external reference, every text escaped. Each chart has a ``<title>`` and a ``<desc>`` (named by
``aria-labelledby``); the page puts the numbers beside it in a table. A value of ``None`` is a suppressed count:
no bar, and the ``hidden_text`` (e.g. "< 5") in its place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

Bar = tuple[str, int | None]

BAR_HEIGHT = 22
GAP = 6
LABEL_WIDTH = 180
VALUE_WIDTH = 60
WIDTH = 640
COLUMN_HEIGHT = 180
LETTER = 6.2  # the width of a character at font-size 11, roughly
_ID = re.compile(r"[^a-zA-Z0-9_-]")


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> str:
    safe = _ID.sub("-", chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{safe}-title {safe}-desc">'
        f'<title id="{safe}-title">{escape(title)}</title><desc id="{safe}-desc">{escape(desc)}</desc>'
    )


def _short(label: str, most: int = 26) -> str:
    """A label that fits left of the bars (the table beside the chart has it whole)."""
    return label if len(label) <= most else label[: most - 1] + "…"


def _shown(value: int | None, hidden_text: str) -> str:
    return escape(hidden_text) if value is None else str(value)


def bar_chart(chart_id: str, title: str, desc: str, bars: Sequence[Bar], *, hidden_text: str = "") -> str:
    """Horizontal bars, one per (label, value), labels on the left and values at the bar's end."""
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    top = max([value for _, value in bars if value is not None], default=0) or 1
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts = [_open(chart_id, WIDTH, height, title, desc)]
    for n, (label, value) in enumerate(bars):
        y = GAP + n * (BAR_HEIGHT + GAP)
        length = 0 if value is None else round(room * value / top)
        middle = y + BAR_HEIGHT / 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle:g}" text-anchor="end" dominant-baseline="middle" '
            f'font-size="13">{escape(_short(label))}</text>'
        )
        if length:
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" fill="#2f6f8f"></rect>'
            )
        parts.append(
            f'<text x="{LABEL_WIDTH + length + 6}" y="{middle:g}" dominant-baseline="middle" font-size="13">'
            f"{_shown(value, hidden_text)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def time_chart(
    chart_id: str, title: str, desc: str, points: Sequence[Bar], *, hidden_text: str = "", every: int = 1
) -> str:
    """Vertical bars over time, left to right; every ``every``-th label is written under its bar (or fewer, so that
    the labels never overlap)."""
    count = max(1, len(points))
    step = max(4.0, (WIDTH - 50) / count)
    widest = max((len(label) for label, _ in points), default=0) * LETTER + 6
    every = max(every, math.ceil(widest / step))
    width = round(50 + step * count + widest)
    height = COLUMN_HEIGHT + 40
    top = max([value for _, value in points if value is not None], default=0) or 1
    parts = [_open(chart_id, width, height, title, desc)]
    axis_end = 50 + step * count
    parts.append(f'<line x1="48" y1="{COLUMN_HEIGHT}" x2="{axis_end:.1f}" y2="{COLUMN_HEIGHT}" stroke="#666"></line>')
    parts.append(f'<text x="44" y="12" text-anchor="end" font-size="11">{top}</text>')
    parts.append(f'<text x="44" y="{COLUMN_HEIGHT}" text-anchor="end" font-size="11">0</text>')
    for n, (label, value) in enumerate(points):
        x = 50 + n * step
        if value is None:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{COLUMN_HEIGHT - 4}" text-anchor="middle" font-size="9" '
                f'fill="#666">{escape(hidden_text)}</text>'
            )
        elif value:
            tall = round((COLUMN_HEIGHT - 16) * value / top)
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{COLUMN_HEIGHT - tall}" width="{max(1.0, step - 2):.1f}" '
                f'height="{tall}" fill="#2f6f8f"><title>{escape(label)}: {value}</title></rect>'
            )
        if n % max(1, every) == 0:
            parts.append(f'<text x="{x:.1f}" y="{COLUMN_HEIGHT + 16}" font-size="11">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
