"""The statistics: known fixtures give known counts on SQLite and PostgreSQL (weeks and months in Rome time, across
the change to summer time), small counts suppressed, the page for coordinators only, the CSV safe in
spreadsheets."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from server.cases import stats
from server.keys import sessionmaker_key
from server.models import (
    Booking,
    BookingChannel,
    BookingMode,
    BookingStatus,
    Case,
    Channel,
    CitizenPass,
    Consultation,
    Outcome,
    OutcomeKind,
    Reason,
    RiskLevel,
    Role,
    Service,
    Staff,
)
from tests.helpers.factories import make_staff
from tests.helpers.web import MakeClient, login

PERIOD = stats.Period(date(2026, 1, 1), date(2026, 3, 31))
QUERY = "from=2026-01-01&to=2026-03-31"
SERVICES = ["=Uno", "+Due", "-Tre", "@Quattro"]  # 6, 5, 5 and 2 sessions
EDGES = [
    datetime(2026, 1, 4, 23, 30, tzinfo=UTC),  # Monday 5 January 00:30 in Rome
    datetime(2026, 1, 31, 23, 30, tzinfo=UTC),  # Sunday 1 February 00:30 in Rome: week of 26 January
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # Sunday 29 March 01:30, still winter time: week of 23 March
    datetime(2026, 3, 29, 22, 30, tzinfo=UTC),  # Monday 30 March 00:30, summer time
]
DELAYS = [24, 48, 48, 72, 96, 120]  # hours from opening to first session: median 60, mean 68


def _token() -> str:
    return secrets.token_hex(32)


def _consultation(operator: Staff, service: Service, starts_at: datetime, case_id: str | None) -> Consultation:
    return Consultation(
        id=secrets.token_hex(12),
        operator_id=operator.id,
        service_id=service.id,
        citizen_name="Persona",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=45),
        token_hash=_token(),
        case_id=case_id,
    )


def _booking(operator: Staff, consultation: Consultation, mode: BookingMode, channel: BookingChannel) -> Booking:
    return Booking(
        service_id=consultation.service_id,
        operator_id=operator.id,
        consultation_id=consultation.id,
        starts_at=consultation.starts_at,
        ends_at=consultation.ends_at,
        blocked_until=consultation.ends_at + timedelta(minutes=15),
        mode=mode,
        channel=channel,
        citizen_name="Persona",
        booked_by="citizen",
        manage_token_hash=_token(),
        created_at=consultation.starts_at - timedelta(days=2),
    )


async def seed(app: web.Application) -> None:
    """18 sessions in the period (and two that do not count), 10 cases opened in it."""
    operator = await make_staff(app, name="Dott.ssa Verdi")
    opened = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    async with app[sessionmaker_key].begin() as db:
        services = [Service(slug=f"s{n}", name=name) for n, name in enumerate(SERVICES)]
        db.add_all(services)
        cases = [
            Case(
                code=f"CASE{n:02d}",
                reason=Reason.CRIME_VICTIM if n < 6 else Reason.OTHER,
                channel=Channel.SWITCHBOARD if n < 5 else Channel.ONLINE,
                risk_self=RiskLevel.HIGH if n == 9 else RiskLevel.NONE,
                opened_at=opened + timedelta(hours=n),
                opened_by="citizen",
                first_session_at=opened + timedelta(hours=n + DELAYS[n]) if n < 6 else None,
            )
            for n in range(10)
        ]
        db.add_all(cases)
        await db.flush()
        for n in range(6):
            db.add(Outcome(case_id=cases[n].id, kind=OutcomeKind.CLOSED_AFTER_SUPPORT, by=operator.id, at=opened))
        db.add(
            Outcome(
                case_id=cases[0].id, kind=OutcomeKind.FURTHER_SESSIONS, by=operator.id, at=opened + timedelta(days=1)
            )
        )
        starts = EDGES + [datetime(2026, 1, 14, 8, 0, tzinfo=UTC) + timedelta(hours=n) for n in range(14)]
        sessions = []
        for n, start in enumerate(starts):
            service = services[0 if n < 6 else 1 if n < 11 else 2 if n < 16 else 3]
            sessions.append(_consultation(operator, service, start, cases[n % 10].id))
        db.add_all(sessions)
        await db.flush()
        for n in range(10):  # 0-3 by phone, 4-9 video; 0-5 online, 6-9 through the switchboard
            mode = BookingMode.PHONE if n < 4 else BookingMode.VIDEO
            channel = BookingChannel.ONLINE if n < 6 else BookingChannel.SWITCHBOARD
            db.add(_booking(operator, sessions[n], mode, channel))
        for n in range(4, 18):  # video sessions; the citizen of 4, 5, 10 and 11 never joined
            if n not in (4, 5, 10, 11):
                db.add(CitizenPass(id_hash=_token(), consultation_id=sessions[n].id))
        # Not counted: a cancelled booking, and a session just before the period (Rome time)
        cancelled = _consultation(operator, services[0], datetime(2026, 2, 3, 9, tzinfo=UTC), None)
        early = _consultation(operator, services[0], datetime(2025, 12, 31, 22, 59, tzinfo=UTC), None)
        db.add_all([cancelled, early])
        await db.flush()
        gone = _booking(operator, cancelled, BookingMode.VIDEO, BookingChannel.ONLINE)
        gone.status = BookingStatus.CANCELLED
        db.add(gone)


def _counts(table: stats.Table) -> dict[str, int | None]:
    return {cell.key: cell.count for cell in table.cells}


def _positive(table: stats.Table) -> dict[str, int | None]:
    return {cell.key: cell.count for cell in table.cells if cell.count != 0}


async def test_known_fixtures_give_known_counts(make_client: MakeClient) -> None:
    client = await make_client(stats_min_count=1)  # nothing suppressed
    await seed(client.app)
    figures = await stats.compute(client.app[sessionmaker_key], PERIOD, 1)
    assert _positive(figures.sessions_by_week) == {
        "2026-01-05": 1,
        "2026-01-12": 14,
        "2026-01-26": 1,
        "2026-03-23": 1,
        "2026-03-30": 1,
    }
    assert len(figures.sessions_by_week.cells) == 14  # 29 December 2025 to 30 March 2026, empty weeks as zero
    assert _counts(figures.sessions_by_month) == {"2026-01": 15, "2026-02": 1, "2026-03": 2}
    tables = {table.name: table for table in figures.tables}
    assert _counts(tables["service"]) == {"+Due": 5, "-Tre": 5, "=Uno": 6, "@Quattro": 2}
    assert _counts(tables["mode"]) == {"video": 14, "phone": 4}
    assert _counts(tables["booking_channel"]) == {"online": 6, "switchboard": 4, "follow_up": 0, "unbooked": 8}
    assert _positive(tables["reason"]) == {"crime_victim": 6, "other": 4}
    assert _counts(tables["case_channel"]) == {"switchboard": 5, "online": 5, "referral": 0}
    assert _positive(tables["outcome"]) == {"closed_after_support": 5, "further_sessions": 1, "none": 4}
    assert _positive(tables["risk_self"]) == {"none": 9, "high": 1}
    assert tables["service"].total == 18 and tables["reason"].total == 10
    assert tables["mode"].cells[0].share == 14 / 18
    assert figures.delay.cases == 6
    assert figures.delay.median_hours is not None and abs(figures.delay.median_hours - 60) < 0.01
    assert figures.delay.mean_hours is not None and abs(figures.delay.mean_hours - 68) < 0.01
    assert figures.no_shows == stats.NoShows(14, 4, 4 / 14)


async def test_small_counts_are_suppressed_with_what_would_reveal_them(client: TestClient[Any, Any]) -> None:
    await seed(client.app)
    figures = await stats.compute(client.app[sessionmaker_key], PERIOD, 5)
    tables = {table.name: table for table in figures.tables}
    # @Quattro (2) is hidden, and so is the next smallest, else 18 - 6 - 5 - 5 would give it away
    assert _counts(tables["service"]) == {"+Due": None, "-Tre": 5, "=Uno": 6, "@Quattro": None}
    assert [c.share for c in tables["service"].cells if c.count is None] == [None, None]
    assert _counts(tables["mode"]) == {"video": None, "phone": None}
    assert _positive(tables["reason"]) == {"crime_victim": None, "other": None}
    assert tables["reason"].total == 10
    assert _positive(figures.sessions_by_month) == {"2026-01": 15, "2026-02": None, "2026-03": None}
    assert figures.no_shows == stats.NoShows(14, None, None)  # 4 no-shows: hidden, and their share
    assert figures.delay.cases == 6  # six cases: shown
    hidden = await stats.compute(client.app[sessionmaker_key], PERIOD, 7)
    assert hidden.delay == stats.Delay(None, None, None)


async def test_the_page_for_coordinators_in_italian_and_english(client: TestClient[Any, Any]) -> None:
    await seed(client.app)
    await login(client, await make_staff(client.app, role=Role.COORDINATOR))
    response = await client.get(f"/stats?{QUERY}")
    assert response.status == 200
    html = await response.text()
    assert "Statistiche" in html and "Sedute per settimana" in html and "&lt; 5" in html
    main = html.split("<main")[1].split("</main>")[0]
    assert main.count("<svg") == 10 and "<script" not in main
    assert "http://www.w3.org/2000/svg" in main and "https://" not in main
    assert "=Uno" in html and "@Quattro" in html
    english = await client.get(f"/stats?{QUERY}&lang=en")
    text = await english.text()
    assert "Sessions per week" in text and "Median 60.0 hours" in text
    default = await client.get("/stats")  # the last twelve months
    assert default.status == 200


async def test_bad_dates_are_refused_with_a_clear_message(client: TestClient[Any, Any]) -> None:
    await login(client, await make_staff(client.app, role=Role.COORDINATOR))
    for query, message in (
        ("from=31/12/2025", "AAAA-MM-GG"),
        ("from=2026-02-30", "AAAA-MM-GG"),
        ("from=2026-03-01&to=2026-01-01", "dopo quella di fine"),
        ("from=2010-01-01&to=2026-01-01", "cinque anni"),
    ):
        response = await client.get(f"/stats?{query}")
        assert response.status == 400, query
        assert message in await response.text()
    csv_response = await client.get("/stats.csv?to=yesterday&lang=en")
    assert csv_response.status == 400 and "YYYY-MM-DD" in await csv_response.text()


async def test_only_coordinators_see_the_statistics(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/stats", allow_redirects=False)).status in (302, 303, 401)
    for role in (Role.OPERATOR, Role.SUPERVISOR, Role.SWITCHBOARD):
        client.session.cookie_jar.clear()
        await login(client, await make_staff(client.app, role=role))
        assert (await client.get("/stats")).status == 403, role
        assert (await client.get("/stats.csv")).status == 403, role


async def test_the_csv_is_safe_in_spreadsheets(client: TestClient[Any, Any]) -> None:
    await seed(client.app)
    await login(client, await make_staff(client.app, role=Role.COORDINATOR))
    response = await client.get(f"/stats.csv?{QUERY}&lang=en")
    assert response.status == 200 and response.content_type == "text/csv"
    raw = await response.read()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["Section", "Item", "Count", "Share %", "Note"]
    by_label = {row[1]: row for row in rows if row[0] == "Sessions by service"}
    assert by_label["'=Uno"][2:4] == ["6", "33.3"]
    assert by_label["'-Tre"][2] == "5"
    assert by_label["'+Due"][2:4] == ["", ""] and "hidden" in by_label["'+Due"][4]
    assert by_label["'@Quattro"][2] == ""
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_formula_cells_are_quoted() -> None:
    from web.csv_cells import safe_cell

    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("Uno") == "Uno" and safe_cell(None) == "" and safe_cell(5) == "5"
