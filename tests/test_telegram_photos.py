"""Telegram photos follow the web chat's rules (issue 10, defect 7): a photo sent when
no step of the dialogue wants one is refused in the person's language before anything
is downloaded, and one chat may send at most ``PHOTOS_PER_HOUR`` photos an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from test_telegram import ALICE, PHOTO, Rig, en, rig

from bots.telegram.channel import PHOTOS_PER_HOUR

__all__ = ["rig"]


def stored(rig: Rig) -> list[str]:
    folder = rig.config.media_dir / "telegram"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


async def to_the_description(rig: Rig) -> None:
    fake = rig.fake
    await rig.send(fake.text(ALICE, "/start"))
    await rig.send(fake.text(ALICE, en("common.menu_report")))
    await rig.send(fake.text(ALICE, "Water"))
    await rig.send(fake.location(ALICE, 31.23, 121.47))
    await rig.send(fake.text(ALICE, "Room 302"))
    await rig.send(fake.contact(ALICE, "8613812340000"))


async def test_a_photo_no_step_wants_is_refused_and_not_downloaded(rig: Rig) -> None:
    fake = rig.fake
    await rig.send(fake.text(ALICE, "/start"))  # idle, at the menu
    calls = await rig.send(fake.photo(ALICE, PHOTO))
    assert [c.text for c in calls if c.method == "sendMessage"] == [en("telegram.photo.not_now")]
    assert not fake.of("getFile") and stored(rig) == []
    assert rig.channel.tables.photos_since(str(ALICE["id"]), datetime(2000, 1, 1, tzinfo=UTC)) == 0

    await rig.send(fake.text(ALICE, en("common.menu_report")))
    calls = await rig.send(fake.photo(ALICE, PHOTO))  # asked for the category, not a photo
    assert en("telegram.photo.not_now") in [c.text for c in calls]
    assert not fake.of("getFile") and stored(rig) == []


async def test_the_hourly_cap_refuses_before_downloading(rig: Rig) -> None:
    fake, tables, chat = rig.fake, rig.channel.tables, str(ALICE["id"])
    await to_the_description(rig)
    now = datetime.now(UTC)
    for k in range(PHOTOS_PER_HOUR):
        tables.took_photo(chat, now - timedelta(minutes=50) + timedelta(seconds=k))
    calls = await rig.send(fake.photo(ALICE, PHOTO))  # the step wants one, but not a 21st
    assert en("telegram.photo.quota", limit=PHOTOS_PER_HOUR) in [c.text for c in calls]
    assert not fake.of("getFile") and stored(rig) == []

    # An hour later the oldest are out of the window: the photo is taken and counted.
    rig.channel.clock = lambda: now + timedelta(minutes=11)
    calls = await rig.send(fake.photo(ALICE, PHOTO, caption="the pipe under the sink"))
    assert fake.of("getFile") and len(stored(rig)) == 1
    assert en("telegram.photo.quota", limit=PHOTOS_PER_HOUR) not in [c.text for c in calls]
    assert tables.photos_since(chat, now) == 1
