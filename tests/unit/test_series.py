"""Recurring meetings: wall-clock time across daylight saving, fortnightly rules, skipped and moved occurrences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduling.series import (
    RecurrenceError,
    create_series,
    is_occurrence,
    move_occurrence,
    normalise_rrule,
    occurrences,
    occurrences_for_staff,
    parse_rrule,
    restore_occurrence,
    skip_occurrence,
)
from server.errors import InvalidInput, NotFound
from server.models import MeetingSeries, Role, SeriesException, Staff
from tests.helpers.services import open_db

ROME = ZoneInfo("Europe/Rome")


def series(rrule: str, first: datetime, minutes: int = 90) -> MeetingSeries:
    return MeetingSeries(
        id="m", title="Supervisione", rrule=rrule, starts_at=first.astimezone(UTC), minutes=minutes, created_by="c"
    )


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


def test_a_weekly_meeting_stays_at_15_rome_time_across_both_dst_changes() -> None:
    weekly = series("FREQ=WEEKLY;BYDAY=TH", rome(2026, 3, 19, 15, 0))
    found = occurrences(weekly, [], rome(2026, 3, 1), rome(2026, 11, 30))
    local = [o.starts_at.astimezone(ROME) for o in found]
    assert all((t.hour, t.minute, t.weekday()) == (15, 0, 3) for t in local)
    # DST starts on 29 March 2026 and ends on 25 October 2026: the UTC hour changes, the Rome hour does not.
    by_day = {t.date().isoformat(): o.starts_at.hour for t, o in zip(local, found, strict=True)}
    assert by_day["2026-03-26"] == 14  # CET, UTC+1
    assert by_day["2026-04-02"] == 13  # CEST, UTC+2
    assert by_day["2026-10-22"] == 13
    assert by_day["2026-10-29"] == 14
    assert all(o.ends_at - o.starts_at == timedelta(minutes=90) for o in found)


def test_fortnightly_on_two_days() -> None:
    rule = series("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH", rome(2026, 12, 1, 9, 30), minutes=60)
    found = occurrences(rule, [], rome(2026, 12, 1), rome(2027, 1, 1))
    days = [o.starts_at.astimezone(ROME).day for o in found]
    assert days == [1, 3, 15, 17, 29, 31]


def test_the_window_includes_an_occurrence_already_under_way() -> None:
    rule = series("FREQ=DAILY", rome(2026, 12, 1, 10, 0), minutes=60)
    found = occurrences(rule, [], rome(2026, 12, 3, 10, 30), rome(2026, 12, 3, 12, 0))
    assert [o.starts_at for o in found] == [rome(2026, 12, 3, 10, 0).astimezone(UTC)]
    assert occurrences(rule, [], rome(2026, 12, 3, 11, 0), rome(2026, 12, 3, 12, 0)) == []


def test_skipped_and_moved_occurrences() -> None:
    weekly = series("FREQ=WEEKLY;BYDAY=TH", rome(2026, 12, 3, 15, 0))
    skipped = SeriesException(series_id="m", original_start=rome(2026, 12, 10, 15, 0).astimezone(UTC))
    moved = SeriesException(
        series_id="m",
        original_start=rome(2026, 12, 17, 15, 0).astimezone(UTC),
        moved_to=rome(2026, 12, 18, 11, 0).astimezone(UTC),
    )
    found = occurrences(weekly, [skipped, moved], rome(2026, 12, 1), rome(2027, 1, 1))
    assert [(o.starts_at.astimezone(ROME).day, o.moved) for o in found] == [
        (3, False),
        (18, True),
        (24, False),
        (31, False),
    ]
    assert found[1].original_start == moved.original_start
    # A meeting moved into the window from outside it is shown; one moved out of the window is not.
    assert [o.starts_at.day for o in occurrences(weekly, [moved], rome(2026, 12, 18), rome(2026, 12, 19))] == [18]
    assert occurrences(weekly, [moved], rome(2026, 12, 17), rome(2026, 12, 17, 23, 0)) == []


def test_a_bounded_rule_ends() -> None:
    rule = series("RRULE:FREQ=WEEKLY;COUNT=3", rome(2026, 12, 1, 9, 0))
    assert len(occurrences(rule, [], rome(2026, 1, 1), rome(2028, 1, 1))) == 3
    until = series("FREQ=WEEKLY;UNTIL=20261216T000000Z", rome(2026, 12, 1, 9, 0))
    assert len(occurrences(until, [], rome(2026, 1, 1), rome(2028, 1, 1))) == 3


def test_is_occurrence() -> None:
    weekly = series("FREQ=WEEKLY;BYDAY=TH", rome(2026, 12, 3, 15, 0))
    assert is_occurrence(weekly, rome(2026, 12, 10, 15, 0))
    assert not is_occurrence(weekly, rome(2026, 12, 10, 16, 0))
    assert not is_occurrence(weekly, rome(2026, 12, 11, 15, 0))


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("FREQ=SECONDLY", "daily, weekly"),
        ("FREQ=HOURLY;INTERVAL=1", "daily, weekly"),
        ("BYDAY=TH", "daily, weekly"),
        ("", "one RRULE line"),
        ("FREQ=WEEKLY\nFREQ=DAILY", "one RRULE line"),
        ("DTSTART:20261201T090000Z", "one RRULE line"),
        ("FREQ=WEEKLY;BYDAY=XX", "invalid recurrence rule"),
        ("FREQ=WEEKLY;FOO=1", "invalid recurrence rule"),
    ],
)
def test_unusable_rules_are_refused_with_a_reason(rule: str, fragment: str) -> None:
    with pytest.raises(RecurrenceError, match=fragment) as caught:
        parse_rrule(rule, rome(2026, 12, 1, 9, 0))
    assert caught.value.fields == {"rrule": "invalid"}


def test_rules_are_normalised() -> None:
    assert normalise_rrule(" rrule:freq=weekly;interval=2;byday=th ") == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"


async def test_series_in_the_database_and_on_the_agenda(database_url: str, tmp_path: Path) -> None:
    """Stored series with invitees, a skip and a move, read back for one staff member's agenda."""
    async with open_db(database_url, tmp_path) as sm:
        async with sm.begin() as db:
            db.add_all(
                Staff(id=i, email=f"{i}@x.org", name=i, role=Role.SUPERVISOR, password_hash="x")
                for i in ("a", "b", "c")
            )
        first = rome(2026, 12, 3, 15, 0)
        meeting = await create_series(
            sm,
            title=" Supervisione ",
            rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TH",
            starts_at=first,
            minutes=90,
            created_by="a",
            invitees=["a", "b", "b"],
        )
        assert meeting.title == "Supervisione"
        await skip_occurrence(sm, meeting.id, rome(2026, 12, 17, 15, 0))
        await move_occurrence(sm, meeting.id, rome(2026, 12, 31, 15, 0), rome(2026, 12, 30, 10, 0))
        await move_occurrence(sm, meeting.id, rome(2026, 12, 31, 15, 0), rome(2026, 12, 29, 10, 0))  # moved again
        agenda = await occurrences_for_staff(sm, "b", rome(2026, 12, 1), rome(2027, 1, 31))
        assert [(o.starts_at.astimezone(ROME).date().isoformat(), o.moved) for o in agenda] == [
            ("2026-12-03", False),
            ("2026-12-29", True),
            ("2027-01-14", False),
            ("2027-01-28", False),
        ]
        assert await occurrences_for_staff(sm, "c", rome(2026, 12, 1), rome(2027, 1, 31)) == []
        await restore_occurrence(sm, meeting.id, rome(2026, 12, 17, 15, 0))
        agenda = await occurrences_for_staff(sm, "a", rome(2026, 12, 10), rome(2026, 12, 20))
        assert [o.starts_at for o in agenda] == [rome(2026, 12, 17, 15, 0).astimezone(UTC)]
        with pytest.raises(InvalidInput, match="no meeting"):
            await skip_occurrence(sm, meeting.id, rome(2026, 12, 10, 15, 0))  # the off week
        with pytest.raises(NotFound):
            await skip_occurrence(sm, "nope", first)
        with pytest.raises(RecurrenceError):
            await create_series(
                sm, title="x", rrule="FREQ=MINUTELY", starts_at=first, minutes=30, created_by="a", invitees=[]
            )
