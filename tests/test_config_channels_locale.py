"""The problems ``config check`` finds in [channels.telegram], [channels.wechat] and
[channels.wecom] are in the operator's language (zh_CN or en), like those of every other
section, and still name the key and the fix; a secret is never echoed in either."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bots.channel.settings import reported_in, say
from bots.cli import main
from config.loader import default_text
from conversation.i18n import catalog

ROOT = Path(__file__).resolve().parents[1]
WECOM = (
    '[channels.wecom]\ncorp_id = "ww0123456789abcdef"\nagent_id = 1000002\n'
    f'secret = "{"s" * 43}"\ntoken = "tok123"\nencoding_aes_key = "{"k" * 43}"\n'
)
WECHAT = (
    '[channels.wechat]\napp_id = "wx0123456789abcdef"\n'
    f'app_secret = "{"a" * 32}"\ntoken = "tok123"\nencoding_aes_key = "{"k" * 43}"\n'
)
CASES = [
    ('[channels.telegram]\ntoken = "nope"\n', "channels.telegram.token", "telegram.not_token"),
    (
        '[channels.telegram]\ntoken = "1:a"\nmode = "push"\n',
        "channels.telegram.mode",
        "telegram.mode_fix",
    ),
    (
        '[channels.telegram]\ntoken = "1:a"\nmode = "webhook"\n',
        "channels.telegram.webhook_url",
        "telegram.webhook_missing_fix",
    ),
    (
        '[channels.telegram]\ntoken = "1:a"\nmax_rate = "fast"\n',
        "channels.telegram.max_rate",
        "common.must_be_number",
    ),
    (
        '[channels.telegram]\ntoken = "1:a"\nallowed_updates = ["message"]\n',
        "channels.telegram.allowed_updates",
        "telegram.update_keep",
    ),
    (
        '[channels.telegram]\ntoken = "1:a"\ncolour = 1\n',
        "channels.telegram.colour",
        "common.unknown_key",
    ),
    (WECHAT.replace("wx0123456789abcdef", "nope"), "channels.wechat.app_id", "wechat.not_app_id"),
    (WECHAT + 'mode = "loud"\n', "channels.wechat.mode", "wechat.mode_fix"),
    (WECHAT + "verify_phone = 1\n", "channels.wechat.verify_phone", "common.must_be_flag"),
    (WECHAT + 'menu = [{name = "报修", key = "x"}]\n', "channels.wechat.menu", "wechat.menu_key"),
    (WECHAT.replace("a" * 32, "short"), "channels.wechat.app_secret", "wechat.secret_bad"),
    (WECOM.replace("1000002", '"x"'), "channels.wecom.agent_id", "wecom.agent_id_fix"),
    (WECOM.replace("ww0123456789abcdef", "corp"), "channels.wecom.corp_id", "wecom.not_corp_id"),
    (WECOM + 'api_base_url = "ftp://x"\n', "channels.wecom.api_base_url", "common.not_url"),
    (WECOM + "timeout_seconds = 99\n", "channels.wecom.timeout_seconds", "common.out_of_range"),
    (WECOM.replace("tok123", "t"), "channels.wecom.token", "common.token_bad"),
]


def _piece(locale: str, name: str) -> str:
    """The fixed start of a catalog message (before its first placeholder)."""
    return catalog(locale)[f"config_channels.{name}"].split("{")[0]


@pytest.mark.parametrize(("table", "path", "name"), CASES)
@pytest.mark.parametrize(("lang", "locale"), [("zh_CN.UTF-8", "zh_CN"), ("en_US.UTF-8", "en")])
def test_a_bad_channel_value_is_told_in_the_operators_language(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    table: str,
    path: str,
    name: str,
    lang: str,
    locale: str,
) -> None:
    monkeypatch.setenv("LANG", lang)
    monkeypatch.delenv("LC_ALL", raising=False)
    file = tmp_path / "baoxiu.toml"
    file.write_text(default_text() + "\n" + table, encoding="utf-8")
    result = CliRunner().invoke(main, ["config", "check", str(file)])
    assert result.exit_code == 2
    assert path in result.output
    assert _piece(locale, name) in result.output
    other = "en" if locale == "zh_CN" else "zh_CN"
    assert _piece(other, name) not in result.output
    assert "s" * 43 not in result.output and "short" not in result.output  # secrets


def test_a_shared_wecom_userid_is_told_in_both_languages(tmp_path: Path) -> None:
    from dataclasses import replace

    from bots.wecom.settings import WeComSettings
    from config.loader import load_text
    from tickets.errors import ConfigError

    config = load_text(default_text() + "\n" + WECOM)
    config = replace(
        config,
        technicians=tuple(replace(t, wecom_userid="Same") for t in config.technicians),
    )
    for locale in ("zh_CN", "en"):
        with reported_in(locale), pytest.raises(ConfigError) as info:
            WeComSettings.from_config(config)
        assert "wecom_userid" in str(info.value)
        with reported_in(locale):
            assert say("wecom.userid_shared_fix") in str(info.value)


def test_every_message_name_in_the_channel_settings_is_in_both_catalogs() -> None:
    used: set[str] = set()
    for module in ("channel", "telegram", "wechat", "wecom"):
        text = (ROOT / "bots" / module / "settings.py").read_text(encoding="utf-8")
        used |= set(re.findall(r'"((?:common|telegram|wechat|wecom)\.[a-z_]+)"', text))
    assert len(used) > 40
    for locale in ("zh_CN", "en"):
        missing = sorted(n for n in used if f"config_channels.{n}" not in catalog(locale))
        assert missing == [], locale
    zh = {k for k in catalog("zh_CN") if k.startswith("config_channels.")}
    en = {k for k in catalog("en") if k.startswith("config_channels.")}
    assert zh == en
