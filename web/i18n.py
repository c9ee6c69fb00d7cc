"""Translations: Italian by default, English second.

Strings live in ``web/translations/*.json``, one file per area, each mapping a key to its text in every
language. A test checks that every key has every language. The language comes from the ``lang`` cookie (set by the
visible switch), else from Accept-Language, else Italian.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from aiohttp import web
from babel import Locale

LANGUAGES = ("it", "en")
DEFAULT = "it"
LANG_COOKIE = "lang"
TRANSLATIONS = Path(__file__).parent / "translations"


@cache
def catalog() -> Mapping[str, Mapping[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(TRANSLATIONS.glob("*.json")):
        for key, texts in json.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"translation key {key!r} is defined twice ({path.name})")
            merged[key] = texts
    return merged


def translate(lang: str, key: str, **params: object) -> str:
    texts = catalog().get(key)
    if texts is None:
        raise KeyError(f"missing translation key {key!r}")
    text = texts.get(lang) or texts[DEFAULT]
    return text.format(**params) if params else text


def strings_for(lang: str, prefixes: Iterable[str]) -> dict[str, str]:
    """The strings a page's scripts need, by key prefix (embedded as JSON in the page)."""
    prefixes = tuple(prefixes)
    return {key: texts.get(lang) or texts[DEFAULT] for key, texts in catalog().items() if key.startswith(prefixes)}


def negotiate(request: web.Request) -> str:
    chosen = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    header = request.headers.get("Accept-Language", "")
    preferred = []
    for part in header.split(","):
        tag, _, q = part.strip().partition(";q=")
        if tag:
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            if weight > 0:  # q=0 means "not acceptable"
                preferred.append((weight, tag.strip().replace("-", "_")))
    preferred.sort(key=lambda item: -item[0])
    best = Locale.negotiate([tag for _, tag in preferred], list(LANGUAGES))
    return best.language if best is not None else DEFAULT
