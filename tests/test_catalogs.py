"""Every text a person sees comes from a catalog: zh_CN and en have the same files, the
same keys and the same placeholders, and every literal key the code asks for exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from conversation.i18n import LOCALES, catalog

ROOT = Path(__file__).parents[1]
LOCALE_DIR = ROOT / "conversation" / "locales"
CODE_DIRS = ("bots", "conversation", "notify", "tickets", "config")
# ctx.t("x.y") and translate(locale, "x.y") with a literal key (wrappers that add a
# prefix, like the notice renderer's, are checked by their own modules' tests)
LITERAL_KEY = re.compile(
    r"""(?:\bctx\.t\(|\btranslate\([^,()]+,\s*)["']([a-z_]+\.[a-z0-9_.]+)["']"""
)


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_locales_have_the_same_catalog_files() -> None:
    files = {loc: sorted(p.name for p in (LOCALE_DIR / loc).glob("*.toml")) for loc in LOCALES}
    assert files["zh_CN"] == files["en"]


def test_same_keys_in_every_locale() -> None:
    zh, en = catalog("zh_CN"), catalog("en")
    assert sorted(set(zh) - set(en)) == []
    assert sorted(set(en) - set(zh)) == []


@pytest.mark.parametrize("key", sorted(catalog("zh_CN")))
def test_same_placeholders(key: str) -> None:
    assert _fields(catalog("zh_CN")[key]) == _fields(catalog("en").get(key, ""))


def test_every_literal_key_in_the_code_exists() -> None:
    known = set(catalog("zh_CN"))
    missing = []
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            for key in LITERAL_KEY.findall(path.read_text(encoding="utf-8")):
                if key not in known:
                    missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert missing == []
