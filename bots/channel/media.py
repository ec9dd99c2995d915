"""Photos people send: which bytes are an image we take (judged by the bytes, never by
the name or the declared type alone) and the file extension it is kept under."""

from __future__ import annotations

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
