"""WeChat's callback envelope: signatures, AES (safe mode) and the XML inside.

``Envelope.check_url`` verifies the URL signature every callback carries
(sha1 of token, timestamp, nonce) and refuses a stale timestamp; ``open`` verifies and
decrypts a POST body into the message's fields (safe mode: ``msg_signature`` over the
``Encrypt`` element, then AES with the AppID check); ``seal`` turns a reply's XML into
what goes back (encrypted and signed in safe mode). wechatpy does the AES and the XML.
Every refusal is ``Refused`` — the route answers 403 and nothing changes.

Only the envelope: no store, no dialogue.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from bots.wechat.settings import WeChatSettings

MAX_SKEW_SECONDS = 300
"""A callback signed longer ago (or ahead) than this is refused: a replayed body."""
MAX_BODY_BYTES = 64 * 1024


class Refused(Exception):
    """A callback that is not WeChat's, or not for this account."""


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class Envelope:
    def __init__(self, settings: WeChatSettings) -> None:
        self.settings = settings
        self.crypto = (
            WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)
            if settings.encoding_aes_key
            else None
        )

    def check_url(self, query: Mapping[str, str], now: float | None = None) -> None:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        expected = sign(self.settings.token, timestamp, nonce)
        if not hmac.compare_digest(expected, query.get("signature", "")):
            raise Refused("bad signature")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise Refused("bad timestamp")
        if abs((now or time.time()) - int(timestamp)) > MAX_SKEW_SECONDS:
            raise Refused("stale timestamp")

    def open(self, query: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """The message's fields (``MsgType``, ``FromUserName``, …) as text."""
        self.check_url(query)
        outer = _xml(body)
        encrypted = outer.get("Encrypt")
        if self.settings.mode == "safe" and not encrypted:
            raise Refused("plain body in safe mode")
        if encrypted and self.crypto is not None:
            expected = sign(self.settings.token, query["timestamp"], query["nonce"], encrypted)
            if not hmac.compare_digest(expected, query.get("msg_signature", "")):
                raise Refused("bad msg_signature")
            try:
                inner = PrpCrypto(self.crypto.key).decrypt(encrypted, self.settings.app_id)
            except (InvalidAppIdException, InvalidSignatureException) as exc:
                raise Refused("another AppID") from exc
            except Exception as exc:  # bad base64, padding, length: not WeChat's
                raise Refused("undecryptable") from exc
            return _xml(inner if isinstance(inner, bytes) else str(inner).encode())
        return outer

    def seal(self, query: Mapping[str, str], reply_xml: str) -> str:
        """What to answer: the reply encrypted in safe mode (and when WeChat encrypted)."""
        if self.crypto is None or "msg_signature" not in query:
            return reply_xml
        encrypted: str = self.crypto.encrypt_message(reply_xml, secrets.token_hex(8))
        return encrypted


def _xml(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise Refused("body too large")
    try:
        # No entities, no DTDs: WeChat sends neither, and expansion is a classic attack.
        parsed = xmltodict.parse(body, disable_entities=True)
    except Exception as exc:  # expat errors, bad encodings, entity declarations
        raise Refused("not XML") from exc
    root = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(root, dict):
        raise Refused("not a WeChat message")
    return {
        str(k): v if isinstance(v, str | dict) else "" if v is None else str(v)
        for k, v in root.items()
    }
