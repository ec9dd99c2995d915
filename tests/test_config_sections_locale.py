"""Issue 12 item 16: the problems `config check` finds in [dispatch], [[duty]], [[leave]],
[delivery], [sms], [email], [incidents], [backup] and [metrics] are in the operator's
language (zh_CN or en), like those of the other sections, and still name the key and the
fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import default_text, load
from conversation.i18n import catalog
from tickets.errors import ConfigError

CASES = [
    ("[dispatch]\nreminders = [0, 200]\n", "dispatch.reminders", "percents", "percents_fix"),
    (
        '[dispatch.business_hours]\ndays = ["mon", "someday"]\n',
        "dispatch.business_hours.days[1]",
        "not_weekday",
        "not_weekday_fix",
    ),
    (
        '[[leave]]\ntechnician = "zhang"\nstart = 2026-11-23\nend = 2026-11-20\n',
        "leave[0].end",
        "end_not_after_start",
        "end_not_after_start_fix",
    ),
    (
        '[[duty]]\nhours = ["08:00-18:00"]\n',
        "duty[0].technicians",
        "names_nobody",
        "names_nobody_fix",
    ),
    ('[delivery]\nbase_backoff = "soon"\n', "delivery.base_backoff", "must_be_number", None),
    ("[delivery]\njitter = 5\n", "delivery.jitter", "number_range", "example"),
    (
        '[sms]\nprovider = "http"\n[sms.http]\nurl = "https://sms.example.com/send"\n'
        'format = "xml"\n',
        "sms.http.format",
        "bad_format",
        "bad_format_fix",
    ),
    (
        '[email]\nhost = "smtp.example.com"\nfrom_address = "nobody"\n',
        "email.from_address",
        "bad_email",
        "bad_email_fix",
    ),
    ("[incidents]\nreports = 1\n", "incidents.reports", "reports_low", "reports_low_fix"),
    ('[[duty]]\nteams = ["nobody"]\n', "duty[0].teams[0]", "no_such_team", "use_one_of"),
    ("[backup]\nevery_hours = -1\n", "backup.every_hours", "count", "example"),
    ('[metrics]\nallow = ["here"]\n', "metrics.allow[0]", "not_address", "not_address_fix"),
    ('[metrics]\ntoken = "short"\n', "metrics.token", "short_token", "short_token_fix"),
]


def _base(body: str) -> str:
    """The built-in configuration without the tables ``body`` brings (it has [backup]
    and [metrics] of its own)."""
    text = default_text()
    for table in ("[backup]", "[metrics]"):
        if body.startswith(table):
            start = text.index(table)
            end = text.find("\n[", start + 1)
            text = text[:start] + (text[end + 1 :] if end >= 0 else "")
    return text


def _piece(locale: str, key: str) -> str:
    """The fixed start of a catalog message (before its first placeholder)."""
    return catalog(locale)[f"config_check.sections.{key}"].split("{")[0]


@pytest.mark.parametrize(("body", "path", "problem", "fix"), CASES)
@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_section_problems_are_in_the_operators_language(
    tmp_path: Path, body: str, path: str, problem: str, fix: str | None, locale: str
) -> None:
    config = tmp_path / "baoxiu.toml"
    config.write_text(_base(body) + "\n" + body, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(config, locale=locale)
    said = str(info.value)
    assert path in said
    assert _piece(locale, problem) in said
    if fix:
        assert _piece(locale, fix) in said
    other = "en" if locale == "zh_CN" else "zh_CN"
    assert _piece(other, problem) not in said


def test_every_section_message_has_both_languages() -> None:
    zh = {k for k in catalog("zh_CN") if k.startswith("config_check.sections.")}
    en = {k for k in catalog("en") if k.startswith("config_check.sections.")}
    assert zh == en and len(zh) > 50
