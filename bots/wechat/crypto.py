"""WeChat's callback envelope: signatures, AES (safe mode) and the XML inside.

``Envelope.check_url`` verifies the URL signature every callback carries
(sha1 of token, timestamp, nonce) and refuses a stale timestamp; ``open`` verifies and
decrypts a POST body into the message's fields (safe mode: ``msg_signature`` over the
``Encrypt`` element, then AES with the AppID check); ``seal`` turns a reply's XML into
what goes back (encrypted and signed in safe mode). Every refusal is ``Refused`` — the
route answers 403 and nothing changes. WeCom (``bots.wecom.crypto``) uses the same
``Aes`` and ``fields``.

The AES is wechatpy's (``PrpCrypto``), one instance per key so that its cipher is built
once (wechatpy's ``WeChatCrypto`` builds one per message), with a random string from
``secrets`` rather than wechatpy's ``random.sample``. The XML is read here (expat's
events straight into the fields: ``_Elements``) rather than by wechatpy's xmltodict, and
the reply is rendered here: together that took the envelope from about 1.0× the bench's
wechatpy echo handler's verify + decrypt + parse + reply + encrypt to about a third of
it, and wechatpy's ``TextReply`` did not split a ``]]>`` inside its CDATA.

Only the envelope: no store, no dialogue.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any
from xml.parsers import expat

from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException

from bots.wechat.settings import WeChatSettings

MAX_SKEW_SECONDS = 300
"""A callback signed longer ago (or ahead) than this is refused: a replayed body."""
MAX_BODY_BYTES = 64 * 1024


_ROOT = re.compile(r"<xml[\s/>]")


class Refused(Exception):
    """A callback that is not WeChat's, or not for this account."""


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class _Prp(PrpCrypto):
    def get_random_string(self) -> str:
        return secrets.token_hex(8)


class Aes:
    """WeChat's message encryption (official account and WeCom alike), by wechatpy:
    AES-256-CBC with the key from the 43-character EncodingAESKey and its first 16 bytes
    as IV, over 16 random bytes + the message's length (4 bytes, big-endian) + the
    message + the receiver's id (AppID or CorpID), padded to 32-byte blocks."""

    def __init__(self, encoding_aes_key: str, receiver: str) -> None:
        self._prp = _Prp(base64.b64decode(encoding_aes_key + "="))
        self._receiver = receiver

    def decrypt(self, text: str) -> bytes:
        """The message inside; ``Refused`` if it is not readable or not for us."""
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refused("undecryptable") from exc
        if not data or len(data) % 16:
            raise Refused("undecryptable")
        try:
            inner: str = self._prp.decrypt(text, self._receiver)
        except InvalidAppIdException as exc:
            raise Refused("another AppID") from exc
        except Exception as exc:  # padding, length, encoding: not WeChat's
            raise Refused("undecryptable") from exc
        return inner.encode()

    def encrypt(self, message: bytes) -> str:
        sealed: bytes = self._prp.encrypt(message, self._receiver)
        return sealed.decode()


class Envelope:
    def __init__(self, settings: WeChatSettings) -> None:
        self.settings = settings
        self.aes = (
            Aes(settings.encoding_aes_key, settings.app_id) if settings.encoding_aes_key else None
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
        outer = fields(body)
        encrypted = outer.get("Encrypt")
        if self.settings.mode == "safe" and not encrypted:
            raise Refused("plain body in safe mode")
        if encrypted and self.aes is not None:
            if not isinstance(encrypted, str):
                raise Refused("undecryptable")
            expected = sign(self.settings.token, query["timestamp"], query["nonce"], encrypted)
            if not hmac.compare_digest(expected, query.get("msg_signature", "")):
                raise Refused("bad msg_signature")
            return fields(self.aes.decrypt(encrypted))
        return outer

    def seal(self, query: Mapping[str, str], reply_xml: str) -> str:
        """What to answer: the reply encrypted in safe mode (and when WeChat encrypted)."""
        if self.aes is None or "msg_signature" not in query:
            return reply_xml
        encrypted = self.aes.encrypt(reply_xml.encode())
        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        signature = sign(self.settings.token, timestamp, nonce, encrypted)
        return (
            f"<xml>\n<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
            f"<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>"
        )


def fields(body: bytes) -> dict[str, Any]:
    """The elements under a WeChat message's ``<xml>`` root: text, or a dict of the
    elements inside (``SendLocationInfo`` …). ``Refused`` for anything else.

    No DTD can reach the parser (so no entity, and no entity expansion — a classic
    attack): the body must be UTF-8 and begin with the ``<xml>`` root, after at most an
    XML declaration; a DTD after the root's start is a syntax error.
    """
    if len(body) > MAX_BODY_BYTES:
        raise Refused("body too large")
    try:
        text = body.decode("utf-8-sig")  # a byte-order mark is no reason to refuse
    except UnicodeDecodeError as exc:
        raise Refused("not UTF-8") from exc
    start = text.lstrip()
    if start.startswith("<?xml"):
        start = start[start.find("?>") + 2 :].lstrip()
    if not _ROOT.match(start):
        raise Refused("not a WeChat message")
    try:
        found = _Elements().read(start)
    except expat.ExpatError as exc:  # bad XML, undefined entities
        raise Refused("not XML") from exc
    if not found:
        raise Refused("not a WeChat message")
    return found


class _Elements:
    """The elements under the root, read straight from expat's events: what
    ElementTree's tree would give (a leaf's text, a parent's children; comments and
    processing instructions left out), without building the tree — ``ET.fromstring``
    spent five times expat's own time setting up its parser and builder."""

    def __init__(self) -> None:
        # The open elements: [tag, its children (by tag, the last of a name wins), its
        # text pieces]. ``under_root``: the root's children when it closed.
        self.open: list[tuple[str, dict[str, Any], list[str]]] = []
        self.under_root: dict[str, Any] = {}

    def read(self, text: str) -> dict[str, Any]:
        # Namespaces on, as ElementTree's parser has them ("{uri}tag"; an unbound
        # prefix is an error).
        parser = expat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        # A str: expat reads it as UTF-8 whatever its declaration says.
        parser.Parse(text, True)
        return self.under_root

    def _start(self, tag: str, _attributes: Any) -> None:
        self.open.append(("{" + tag if "}" in tag else tag, {}, []))

    def _text(self, text: str) -> None:
        if self.open:
            self.open[-1][2].append(text)

    def _end(self, _tag: str) -> None:
        tag, children, texts = self.open.pop()
        if self.open:
            self.open[-1][1][tag] = children or "".join(texts)
        else:
            self.under_root = children
