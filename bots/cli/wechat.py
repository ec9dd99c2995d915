"""``baoxiu wechat …``: operator commands for the official account (menu, QR codes,
status). Attached to ``bots.cli.main``; the work is in ``bots.wechat.admin``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from bots.cli.base import channel_config, store_of
from conversation.i18n import translate


@click.group("wechat")
def wechat_group() -> None:
    """The WeChat official account (服务号): its menu, building QR codes, token health."""


@wechat_group.command("menu")
@click.pass_obj
def wechat_menu(session: Any) -> None:
    """Push the configured menu (报修 / 我的工单 / 进度查询) to the official account."""
    from bots.wechat import admin

    config = _config(session)
    with store_of(config) as store:
        click.echo(_run(session, admin.push_menu(config, store)))


@wechat_group.command("qrcode")
@click.option("--area", required=True, help="The area's code from the configuration.")
@click.option("--building", default="", help="The building's code (optional).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the URL here.")
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the QR code's image here (default: qrcode-<scene>.png).",
)
@click.pass_obj
def wechat_qrcode(
    session: Any, area: str, building: str, out: Path | None, png: Path | None
) -> None:
    """Create a permanent QR code that opens a report pre-filled with area and building."""
    from bots.wechat import admin

    config = _config(session)
    scene = admin.scene_of(area, building)
    if scene is None:
        _refuse(session.locale, "wechat.cli_bad_scene", scene=f"{area} {building}".strip())
        return
    with store_of(config) as store:
        url, image = _run(session, admin.make_qrcode(config, store, scene))
    click.echo(
        translate(config.locale, "wechat.cli_qrcode_done", scene=scene, url=url, image=image)
    )
    if out is not None:
        out.write_text(f"{url}\n{image}\n", encoding="utf-8")
        click.echo(translate(config.locale, "wechat.cli_qrcode_written", path=out))
    png = png or Path(f"qrcode-{scene}.png")
    try:
        admin.write_png(url, png)
    except OSError as error:
        _refuse(session.locale, "wechat.qrcode.png_failed", path=png, error=error.strerror or error)
        return
    click.echo(translate(config.locale, "wechat.qrcode.png_written", path=png))


@wechat_group.command("status")
@click.pass_obj
def wechat_status(session: Any) -> None:
    """Show the access token's health and the callback URL to enter at WeChat."""
    from bots.wechat import admin

    config = _config(session)
    with store_of(config) as store:
        click.echo("\n".join(_run(session, admin.status(config, store))))


def _config(session: Any) -> Any:
    from bots.wechat.settings import WeChatSettings

    return channel_config(session, WeChatSettings)


def _run(session: Any, work: Any) -> Any:
    from bots.wechat.client import WeChatError

    try:
        return asyncio.run(work)
    except WeChatError as error:
        _refuse(session.locale, "wechat.cli_failed", reason=str(error))


def _refuse(locale: str, key: str, **params: Any) -> None:
    click.echo(translate(locale, key, **params), err=True)
    raise SystemExit(1)
