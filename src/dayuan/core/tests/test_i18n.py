"""English is complete: every msgid translated, and the compiled catalogue matches the .po."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "en" / "LC_MESSAGES"


def _entries(po: str) -> list[dict[str, str | bool]]:
    entries = []
    for block in po.split("\n\n"):
        lines = [line for line in block.strip().splitlines() if line]
        if not any(line.startswith("msgid ") for line in lines):
            continue
        flags = [line for line in lines if line.startswith("#,")]
        entry: dict[str, str | bool] = {"fuzzy": any("fuzzy" in line for line in flags)}
        key = None
        for line in lines:
            m = re.match(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) (".*")$', line)
            if m:
                key = m.group(1)
                entry[key] = ast.literal_eval(m.group(2))
            elif line.startswith('"') and key:
                entry[key] = str(entry[key]) + ast.literal_eval(line)
        if entry.get("msgid"):
            entries.append(entry)
    return entries


def test_every_message_has_an_english_translation():
    entries = _entries((LOCALE / "django.po").read_text(encoding="utf-8"))
    assert len(entries) > 100
    missing = [
        e["msgid"] for e in entries if e["fuzzy"] or not (e.get("msgstr") or e.get("msgstr[0]"))
    ]
    assert not missing, f"untranslated or fuzzy: {missing[:10]}"


def test_the_compiled_catalogue_matches_the_po_file():
    with (LOCALE / "django.mo").open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)
    for entry in _entries((LOCALE / "django.po").read_text(encoding="utf-8")):
        if "msgid_plural" in entry:
            continue
        if "msgctxt" in entry:
            found = catalogue.pgettext(str(entry["msgctxt"]), str(entry["msgid"]))
        else:
            found = catalogue.gettext(str(entry["msgid"]))
        assert found == entry["msgstr"], entry["msgid"]


@pytest.mark.django_db
def test_the_login_page_speaks_english_when_asked():
    resp = Client(HTTP_ACCEPT_LANGUAGE="en").get("/accounts/login/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'lang="en"' in html
    assert "Sign in" in html
