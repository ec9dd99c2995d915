"""What ``baoxiu wechat menu|qrcode|status`` does: push the menu, make a building's
permanent QR code (and its PNG, drawn here with ``qrcode`` + ``pypng``), show the
token's health and the callback URL.

Each takes an open store (the token is shared with the running service through it) and
returns lines of text in the service's language; ``WeChatError`` when WeChat refuses.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from bots.wechat.client import WeChatClient
from bots.wechat.settings import WeChatSettings
from bots.wechat.store import WeChatTables
from config.model import Config
from conversation.i18n import translate
from tickets.store import Store

SHOW_QRCODE = "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket="
_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
PNG_BOX = 10  # pixels a module
PNG_BORDER = 4  # modules of quiet zone, as the QR standard asks


def menu_body(settings: WeChatSettings) -> dict[str, object]:
    buttons = [{"type": "click", "name": name, "key": key} for name, key in settings.menu]
    return {"button": buttons}


def scene_of(area: str, building: str = "") -> str | None:
    """The scene string of a building's QR code (``east__b1``); None for a bad code."""
    if not _CODE.fullmatch(area) or (building and not _CODE.fullmatch(building)):
        return None
    return f"{area}__{building}" if building else area


async def push_menu(config: Config, store: Store) -> str:
    settings = WeChatSettings.from_config(config)
    client = WeChatClient(settings, WeChatTables(store))
    try:
        await client.create_menu(menu_body(settings))
    finally:
        await client.close()
    return translate(config.locale, "wechat.cli_menu_done", count=len(settings.menu))


async def make_qrcode(config: Config, store: Store, scene: str) -> tuple[str, str]:
    """(the URL the QR code encodes, the address of its image at WeChat)."""
    settings = WeChatSettings.from_config(config)
    client = WeChatClient(settings, WeChatTables(store))
    try:
        answer = await client.create_qrcode(scene)
    finally:
        await client.close()
    return str(answer.get("url", "")), SHOW_QRCODE + quote(str(answer.get("ticket", "")))


def write_png(url: str, path: Path) -> None:
    """The QR code of ``url`` as a PNG for a building's notice board: 10 pixels a module
    and the standard 4-module quiet zone, so a phone reads it from a print-out."""
    import qrcode  # only this command needs it
    from qrcode.image.pure import PyPNGImage

    code = qrcode.QRCode(box_size=PNG_BOX, border=PNG_BORDER, image_factory=PyPNGImage)
    code.add_data(url)
    code.make(fit=True)
    with path.open("wb") as out:
        code.make_image().save(out)


async def status(config: Config, store: Store) -> list[str]:
    settings = WeChatSettings.from_config(config)
    client = WeChatClient(settings, WeChatTables(store))
    try:
        await client.token()
    finally:
        await client.close()
    stored = WeChatTables(store).token(settings.app_id)
    until = datetime.fromtimestamp(stored[1] if stored else time.time(), UTC)
    base = (config.web.public_url or f"http://{config.web.host}:{config.web.port}").rstrip("/")
    loc = config.locale
    return [
        translate(
            loc,
            "wechat.cli_status_token",
            until=until.isoformat(timespec="seconds"),
            app_id=settings.app_id,
        ),
        translate(loc, "wechat.cli_status_callback", url=f"{base}/wechat", mode=settings.mode),
    ]
