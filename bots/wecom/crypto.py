"""WeCom's callback envelope: the encrypted URL handshake and the encrypted messages.

WeCom signs everything with ``msg_signature`` (sha1 of token, timestamp, nonce and the
ciphertext) and always encrypts (AES, the CorpID inside). ``check_url`` verifies the
GET handshake and returns the decrypted ``echostr`` to echo; ``open`` verifies and
decrypts a POST body into the message's fields. A stale timestamp (a replayed body), a
bad signature, another corporation's message or another app's: ``Refused`` (the route
answers 403, nothing changes). The signature, the stale check and the safe XML parsing
are the official account's (``bots.wechat.crypto``), and so is the AES (WeCom's is the
same, with the CorpID where the official account has its AppID).

Only the envelope: no store, no dialogue.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any

from bots.wechat.crypto import MAX_SKEW_SECONDS, Aes, Refused, sign
from bots.wechat.crypto import fields as xml_fields
from bots.wecom.settings import WeComSettings

__all__ = ["Refused", "WeComEnvelope"]


class WeComEnvelope:
    def __init__(self, settings: WeComSettings) -> None:
        self.settings = settings
        self.aes = Aes(settings.encoding_aes_key, settings.corp_id)

    def _signed(self, query: Mapping[str, str], cipher: str, now: float | None) -> None:
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        expected = sign(self.settings.token, timestamp, nonce, cipher)
        if not hmac.compare_digest(expected, query.get("msg_signature", "")):
            raise Refused("bad msg_signature")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise Refused("bad timestamp")
        if abs((now or time.time()) - int(timestamp)) > MAX_SKEW_SECONDS:
            raise Refused("stale timestamp")

    def _decrypt(self, cipher: str) -> bytes:
        return self.aes.decrypt(cipher)  # Refused: another CorpID, bad base64, padding

    def check_url(self, query: Mapping[str, str], now: float | None = None) -> str:
        """The handshake's ``echostr``, decrypted: what to answer."""
        echo = query.get("echostr", "")
        self._signed(query, echo, now)
        try:
            return self._decrypt(echo).decode()
        except UnicodeDecodeError as exc:
            raise Refused("undecryptable") from exc

    def open(
        self, query: Mapping[str, str], body: bytes, now: float | None = None
    ) -> dict[str, Any]:
        """The message's fields (``MsgType``, ``FromUserName``, ``Event``…) as text."""
        outer = xml_fields(body)
        cipher = outer.get("Encrypt")
        if not isinstance(cipher, str) or not cipher:
            raise Refused("not encrypted")
        self._signed(query, cipher, now)
        inner = xml_fields(self._decrypt(cipher))
        agent = str(inner.get("AgentID") or "")
        if agent and agent != str(self.settings.agent_id):
            raise Refused("another app")
        return inner
