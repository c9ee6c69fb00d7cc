"""The statistics page and its CSV export (coordinators only): figures from :mod:`server.cases.stats`, charts from
:mod:`web.charts` with their numbers beside them, small counts shown as "< N" and exported empty."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from aiohttp import web
from babel.numbers import format_decimal, format_percent
from markupsafe import Markup

from server import cases, clock
from server.cases import rights, stats
from server.cases.policy import Action
from server.keys import sessionmaker_key, settings_key
from web import charts
from web.csv_cells import safe_cell
from web.forms import parse_date
from web.guard import require_staff
from web.i18n import negotiate, translate
from web.render import page

LONGEST_DAYS = 5 * 366
LABELLED = {"mode", "booking_channel", "reason", "case_channel", "outcome", "risk_self", "risk_others"}


class BadPeriod(ValueError):
    pass


def default_period(today: date) -> stats.Period:
    """The last twelve months: from the first day of the month eleven months ago to today."""
    month = today.month - 11
    year = today.year + (month - 1) // 12
    return stats.Period(date(year, (month - 1) % 12 + 1, 1), today)


def parse_period(query: Mapping[str, str], today: date) -> stats.Period:
    """The period from ``from`` and ``to`` (YYYY-MM-DD, both optional); BadPeriod with an error key."""
    default = default_period(today)
    try:
        first = parse_date(query.get("from")) if query.get("from", "").strip() else default.first
        last = parse_date(query.get("to")) if query.get("to", "").strip() else default.last
    except ValueError:
        raise BadPeriod("bad_date") from None
    if last < first:
        raise BadPeriod("order")
    if (last - first).days > LONGEST_DAYS:
        raise BadPeriod("too_long")
    return stats.Period(first, last)


@dataclass(frozen=True)
class Row:
    label: str
    count: int | None
    share: float | None


def _label(lang: str, table: str, key: str) -> str:
    if table in LABELLED:
        return translate(lang, f"stats.{table}.{key}")
    if table == "service" and not key:
        return translate(lang, "stats.no_service")
    return key


def rows(lang: str, table: stats.Table) -> list[Row]:
    return [Row(_label(lang, table.name, c.key), c.count, c.share) for c in table.cells]


async def _figures(request: web.Request, period: stats.Period) -> stats.Statistics:
    settings = request.app[settings_key]
    return await stats.compute(request.app[sessionmaker_key], period, settings.stats_min_count)


# -- the page ------------------------------------------------------------------------------------------------------


def _chart(lang: str, table: stats.Table, hidden_text: str) -> Markup:
    title = translate(lang, f"stats.table.{table.name}")
    desc = translate(lang, "stats.chart_desc", what=title)
    bars = [(r.label, r.count) for r in rows(lang, table)]
    if table.name in ("week", "month"):
        every = max(1, len(bars) // 12)
        return Markup(charts.time_chart(table.name, title, desc, bars, hidden_text=hidden_text, every=every))
    return Markup(charts.bar_chart(table.name, title, desc, bars, hidden_text=hidden_text))


def _section(lang: str, table: stats.Table, hidden_text: str) -> dict[str, object]:
    return {
        "id": table.name,
        "title": translate(lang, f"stats.table.{table.name}"),
        "chart": _chart(lang, table, hidden_text),
        "rows": rows(lang, table),
        "total": table.total,
    }


async def _may_see(request: web.Request) -> None:
    """The statistics are the coordinator's (server.cases.policy); a refusal is audited and a 403."""
    session = await require_staff(request)
    await rights.may(cases.context(request.app), session.staff, Action.STATISTICS)


async def stats_page(request: web.Request) -> web.StreamResponse:
    await _may_see(request)
    lang = negotiate(request)
    min_count = request.app[settings_key].stats_min_count
    hidden_text = translate(lang, "stats.suppressed", n=min_count)
    values = {"from": request.query.get("from", ""), "to": request.query.get("to", "")}
    try:
        period = parse_period(request.query, clock.today())
    except BadPeriod as exc:
        failed: dict[str, object] = {"error": str(exc), "values": values, "figures": None, "sections": []}
        return page("stats.html", request, failed, status=400)
    figures = await _figures(request, period)
    tables = [figures.sessions_by_week, figures.sessions_by_month, *figures.tables]
    context: dict[str, object] = {
        "error": "",
        "values": {"from": period.first.isoformat(), "to": period.last.isoformat()},
        "figures": figures,
        "sections": [_section(lang, table, hidden_text) for table in tables],
        "hidden_text": hidden_text,
        "number": lambda value: format_decimal(value, "#,##0.0", locale=lang),
        "percent": lambda value: format_percent(value, "#,##0.0%", locale=lang),
        "csv_query": f"?from={period.first.isoformat()}&to={period.last.isoformat()}",
    }
    return page("stats.html", request, context)


# -- the CSV export ------------------------------------------------------------------------------------------------


def _share(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def csv_text(lang: str, figures: stats.Statistics) -> str:
    """Every table as (section, label, count, share %, note); suppressed cells empty, with a note saying why."""
    note = translate(lang, "stats.csv.suppressed_note", n=figures.min_count)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def line(*cells: object) -> None:
        writer.writerow([safe_cell(cell) for cell in cells])

    line(*(translate(lang, f"stats.csv.{h}") for h in ("section", "label", "count", "share", "note")))
    period = f"{figures.period.first.isoformat()} / {figures.period.last.isoformat()}"
    line(translate(lang, "stats.csv.period"), period, "", "", translate(lang, "stats.tz_note"))
    for table in [figures.sessions_by_week, figures.sessions_by_month, *figures.tables]:
        section = translate(lang, f"stats.table.{table.name}")
        for row in rows(lang, table):
            line(section, row.label, row.count, _share(row.share), note if row.count is None else "")
        line(section, translate(lang, "stats.total"), table.total, "", note if table.total is None else "")
    delay, section = figures.delay, translate(lang, "stats.delay.title")
    line(section, translate(lang, "stats.delay.cases"), delay.cases, "", note if delay.cases is None else "")
    for key, value in (("median", delay.median_hours), ("mean", delay.mean_hours)):
        shown = "" if value is None else f"{value:.1f}"
        line(section, translate(lang, f"stats.delay.{key}"), shown, "", note if value is None else "")
    shows, section = figures.no_shows, translate(lang, "stats.no_shows.title")
    past_note = note if shows.past_video_sessions is None else ""
    line(section, translate(lang, "stats.no_shows.past"), shows.past_video_sessions, "", past_note)
    count_note = note if shows.count is None else ""
    line(section, translate(lang, "stats.no_shows.count"), shows.count, _share(shows.share), count_note)
    return out.getvalue()


async def stats_csv(request: web.Request) -> web.StreamResponse:
    await _may_see(request)
    lang = negotiate(request)
    try:
        period = parse_period(request.query, clock.today())
    except BadPeriod as exc:
        return web.Response(status=400, text=translate(lang, f"stats.error.{exc}"), content_type="text/plain")
    figures = await _figures(request, period)
    body = "\ufeff" + csv_text(lang, figures)  # the BOM tells spreadsheets it is UTF-8
    name = f"statistics-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return web.Response(
        body=body.encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )
