"""The command line tells a newcomer about the second factor: create-user and demo keep working with MFA on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import run


def test_demo_says_who_is_led_through_mfa_enrolment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASCOLTO_MFA_ROLES", raising=False)
    result = run("demo", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "two-step verification (MFA) is required for: coordinator, operator, supervisor." in result.stdout
    assert "ASCOLTO_MFA_ROLES=" in result.stdout
    assert "password for every demo account (shown only now): " in result.stdout


def test_demo_without_mfa_says_nothing_about_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASCOLTO_MFA_ROLES", "")
    result = run("demo", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "MFA" not in result.stdout


def test_create_user_of_an_mfa_role_hears_about_enrolment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASCOLTO_MFA_ROLES", "operator")
    args = ("create-user", "--email", "a@example.org", "--name", "A", "--role")
    operator = run(*args, "operator", data_dir=tmp_path)
    assert operator.returncode == 0, operator.stderr
    assert "required for: operator" in operator.stdout
    switchboard = run(*args[:2], "b@example.org", *args[3:], "switchboard", data_dir=tmp_path)
    assert switchboard.returncode == 0, switchboard.stderr
    assert "MFA" not in switchboard.stdout
