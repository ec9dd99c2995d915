"""Photos people send: which bytes are an image we take (judged by the bytes, never by
the name or the declared type alone), the file extension it is kept under, and keeping
it in the media folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bots.engine import private_folder

IMAGE_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


def image_type(head: bytes) -> str | None:
    """The MIME type the first bytes prove (JPEG, PNG, GIF, WebP), else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def keep_photo(media_dir: Path, folder: str, extension: str, data: bytes) -> str:
    """Save a checked image's bytes under ``<media_dir>/<folder>/`` with a random name and
    return its ref (the path below ``media_dir``). Owner-only from the first byte, like the
    database: a reporter's photo may show their home."""
    ref = f"{folder}/{secrets.token_hex(16)}{extension}"
    path = media_dir / ref
    private_folder(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return ref
