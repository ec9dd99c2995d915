"""``baoxiu wecom …``: the desk admin's commands for the WeCom app (status, bind, unbind).
Attached to ``bots.cli.main``; the work is in ``bots.wecom.admin``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from bots.cli.base import channel_config, store_of
from conversation.i18n import translate


@click.group("wecom")
def wecom_group() -> None:
    """The WeCom app (企业微信) for staff: its health, and who each member is."""


@wecom_group.command("status")
@click.option("--refresh", is_flag=True, help="Fetch a new access token even if one is valid.")
@click.pass_obj
def wecom_status(session: Any, refresh: bool) -> None:
    """Show the access token's health, the callback URL, the AgentId and who is bound."""
    from bots.wecom import admin

    config = _config(session)
    with store_of(config) as store:
        lines, healthy = _run(session, lambda: admin.status(config, store, refresh=refresh))
    click.echo("\n".join(lines))
    if not healthy:
        raise SystemExit(1)


@wecom_group.command("bind")
@click.argument("userid")
@click.option("--phone", help="The configured phone of the technician or dispatcher.")
@click.option("--staff", help="The technician's or dispatcher's id in the configuration.")
@click.pass_obj
def wecom_bind(session: Any, userid: str, phone: str | None, staff: str | None) -> None:
    """Bind the WeCom member USERID (their 账号) to a configured technician or dispatcher."""
    from bots.wecom import admin

    config = _config(session)
    with store_of(config) as store:

        def work() -> Any:
            person = admin.person_of(config, phone=phone, staff=staff)
            return admin.bind(config, store, userid, person, datetime.now(UTC))

        click.echo("\n".join(_run(session, work)))


@wecom_group.command("unbind")
@click.argument("userid")
@click.pass_obj
def wecom_unbind(session: Any, userid: str) -> None:
    """Unbind the WeCom member USERID: they are a reporter until bound again by hand."""
    from bots.wecom import admin

    config = _config(session)
    with store_of(config) as store:

        async def work() -> list[str]:
            return admin.unbind(config, store, userid, datetime.now(UTC))

        click.echo("\n".join(_run(session, work)))


def _config(session: Any) -> Any:
    from bots.wecom.settings import WeComSettings

    return channel_config(session, WeComSettings)


def _run(session: Any, work: Callable[[], Any]) -> Any:
    from bots.wecom.admin import Refusal
    from bots.wecom.client import WeChatError

    try:
        return asyncio.run(_awaited(work))
    except Refusal as refusal:
        _refuse(session.locale, f"wecom_cli.{refusal.key}", **refusal.params)
    except WeChatError as error:
        _refuse(session.locale, "wecom_cli.failed", reason=str(error))


async def _awaited(work: Callable[[], Any]) -> Any:
    return await work()


def _refuse(locale: str, key: str, **params: Any) -> None:
    click.echo(translate(locale, key, **params), err=True)
    raise SystemExit(1)
