"""The ``[org]`` table (issue 12 item 15): the operator's name, logo and hotline are read
and checked, with every problem localized (zh_CN and en) and named by its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import default_text, load, load_text
from config.org_config import OrgSettings
from conversation.i18n import translate
from tickets.errors import ConfigError


def with_org(body: str) -> str:
    return default_text() + "\n[org]\n" + body


def test_without_org_the_defaults_hold() -> None:
    assert load_text(default_text()).org == OrgSettings()


def test_name_logo_and_hotline_are_read(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    text = with_org('name = "阳光物业"\nlogo = "logo.png"\nhotline = "+86 (400) 123-4567"\n')
    org = load_text(text, base=tmp_path).org
    assert (org.name, org.logo, org.hotline) == (
        "阳光物业",
        tmp_path / "logo.png",
        "+86 (400) 123-4567",
    )
    assert org.hotline_dial == "+864001234567"


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ('name = "' + "长" * 41 + '"', "org.name", "name_long"),
        ('logo = "logo.bmp"', "org.logo", "logo_type"),
        ('logo = "missing.png"', "org.logo", "logo_missing"),
        ('hotline = "call us"', "org.hotline", "bad_hotline"),
    ],
)
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_problems_are_localized_and_name_the_key(
    tmp_path: Path, body: str, key: str, problem: str, locale: str
) -> None:
    (tmp_path / "logo.bmp").write_bytes(b"BM")
    path = tmp_path / "baoxiu.toml"
    path.write_text(with_org(body + "\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path, locale=locale)
    text = str(info.value)
    assert key in text
    assert translate(locale, f"config_check.org.{problem}", limit=40) in text


def test_a_huge_logo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(600 * 1024))
    with pytest.raises(ConfigError, match="600 KB"):
        load_text(with_org('logo = "logo.png"\n'), base=tmp_path)


def test_org_problems_are_reported_with_the_others() -> None:
    text = with_org('hotline = "call us"\n').replace(
        'timezone = "Asia/Shanghai"', 'timezone = "Mars"'
    )
    with pytest.raises(ConfigError) as info:
        load_text(text)
    assert "org.hotline" in str(info.value) and "timezone" in str(info.value)
