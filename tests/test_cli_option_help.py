"""Issue 12 item 16: every option's --help of every command is in the operator's language;
the options of the commands added in the second session (tickets list filters, stats,
user, wechat qrcode, privacy, restore) were still English."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bots.cli import main
from conversation.i18n import catalog


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name, value in {"BAOXIU_DATA_DIR": str(tmp_path), "LANG": "", "LC_ALL": ""}.items():
        monkeypatch.setenv(name, value)
    return CliRunner()


def _options() -> list[tuple[str, str, str]]:
    """(command path, option name, its English help) of every option with a help text."""
    found = []

    def walk(cmd: click.Command, path: str) -> None:
        for param in cmd.params:
            if isinstance(param, click.Option) and param.help and param.name:
                found.append((path, param.name, param.help))
        if isinstance(cmd, click.Group):
            for sub, child in cmd.commands.items():
                walk(child, sub if path == "root" else f"{path}.{sub}")

    walk(main, "root")
    return found


def test_every_option_has_help_in_both_languages() -> None:
    missing = []
    for locale in ("zh_CN", "en"):
        texts = catalog(locale)
        for path, name, _english in _options():
            if not (
                texts.get(f"cli_help.option.{path}.{name}") or texts.get(f"cli_help.option.{name}")
            ):
                missing.append(f"{locale}: {path} --{name}")
    assert missing == []


@pytest.mark.parametrize(
    ("command", "chinese", "english"),
    [
        (
            ["tickets", "list"],
            "只看已超过当前时限的工单",
            "Only tickets past their current time limit.",
        ),
        (["stats"], "最后一天（本地日期，含当天）", "Last local day (included)."),
        (["user", "add"], "在终端中输入（不显示，输两次）", "Asked for on the terminal"),
        (["wechat", "qrcode"], "配置中的区域代码", "The area's code from the configuration."),
        (["privacy", "erase"], "真的删除", "Really erase"),
        (["restore"], "替换现有的数据库和媒体目录", "Replace the existing database"),
    ],
)
def test_option_help_follows_the_shells_language(
    runner: CliRunner, command: list[str], chinese: str, english: str
) -> None:
    zh = runner.invoke(main, [*command, "--help"], terminal_width=200)
    assert zh.exit_code == 0, zh.output
    assert chinese in zh.output and english not in zh.output
    en = runner.invoke(main, [*command, "--help"], env={"LANG": "en_GB.UTF-8"}, terminal_width=200)
    assert english in en.output and chinese not in en.output
