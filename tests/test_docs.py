"""The README keeps up with the code: every CLI command and the two set-up commands are
documented (the config keys are checked against docs/configuration.md in test_config)."""

from __future__ import annotations

from pathlib import Path

import click

from bots.cli import main

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str) -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
        else:
            found.append(path)
    return found


def test_every_cli_command_is_in_the_readme() -> None:
    commands = _commands(main, "baoxiu")
    assert len(commands) >= 7
    missing = [c for c in commands if f"`{c}" not in README]
    assert missing == [], f"README.md does not document {missing}"


def test_readme_gives_the_two_setup_commands() -> None:
    assert "make run" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "\nrun:" in makefile and "\ntest:" in makefile


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
