"""A generic HTTP SMS gateway (an operator's in-house one): ``POST url`` with fields from
a template, as JSON or as a form.

``[sms.http] fields`` maps each field to a template with ``{phone}`` (E.164), ``{text}``
(signature and body), ``{body}``, ``{sign}``, ``{kind}``, ``{number}`` and ``{key}``
(the notice's idempotency key); ``headers`` are sent as written (a token, say). Every
request carries ``Idempotency-Key: <key>``, so a gateway that honours it shows a notice
resent after a crash once. The message id is read from the JSON answer's ``id_field``
(a dotted path, e.g. ``data.msgid``).

2xx is sent; 429 is retried after ``Retry-After`` (or the body's ``retry_after``); 408,
425 and 5xx are retried; any other status is not (the request itself is wrong).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from config.notify_config import SmsSettings
from notify.sms import SmsMessage
from tickets.errors import DeliveryError

RETRY_STATUSES = frozenset({408, 425, 429})


def fields_for(settings: SmsSettings, message: SmsMessage) -> dict[str, str]:
    values = {
        "phone": message.phone,
        "text": message.text,
        "body": message.body,
        "sign": settings.sign_name,
        "kind": message.kind,
        "number": message.params.get("number", ""),
        "key": message.key,
    }
    fields: dict[str, str] = dict(settings.options.get("fields") or {})
    try:
        return {name: template.format_map(values) for name, template in fields.items()}
    except (KeyError, ValueError) as exc:
        raise DeliveryError(f"[sms.http] fields: bad template ({exc})", retry=False) from exc


def dig(body: Any, path: str) -> str:
    for part in path.split("."):
        if not isinstance(body, dict) or part not in body:
            return ""
        body = body[part]
    return "" if body is None else str(body)


def retry_after(headers: Any, body: Any) -> float | None:
    raw = headers.get("Retry-After") or (
        body.get("retry_after") if isinstance(body, dict) else None
    )
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except (TypeError, ValueError):
        return None  # an HTTP date: the backoff decides


class HttpProvider:
    name = "http"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout)
            )
        return self._session

    async def send(self, message: SmsMessage) -> str:
        options = self.settings.options
        fields = fields_for(self.settings, message)
        headers = {**dict(options.get("headers") or {}), "Idempotency-Key": message.key}
        body: dict[str, Any] = {"json": fields} if options["format"] == "json" else {"data": fields}
        try:
            async with self.session().post(
                str(options["url"]), headers=headers, **body
            ) as response:
                text = await response.text()
                status, answer_headers = response.status, response.headers
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"sms gateway unreachable: {exc!r}", retry=True) from exc
        try:
            answer: Any = json.loads(text) if text else {}
        except ValueError:
            answer = {}
        if 200 <= status < 300:
            return dig(answer, str(options.get("id_field") or "id"))
        reason = f"sms gateway {status}: {text[:200]}"
        if status == 429:
            raise DeliveryError(reason, retry=True, retry_after=retry_after(answer_headers, answer))
        raise DeliveryError(reason, retry=status in RETRY_STATUSES or status >= 500)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
