"""``baoxiu serve``, ``chat``, ``init`` and ``config check``: running the service and
starting or checking its configuration."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

import click

from bots.cli.base import DEFAULT_INIT_PATH, Session, config_option, fail, main, pass_session, say
from config.loader import check as check_config
from config.loader import load, starter_text
from config.model import Config
from conversation.i18n import translate
from tickets.errors import BaoxiuError, ConfigError

# -- running ---------------------------------------------------------------------------


@main.command()
@config_option
@click.option("--host", help="Address to listen on (overrides [channels.web] host).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (overrides [channels.web] port).")
@pass_session
def serve(session: Session, host: str | None, port: int | None) -> None:
    """Run the service: the web chat, the chat bots (Telegram) and notice delivery."""
    from bots.app import run  # the web stack is needed by this command only

    config = session.config
    web = replace(config.web, host=host or config.web.host, port=port or config.web.port)
    config.database.parent.mkdir(parents=True, exist_ok=True)  # the loader may not make it
    run(replace(config, web=web))


@main.command("chat")
@config_option
@click.option(
    "--as",
    "as_",
    metavar="ROLE:ID",
    help="Chat as a configured person: technician:ID or dispatcher:ID.",
)
@click.option("--chat", "chat_id", metavar="ID", help="Chat id (default: term-<login name>).")
@pass_session
def chat_command(session: Session, as_: str | None, chat_id: str | None) -> None:
    """Talk to the repair desk from this terminal (a resident, or --as a technician)."""
    from bots.terminal import chat

    config = session.config
    if not config.terminal_enabled:
        fail(config.locale, "terminal_disabled")
    role = person = None
    if as_ is not None:
        role, _, person = as_.partition(":")
        if role not in ("technician", "dispatcher") or not person:
            fail(config.locale, "as_invalid", given=as_)
    try:
        code = asyncio.run(chat(config, chat_id=chat_id, role=role, person=person))
    except BaoxiuError as error:
        fail(config.locale, "refused", message=translate(config.locale, error.key, **error.params))
    sys.exit(code)


# -- configuration -----------------------------------------------------------------------


@main.command()
@click.argument(
    "path", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[PATH]"
)
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@pass_session
def init(session: Session, path: Path | None, force: bool) -> None:
    """Write a commented starter configuration to PATH (default: baoxiu.toml)."""
    target = path or Path(DEFAULT_INIT_PATH)
    if target.exists() and not force:
        fail(session.locale, "init_exists", code=1, path=target)
    target.write_text(starter_text(), encoding="utf-8")
    click.echo(say(session.locale, "init_written", path=target))


@main.group("config")
def config_group() -> None:
    """Check the configuration."""


@config_group.command("check")
@click.argument(
    "path", required=False, type=click.Path(dir_okay=False, path_type=Path), metavar="[PATH]"
)
@pass_session
def config_check(session: Session, path: Path | None) -> None:
    """Check a configuration file (default: --config, $BAOXIU_CONFIG, or the built-in one).

    Prints OK and a summary, or the problem and exits with status 2.
    """
    chosen = path or session.config_path
    try:
        config = check_config(chosen) if chosen is not None else load(None)
        _check_channels(config)
    except ConfigError as error:
        fail(session.locale, "config_invalid", message=error.message)
    click.echo("\n".join(summary(config)))


def _check_channels(config: Config) -> None:
    """Channel tables are validated by their adapters; refuse them here as serve would."""
    from bots.telegram.settings import TelegramSettings
    from bots.wechat.settings import WeChatSettings

    if TelegramSettings.configured(config):
        TelegramSettings.from_config(config)
    if WeChatSettings.configured(config):
        WeChatSettings.from_config(config)


def summary(config: Config) -> list[str]:
    leaves = config.all_categories()
    loc = config.locale
    return [
        say(loc, "check_ok", source=config.source),
        say(loc, "summary_service", language=config.locale, timezone=config.timezone),
        say(loc, "summary_paths", database=config.database, media=config.media_dir),
        say(loc, "summary_categories", groups=len(config.categories), leaves=len(leaves)),
        say(
            loc,
            "summary_areas",
            areas=len(config.areas),
            buildings=sum(len(a.buildings) for a in config.areas),
        ),
        say(
            loc,
            "summary_people",
            teams=len(config.teams),
            technicians=len(config.technicians),
            dispatchers=len(config.dispatchers),
        ),
        say(loc, "summary_web", host=config.web.host, port=config.web.port)
        if config.web.enabled
        else say(loc, "summary_web_off"),
    ]


# -- tickets ---------------------------------------------------------------------------------
