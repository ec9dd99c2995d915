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
from config.loader import default_text, load, starter_text
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
    from bots.engine import private_folder

    config = session.config
    web = replace(config.web, host=host or config.web.host, port=port or config.web.port)
    config = replace(config, web=web)
    private_folder(config.database.parent)  # the loader may not make it; 0700 (defect 9)
    click.echo("\n".join(startup_lines(config)), err=True)
    run(config)


def startup_lines(config: Config) -> list[str]:
    """What the operator must know when the service starts: which file, which database,
    which channels are on (and which are off)."""
    loc = config.locale
    source = config.source if config.source != "<default>" else say(loc, "startup_default")
    on = [say(loc, "channel_web", url=_web_url(config))] if config.web.enabled else []
    off = [] if config.web.enabled else ["web"]
    (on if config.terminal_enabled else off).append(say(loc, "channel_terminal"))
    for name, table in sorted(config.extra_channels.items()):
        (off if table.get("enabled", True) is False else on).append(name)
    if config.sms.delivers:
        on.append(say(loc, "channel_sms", provider=config.sms.provider))
    if config.email.enabled:
        on.append(say(loc, "channel_email"))
    none = say(loc, "startup_none")
    return [
        say(loc, "startup_config", source=source),
        say(loc, "startup_database", database=config.database, media=config.media_dir),
        say(loc, "startup_channels", on=", ".join(on) or none, off=", ".join(off) or none),
    ]


def _web_url(config: Config) -> str:
    base = config.web.public_url or f"http://{config.web.host}:{config.web.port}"
    return f"{base.rstrip('/')}/chat"


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
@click.option(
    "--example",
    is_flag=True,
    help="Write the commented example of every key instead (a smaller campus).",
)
@pass_session
def init(session: Session, path: Path | None, force: bool, example: bool) -> None:
    """Write the configuration the service runs by default to PATH (default: baoxiu.toml),
    to edit for your organisation."""
    target = path or Path(DEFAULT_INIT_PATH)
    if target.exists() and not force:
        fail(session.locale, "init_exists", code=1, path=target)
    # The built-in default, so that a new file behaves exactly as the service did without
    # one; --example gives the commented tour of every key.
    target.write_text(starter_text() if example else init_text(), encoding="utf-8")
    click.echo(say(session.locale, "init_written", path=target))


def init_text() -> str:
    """The built-in default configuration under a header for the operator's own copy."""
    body = default_text()
    lines = body.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)  # the default's own header speaks of "no file given"
    return INIT_HEADER + "".join(lines)


INIT_HEADER = """\
# baoxiu 配置文件：服务在不指定配置时使用的内置配置。按你的单位修改，然后运行
# `baoxiu config check 本文件` 检查；每个键的说明见 docs/configuration.md，
# 带注释的完整示例可用 `baoxiu init --example` 生成。
# baoxiu configuration: the built-in configuration the service runs without a file.
# Edit it for your organisation, then run `baoxiu config check THIS_FILE`; every key is
# explained in docs/configuration.md, and `baoxiu init --example` writes a commented example.
"""


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
        loc = session.locale  # the shell's: the file's own language is not known yet
        config = check_config(chosen, locale=loc) if chosen is not None else load(None, locale=loc)
        from bots.channel.settings import reported_in

        with reported_in(loc):  # the channels' problems in the loader's language too
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
    from bots.wecom.settings import WeComSettings

    if WeComSettings.configured(config):
        WeComSettings.from_config(config)


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
