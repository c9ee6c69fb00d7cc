"""The server-drawn charts: well-formed SVG, escaped labels, no reference to anything outside the page."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from web.charts import bar_chart, time_chart

SVG = "{http://www.w3.org/2000/svg}"
NASTY = '<script>"x" & =1'


def _parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything not well-formed


@pytest.mark.parametrize("draw", [bar_chart, time_chart])
def test_well_formed_accessible_and_escaped(draw: Callable[..., str]) -> None:
    svg = draw("by-x", "Title <b>", "Desc & more", [(NASTY, 3), ("due", None), ("tre", 0)], hidden_text="< 5")
    root = _parsed(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("aria-labelledby") == "by-x-title by-x-desc"
    assert root.find(f"{SVG}title").text == "Title <b>"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "Desc & more"  # type: ignore[union-attr]
    assert "<script" not in svg and "&lt;script&gt;" in svg
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any(NASTY in t for t in texts) and "< 5" in texts


@pytest.mark.parametrize("draw", [bar_chart, time_chart])
def test_no_external_references(draw: Callable[..., str]) -> None:
    svg = draw('x" onload="evil', "t", "d", [("a", 1), ("b", 2)])
    root = _parsed(svg)
    for element in root.iter():
        for name, value in element.attrib.items():
            assert "href" not in name and not name.startswith("on"), name
            assert "url(" not in value and "://" not in value
    assert not re.search(r"<(script|image|use|foreignObject|a)\b", svg)
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]


def test_bars_are_proportional_and_empty_charts_draw() -> None:
    root = _parsed(bar_chart("c", "t", "d", [("a", 10), ("b", 5), ("c", None)]))
    widths = [int(r.get("width", "0")) for r in root.iter(f"{SVG}rect")]
    assert len(widths) == 2 and widths[0] == 2 * widths[1]
    assert _parsed(bar_chart("e", "t", "d", [])) is not None
    assert _parsed(time_chart("e", "t", "d", [])) is not None
    columns = _parsed(time_chart("w", "t", "d", [(f"w{n}", n) for n in range(53)], every=4))
    labels = [t for t in columns.iter(f"{SVG}text") if (t.text or "").startswith("w")]
    assert len(labels) == 14


def test_long_labels_are_shortened_in_the_chart_only() -> None:
    root = _parsed(bar_chart("c", "t", "d", [("Servizio di mediazione sociale e penale", 7)]))
    assert next(t.text for t in root.iter(f"{SVG}text")) == "Servizio di mediazione so…"
