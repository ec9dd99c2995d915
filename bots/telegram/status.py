"""``baoxiu telegram status``: what Telegram knows about the bot (getMe, getWebhookInfo).

Read-only: it changes nothing at Telegram (``baoxiu serve`` sets or removes the webhook).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bots.telegram.settings import TelegramSettings
from conversation.i18n import translate
from tickets.errors import ConfigError, DeliveryError

TIMEOUT = 10.0


async def status_lines(settings: TelegramSettings, locale: str, timezone: str = "UTC") -> list[str]:
    def t(key: str, **params: object) -> str:
        return translate(locale, f"telegram.{key}", **params)

    bot = Bot(
        settings.token,
        base_url=settings.api_base_url,
        base_file_url=settings.file_base_url,
        local_mode=settings.local_mode,
    )
    try:
        async with bot:  # initialize() is getMe; leaving closes the HTTP connections
            me = bot.bot
            info = await bot.get_webhook_info(read_timeout=TIMEOUT, connect_timeout=TIMEOUT)
    except InvalidToken as exc:
        raise ConfigError(t("status_token_refused")) from exc
    except TelegramError as exc:
        raise DeliveryError(
            t("status_unreachable", url=settings.api_base_url, error=exc.message), retry=True
        ) from exc

    lines = [
        t("status_bot", username=me.username, name=me.first_name, id=me.id),
        t("status_mode", mode=settings.mode),
        t("status_api", url=settings.api_base_url),
    ]
    if info.url:
        lines.append(t("status_webhook", url=info.url))
        if settings.webhook and info.url != settings.webhook_url:
            lines.append(t("status_webhook_mismatch", url=settings.webhook_url))
        if not settings.webhook:
            lines.append(t("status_webhook_unexpected"))
    else:
        lines.append(t("status_no_webhook"))
        if settings.webhook:
            lines.append(t("status_webhook_mismatch", url=settings.webhook_url))
    lines.append(t("status_pending", count=info.pending_update_count))
    if info.last_error_date and info.last_error_message:
        at = _local(info.last_error_date, timezone)
        lines.append(t("status_last_error", at=at, message=info.last_error_message))
    else:
        lines.append(t("status_no_error"))
    kinds = ", ".join(info.allowed_updates or settings.allowed_updates)
    lines.append(t("status_allowed", kinds=kinds))
    return lines


def _local(moment: datetime | int | timedelta, timezone: str) -> str:
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")
    return str(moment)
