from __future__ import annotations

import json
import logging

from server.logs import JsonFormatter


def test_records_are_one_json_object_per_line_with_known_extras_only() -> None:
    record = logging.LogRecord("signaling.hub", logging.INFO, __file__, 1, "closed %s", (1009,), None)
    record.room = "r1"
    record.citizen_name = "Maria"  # not a known field: never written
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["message"] == "closed 1009"
    assert entry["room"] == "r1" and entry["level"] == "INFO" and entry["logger"] == "signaling.hub"
    assert "Maria" not in line


def test_exceptions_are_kept_on_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: boom" in entry["exception"]
