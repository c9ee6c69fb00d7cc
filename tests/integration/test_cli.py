"""The command line, run as a person would run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import run


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run("--help", data_dir=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "migrate", "create-user", "consult", "demo", "rotate-key"):
        assert command in result.stdout


def test_create_user_then_consult_prints_two_links(tmp_path: Path, database_url: str) -> None:
    created = run(
        "create-user",
        "--email",
        "Rossi@Example.org",
        "--name",
        "Dott.ssa Rossi",
        "--role",
        "operator",
        "--password-stdin",
        data_dir=tmp_path,
        stdin="a long enough password\n",
        database_url=database_url,
    )
    assert created.returncode == 0, created.stderr
    assert "password" not in created.stdout  # it was given, so it is not printed

    result = run(
        "consult",
        "--operator",
        "rossi@example.org",
        "--citizen-name",
        "Maria",
        data_dir=tmp_path,
        database_url=database_url,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("citizen: http://127.0.0.1:8080/join/")
    assert lines[1].startswith("operator: http://127.0.0.1:8080/console/consultations/")


def test_a_generated_password_is_printed_once(tmp_path: Path) -> None:
    result = run("create-user", "--email", "c@example.org", "--name", "C", "--role", "coordinator", data_dir=tmp_path)
    assert result.returncode == 0
    assert "password (shown only now): " in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("consult", "--operator", "nobody@example.org"), "no active staff member"),
        (("create-user", "--email", "x", "--name", "X", "--role", "operator"), "invalid staff member"),
        (("--port", "99999", "migrate"), "port must be between"),
    ],
)
def test_mistakes_get_a_clear_message(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run(*args, data_dir=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_fills_only_an_empty_database(tmp_path: Path) -> None:
    first = run("demo", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "4 services, 6 staff" in first.stdout
    second = run("demo", data_dir=tmp_path)
    assert second.returncode == 2
    assert "already has staff" in second.stderr


def test_rotate_key_puts_a_new_key_in_the_key_file(tmp_path: Path, database_url: str) -> None:
    first = run("rotate-key", data_dir=tmp_path, database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert "0 sealed notes" in first.stdout
    keys = (tmp_path / "notes.key").read_text().split()
    assert len(keys) == 2 and keys[0] not in first.stdout  # the key is not printed when it lives in the file
    second = run("rotate-key", data_dir=tmp_path, database_url=database_url)
    assert second.returncode == 0 and (tmp_path / "notes.key").read_text().split()[1] == keys[0]
