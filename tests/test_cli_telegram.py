"""``baoxiu telegram status`` and ``baoxiu config check`` for the Telegram table."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bots.cli import main
from config.loader import default_text


def test_status_without_a_telegram_table_says_what_to_add() -> None:
    result = CliRunner().invoke(main, ["telegram", "status"])
    assert result.exit_code == 1
    assert "[channels.telegram]" in result.output


def test_config_check_refuses_a_bad_telegram_table(tmp_path: Path) -> None:
    path = tmp_path / "baoxiu.toml"
    path.write_text(
        default_text() + '\n[channels.telegram]\ntoken = "123:abc"\nmode = "carrier-pigeon"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2
    assert "mode" in result.output and "carrier-pigeon" in result.output
