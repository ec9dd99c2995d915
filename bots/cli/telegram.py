"""``baoxiu telegram …``: operator commands for the Telegram channel.

Attached to ``bots.cli.main``; it takes the CLI's session object through click's
context rather than importing ``bots.cli``, so the two modules do not import each other.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from bots.cli.base import DeskGroup
from conversation.i18n import translate
from tickets.errors import ConfigError, DeliveryError


@click.group("telegram", cls=DeskGroup)
def telegram_group() -> None:
    """The Telegram bot: its webhook and identity."""


@telegram_group.command("status")
@click.pass_obj
def telegram_status_command(session: Any) -> None:
    """Show the bot (getMe) and its webhook (getWebhookInfo: pending updates, last error).

    Exits with status 1 when [channels.telegram] is missing or wrong, the token is
    refused, or the Bot API cannot be reached.
    """
    from bots.telegram import telegram_status

    config = session.config
    try:
        click.echo(telegram_status(config))
    except ConfigError as error:
        _fail(session.locale, "cli.config_invalid", message=error.message)
    except DeliveryError as error:
        _fail(session.locale, "cli.telegram_unreachable", reason=error.reason)


def _fail(locale: str, key: str, **params: Any) -> None:
    click.echo(translate(locale, key, **params), err=True)
    sys.exit(1)
