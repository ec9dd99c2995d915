"""``baoxiu telegram …``: operator commands for the Telegram channel."""

from __future__ import annotations

import click

from bots.cli import Session, fail, pass_session
from tickets.errors import ConfigError, DeliveryError


@click.group("telegram")
def telegram_group() -> None:
    """The Telegram bot: its webhook and identity."""


@telegram_group.command("status")
@pass_session
def telegram_status_command(session: Session) -> None:
    """Show the bot (getMe) and its webhook (getWebhookInfo: pending updates, last error).

    Exits with status 1 when [channels.telegram] is missing or wrong, the token is
    refused, or the Bot API cannot be reached.
    """
    from bots.telegram import telegram_status

    config = session.config
    try:
        click.echo(telegram_status(config))
    except ConfigError as error:
        fail(session.locale, "config_invalid", code=1, message=error.message)
    except DeliveryError as error:
        fail(session.locale, "telegram_unreachable", code=1, reason=error.reason)
