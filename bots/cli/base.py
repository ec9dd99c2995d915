"""What every ``baoxiu`` command shares: the root group, the session (configuration
and its language), localized messages and failures, aligned tables."""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click

from bots.engine import open_store
from config.loader import load
from config.model import Config
from conversation.i18n import DEFAULT_LOCALE, catalog, normalize, translate
from tickets.errors import ConfigError, StoreMissing
from tickets.privacy import install_log_mask
from tickets.store import Store

CONFIG_ENV = "BAOXIU_CONFIG"
DEFAULT_INIT_PATH = "baoxiu.toml"
CONFIG_ERROR_EXIT = 2
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to Excel: a reporter's text must not be."""


@dataclass
class Session:
    """What the group's options leave for the subcommands; the configuration loads once."""

    config_path: Path | None = None
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load(self.config_path, locale=self.locale)
            except ConfigError as error:
                fail(self.locale, "config_invalid", message=error.message)
        return self._config

    @property
    def locale(self) -> str:
        if self._config is not None:
            return self._config.locale
        return shell_locale()


def shell_locale() -> str:
    """The operator's language before a configuration is read: en when LC_ALL or LANG
    says so, else zh_CN."""
    shell = os.environ.get("LC_ALL") or os.environ.get("LANG") or ""
    return normalize(shell) if shell.lower().startswith("en") else DEFAULT_LOCALE


_ENGLISH: dict[int, str | None] = {}
"""The code's own (English) help of every command and option, by id, kept on first use."""


def localize_help(root: click.Command, locale: str) -> None:
    """Every command's and option's help from the ``cli_help`` catalog in ``locale``; a
    command or option without an entry (one added later) keeps its English docstring."""
    texts = catalog(locale)

    def walk(cmd: click.Command, path: str) -> None:
        _ENGLISH.setdefault(id(cmd), cmd.help)
        own = texts.get(f"cli_help.command.{path}") if locale != "en" else None
        cmd.help = own or _ENGLISH[id(cmd)]
        for param in cmd.params:
            if isinstance(param, click.Option) and param.help:
                _ENGLISH.setdefault(id(param), param.help)
                name = param.name or ""
                found = texts.get(f"cli_help.option.{path}.{name}") or texts.get(
                    f"cli_help.option.{name}"
                )
                param.help = (found if locale != "en" else None) or _ENGLISH[id(param)]
        if isinstance(cmd, click.Group):
            for sub, child in cmd.commands.items():
                walk(child, sub if path == "root" else f"{path}.{sub}")

    walk(root, "root")


def say(locale: str, key: str, /, **params: Any) -> str:
    return translate(locale, f"cli.{key}", **params)


def fail(locale: str, key: str, /, *, code: int = CONFIG_ERROR_EXIT, **params: Any) -> NoReturn:
    click.echo(say(locale, key, **params), err=True)
    sys.exit(code)


def channel_config(session: Any, settings: Any) -> Any:
    """The session's configuration once its channel table reads as ``settings`` (a
    channel's settings class, e.g. ``WeChatSettings``); otherwise the localized reason
    and the configuration error's exit code."""
    config = session.config
    try:
        settings.from_config(config)
    except ConfigError as error:
        fail(session.locale, "config_invalid", message=error.message)
    return config


def _use_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(Session).config_path = value


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--config PATH`` on a subcommand too (``baoxiu serve --config x.toml``)."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        callback=_use_config,
        expose_value=False,
        is_eager=True,
        help="Configuration file (TOML); default: $BAOXIU_CONFIG, else the built-in default.",
    )(func)


class DeskGroup(click.Group):
    """A group whose command list shows each command's whole first paragraph, wrapped,
    instead of cutting it at the terminal's width with "..."."""

    group_class = type  # subgroups are DeskGroups too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:  # the root, before any --help of the tree is printed
            localize_help(self, shell_locale())
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=DeskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=CONFIG_ENV,
    help="Configuration file (TOML); default: $BAOXIU_CONFIG, else the built-in default.",
)
@click.version_option(package_name="baoxiu", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """baoxiu (报修): a chat-first repair desk."""
    install_log_mask()  # phone numbers never reach a log in full (PIPL)
    ctx.obj = Session(config_path)


pass_session = click.make_pass_decorator(Session, ensure=True)


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as aligned columns; multi-line cells are flattened to one line."""
    flat = [[" ".join(cell.split("\n")) for cell in row] for row in rows]
    if not flat:
        return []
    widths = [max(width(row[i]) for row in flat) for i in range(len(flat[0]))]
    return [
        "  ".join(
            cell + " " * (w - width(cell)) for cell, w in zip(row, widths, strict=True)
        ).rstrip()
        for row in flat
    ]


def store_of(config: Config, *, create: bool = False) -> Store:
    """The configuration's database for an operator's command: says which file it is (on
    stderr, so piped output stays clean) and never makes an empty one for a command that
    reads or changes tickets — run with the wrong configuration it must say so rather
    than show an empty desk. ``create``: commands that set a desk up (staff accounts)
    before the service first ran."""
    click.echo(say(config.locale, "using_database", path=config.database), err=True)
    try:
        return open_store(config, create=create)
    except StoreMissing as missing:
        fail(
            config.locale,
            "refused",
            message=translate(config.locale, missing.key, **missing.params),
        )
