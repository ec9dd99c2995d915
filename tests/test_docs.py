"""The README keeps up with the code: every CLI command and the two set-up commands are
documented (the config keys are checked against docs/configuration.md in test_config),
and docs/operations.md names only commands, routes and metrics that exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
from click.testing import CliRunner

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


# -- docs/operations.md ------------------------------------------------------------------

OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", OPERATIONS, flags=re.S)


def _resolves(args: list[str]) -> bool:
    """Whether ``baoxiu ARGS`` names a real command with options it accepts."""
    result = CliRunner().invoke(main, [*args, "--help"])
    return result.exit_code == 0 and "Usage:" in result.output


def test_operations_documents_every_operations_command_and_key() -> None:
    from config.ops_config import SCHEMA as OPS

    commands = [c for c in _commands(main, "baoxiu") if c.split()[1] in ("backup", "restore")]
    commands += [c for c in _commands(main, "baoxiu") if c.startswith("baoxiu privacy ")]
    assert len(commands) == 4
    assert [c for c in commands if f"`{c}" not in OPERATIONS] == []
    keys = [f"[{table}] {key}" for table, names in OPS.items() for key in names]
    assert [k for k in keys if f"`{k}`" not in OPERATIONS] == []


def test_every_command_in_operations_exists() -> None:
    written = re.findall(r"`(baoxiu [^`]*)`", OPERATIONS)
    written += [line for block in _blocks("sh") for line in block.splitlines()]
    named = [shlex.split(c)[1:] for c in written if c.startswith("baoxiu ")]
    assert len(named) >= 10
    for args in named:
        words = [a for a in args if a.isupper() is False and not a.startswith(("[", "…"))]
        if words and words[0] == "--config":
            words = words[2:]
        command = [w for w in words if not w.startswith("-") and "/" not in w and w != "…"]
        command = command[: 2 if command and command[0] in _GROUPS else 1]
        assert _resolves(command), f"docs/operations.md names `baoxiu {' '.join(args)}`"


_GROUPS = {name for name, c in main.commands.items() if isinstance(c, click.Group)}


def test_the_systemd_units_exec_start_is_a_real_command() -> None:
    (unit,) = _blocks("ini")
    (line,) = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    program, *args = shlex.split(line.removeprefix("ExecStart="))
    assert Path(program).name == "baoxiu"
    toml = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'baoxiu = "bots.cli:main"' in toml  # the program the unit runs is this CLI
    assert args[-1] == "serve" and _resolves(args)


def test_the_routes_and_metrics_in_operations_exist(tmp_path: Path) -> None:
    from bots.app import build_app
    from bots.engine import open_store
    from bots.health import METERS
    from bots.keys import STORE
    from config.loader import default_text, load_text

    config = load_text(default_text(), base=tmp_path)
    with open_store(config) as store:
        app = build_app(config, store=store)
        routes = {r.resource.canonical for r in app.router.routes() if r.resource}
        for route in re.findall(r"\| `(/[a-z]+)` \|", OPERATIONS):
            assert route in routes
        app[STORE] = store  # as on start-up, without starting it
        families = {m.name for m in app[METERS].registry.collect()}
    documented = {m.removesuffix("_total") for m in re.findall(r"`(baoxiu_[a-z_]+)`", OPERATIONS)}
    assert documented == families
