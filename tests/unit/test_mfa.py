"""TOTP steps, recovery codes and the QR code of server.mfa, with time driven by pyotp's ``at``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

from server.mfa import matching_step, new_recovery_code, qr_svg, recovery_hash

NOW = datetime(2026, 12, 5, 10, 0, 15, tzinfo=UTC)


def test_a_code_matches_its_step_and_the_neighbouring_ones_only() -> None:
    totp = pyotp.TOTP(pyotp.random_base32())
    step = totp.timecode(NOW)
    assert matching_step(totp.secret, totp.at(NOW), NOW) == step
    assert matching_step(totp.secret, totp.at(NOW - timedelta(seconds=30)), NOW) == step - 1
    assert matching_step(totp.secret, totp.at(NOW + timedelta(seconds=30)), NOW) == step + 1
    stale = totp.at(NOW - timedelta(minutes=5))
    if stale not in {totp.at(NOW + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}:
        assert matching_step(totp.secret, stale, NOW) is None


def test_codes_that_are_not_six_digits_never_match() -> None:
    secret = pyotp.random_base32()
    for code in ("", "12345", "1234567", "abcdef", "12 34 5x"):
        assert matching_step(secret, code, NOW) is None
    spaced = pyotp.TOTP(secret).at(NOW)
    assert matching_step(secret, f"{spaced[:3]} {spaced[3:]}", NOW) is not None


def test_recovery_codes_are_random_and_hashed_per_member() -> None:
    codes = {new_recovery_code() for _ in range(50)}
    assert len(codes) == 50
    code = codes.pop()
    assert len(code.replace("-", "")) == 16
    assert recovery_hash("a", code) == recovery_hash("a", code.upper().replace("-", " "))
    assert recovery_hash("a", code) != recovery_hash("b", code)
    assert code not in recovery_hash("a", code)


def test_the_qr_code_is_inline_svg_drawn_here() -> None:
    svg = qr_svg("otpauth://totp/Ascolto:rossi%40example.org?secret=JBSWY3DPEHPK3PXP&issuer=Ascolto")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "href" not in svg and "<script" not in svg and "style=" not in svg
