from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from web.i18n import LANGUAGES, catalog, negotiate, strings_for, translate

TEMPLATES = Path(__file__).parents[2] / "web" / "templates"


def test_every_key_has_every_language() -> None:
    for key, texts in catalog().items():
        assert set(texts) == set(LANGUAGES), key
        assert all(text.strip() for text in texts.values()), key


def test_placeholders_match_across_languages() -> None:
    for key, texts in catalog().items():
        fields = {lang: set(re.findall(r"{(\w+)}", text)) for lang, text in texts.items()}
        assert fields["it"] == fields["en"], key


def test_templates_use_only_known_keys() -> None:
    known = catalog()
    for template in TEMPLATES.glob("*.html"):
        for key in re.findall(r"""\bt\('([a-z0-9_.]+)'""", template.read_text()):
            if not key.endswith("."):  # a prefix completed in the template, like 'console.' ~ field
                assert key in known, f"{template.name}: {key}"


def test_translate_and_strings_for() -> None:
    assert translate("it", "common.logout") == "Esci"
    assert translate("en", "common.emergency", number="112") == "If you are in immediate danger, call 112."
    assert all(key.startswith("login.") for key in strings_for("en", ["login."]))
    with pytest.raises(KeyError):
        translate("it", "no.such.key")


@pytest.mark.parametrize(
    ("header", "query", "expected"),
    [
        ("", "", "it"),
        ("en-GB,en;q=0.9", "", "en"),
        ("de-DE,en;q=0.5", "", "en"),
        ("fr-FR", "", "it"),
        ("en-US,it;q=0.9", "?lang=it", "it"),
        ("it", "?lang=en", "en"),
        ("it", "?lang=xx", "it"),
        ("en;q=garbage", "", "it"),
    ],
)
def test_negotiation(header: str, query: str, expected: str) -> None:
    request = make_mocked_request("GET", "/" + query, headers={"Accept-Language": header})
    assert negotiate(request) == expected
