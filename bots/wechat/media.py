"""A picture a follower or a member sent, fetched by its MediaId: what the official
account and the WeCom app share (their clients are both ``bots.wechat.client.ApiClient``).

Downloaded through the API with the size cap, proven an image by its bytes and kept
in the media folder under the channel's name — or why not, as ``<channel>.too_large``
or ``<channel>.download_failed`` (``bots.channel.inbound.NotTaken``). The caps on how
many and when are each adapter's.

Only the download and the file: no dialogue, no store.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bots.channel.inbound import NotTaken
from bots.channel.media import IMAGE_EXTENSIONS, image_type, keep_photo
from bots.wechat.client import ApiClient, WeChatError
from conversation.events import Photo

log = logging.getLogger(__name__)


async def fetch_photo(
    client: ApiClient, media_id: str, max_file_mb: int, media_dir: Path, channel: str
) -> Photo | NotTaken:
    """The picture ``media_id`` kept under ``<media_dir>/<channel>/``, or why not."""
    try:
        data, _kind = await client.media(media_id, max_file_mb * 1024 * 1024)
    except WeChatError as error:
        if error.code == 0:
            return NotTaken(f"{channel}.too_large", {"limit": max_file_mb})
        log.warning("%s image %s not downloaded: %s", channel, media_id, error)
        return NotTaken(f"{channel}.download_failed")
    proven = image_type(data[:16])
    if proven is None:
        return NotTaken(f"{channel}.download_failed")
    return Photo(keep_photo(media_dir, channel, IMAGE_EXTENSIONS[proven], data), "")
