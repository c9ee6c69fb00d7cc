from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.consultations import WindowState, validate_citizen, window_state
from server.crypto import JOIN_CHARS, TOKEN_BYTES, digest, join_digest, new_join_token, new_secret
from server.logs import redact_path
from server.models import Consultation, ConsultationStatus
from server.settings import Settings

START = datetime(2026, 3, 29, 9, 30, tzinfo=UTC)  # the day daylight saving starts in Rome


def consultation(status: ConsultationStatus = ConsultationStatus.SCHEDULED) -> Consultation:
    return Consultation(starts_at=START, ends_at=START + timedelta(minutes=60), status=status)


@pytest.mark.parametrize(
    ("offset_minutes", "expected"),
    [
        (-16, WindowState.TOO_EARLY),
        (-15, WindowState.OPEN),
        (0, WindowState.OPEN),
        (60 + 30, WindowState.OPEN),
        (60 + 31, WindowState.EXPIRED),
    ],
)
def test_window(offset_minutes: int, expected: WindowState) -> None:
    settings = Settings(join_early_minutes=15, join_late_minutes=30)
    assert window_state(consultation(), settings, START + timedelta(minutes=offset_minutes)) == expected


def test_an_ended_consultation_is_closed_whatever_the_time() -> None:
    assert window_state(consultation(ConsultationStatus.ENDED), Settings(), START) == WindowState.ENDED


def test_tokens_are_long_random_and_stored_as_digests() -> None:
    assert TOKEN_BYTES * 8 >= 128
    tokens = {new_secret() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(len(t) >= 43 for t in tokens)  # 32 bytes in URL-safe base64
    token = new_secret()
    assert digest(token) != token and len(digest(token)) == 64


def test_citizen_fields() -> None:
    assert validate_citizen("Maria", "", "") == {}
    assert validate_citizen(" ", "", "") == {"citizen_name": "required"}
    assert validate_citizen("M", "not-an-email", "") == {"citizen_email": "invalid_email"}
    assert validate_citizen("M", "", "02 1234 5678") == {}
    assert validate_citizen("M", "", "call me") == {"citizen_phone": "invalid_phone"}
    assert validate_citizen("x" * 201, "", "") == {"citizen_name": "too_long"}


def test_join_tokens_never_reach_the_access_log() -> None:
    assert redact_path("/join/abcDEF123_-") == "/join/…"
    assert redact_path("/booking/tok3n") == "/booking/…"
    assert redact_path("/api/v1/bookings/tok3n/move") == "/api/v1/bookings/…/move"
    assert redact_path("/api/v1/bookings") == "/api/v1/bookings"
    assert redact_path("/console/consultations/1") == "/console/consultations/1"


def test_join_tokens_carry_enough_randomness_and_survive_dictation() -> None:
    assert JOIN_CHARS * 5 >= 128
    tokens = {new_join_token() for _ in range(1000)}
    assert len(tokens) == 1000
    token = next(iter(tokens))
    groups = token.split("-")
    assert len(groups) == 7 and all(len(g) == 4 for g in groups)
    assert not set(token) & set("ilou")
    heard = token.upper().replace("-", " ").replace("0", "O").replace("1", "l")
    assert join_digest(heard) == join_digest(token)
    assert join_digest(token) != join_digest(new_join_token())
