"""The caps' registry and its refusal log, without sockets: counts, releases, and one log line per burst that
never names the identity or the address."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from signaling.caps import QUIET_SECONDS, Limit, RefusalLog, Sockets

SECRET_KEY = "citizen:4f0c2b7e"
ADDRESS = "198.51.100.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_cap_refuses_by_its_own_name_and_a_release_gives_the_place_back(make_settings: Any) -> None:
    sockets = Sockets(make_settings(ws_max_per_identity=2, ws_max_per_address=3, ws_max_total=4))
    assert sockets.reserve("a", "x") is None
    assert sockets.reserve("a", "x") is None
    assert sockets.reserve("a", "y") == Limit.IDENTITY
    assert sockets.reserve("b", "x") is None
    assert sockets.reserve("c", "x") == Limit.ADDRESS
    assert sockets.reserve("c", "y") is None
    assert sockets.reserve("d", "z") == Limit.TOTAL
    sockets.release("a", "x")
    assert sockets.total == 3
    assert sockets.reserve("d", "z") is None


def test_a_burst_of_refusals_is_logged_once_then_summed_up_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    refusals = RefusalLog(clock)
    with caplog.at_level(logging.INFO, logger="signaling.caps"):
        for _ in range(50):
            refusals.note(Limit.IDENTITY, SECRET_KEY)
            refusals.note(Limit.ADDRESS, ADDRESS)
            clock.now += 0.1
        refusals.flush()
        assert [r.event for r in caplog.records] == ["ws_cap_refused", "ws_cap_refused"]  # type: ignore[attr-defined]
        clock.now += QUIET_SECONDS
        refusals.flush()
    summaries = [r.getMessage() for r in caplog.records[2:]]
    assert sorted(summaries) == [
        "50 signaling sockets refused by the address cap in one burst",
        "50 signaling sockets refused by the identity cap in one burst",
    ]
    assert not any(SECRET_KEY in r.getMessage() or ADDRESS in r.getMessage() for r in caplog.records)
    assert not any(SECRET_KEY in str(r.__dict__) or ADDRESS in str(r.__dict__) for r in caplog.records)
