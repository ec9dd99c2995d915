"""Replies → Bot API calls, with Telegram's own controls.

- ``Say`` → a message; ``RemoveKeyboard`` → a message that takes the reply keyboard away;
- ``Ask`` → a reply keyboard (the labels come back as typed text, which the flows accept)
  or, when ``inline``, inline buttons whose ``callback_data`` is the choice's payload;
- ``RequestContact`` / ``RequestLocation`` → a one-button reply keyboard that shares it;
- ``ShowPhotos`` → ``sendPhoto`` or ``sendMediaGroup`` (10 per album) from the media folder.

Only presentation: what to say was decided by the conversation layer. Vendor errors
propagate as ``telegram.error`` exceptions; the callers decide what they mean.
"""

from __future__ import annotations

import logging
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.ext import ExtBot

from bots.telegram.hook import Hook
from bots.telegram.http import post_json
from conversation.replies import (
    Ask,
    Choice,
    RemoveKeyboard,
    Reply,
    RequestContact,
    RequestLocation,
    ShowPhotos,
)
from notify.limits import RateLimiter

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_ALERT = 200
MAX_ALBUM = 10
MAX_CALLBACK_DATA = 64
ROW_WIDTH = 30  # display columns of button labels per keyboard row (a CJK character is 2)
ROW_BUTTONS = 3
SCALE_BUTTONS = 8  # a scale (★1…★5) stays on one row up to this many buttons
SCALE_LABEL = 6

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def rows(choices: Sequence[Choice]) -> list[list[Choice]]:
    """Lay buttons out in rows: a run of short choices that differ only in their last
    payload field (a rating scale) shares one row; the others fill rows greedily."""
    out: list[list[Choice]] = []
    current: list[Choice] = []
    i = 0
    while i < len(choices):
        run = _scale_run(choices, i)
        if len(run) >= 3:
            if current:
                out.append(current)
                current = []
            out.extend(run[k : k + SCALE_BUTTONS] for k in range(0, len(run), SCALE_BUTTONS))
            i += len(run)
            continue
        choice = choices[i]
        used = sum(width(c.label) + 2 for c in current)
        if current and (len(current) >= ROW_BUTTONS or used + width(choice.label) > ROW_WIDTH):
            out.append(current)
            current = []
        current.append(choice)
        i += 1
    if current:
        out.append(current)
    return out


@lru_cache(maxsize=512)
def _laid_out(choices: tuple[Choice, ...]) -> tuple[tuple[Choice, ...], ...]:
    """``rows`` of a question's choices, remembered: most questions (the menu, the areas,
    confirm) are asked again and again with the same buttons, and laying them out
    (display widths, character by character) cost 60–100 µs a question."""
    return tuple(tuple(row) for row in rows(choices))


def _scale_run(choices: Sequence[Choice], start: int) -> list[Choice]:
    family = choices[start].data.rpartition(":")[0]
    run: list[Choice] = []
    for choice in choices[start:]:
        head, _, last = choice.data.rpartition(":")
        if head != family or not head or not last.isdigit() or width(choice.label) > SCALE_LABEL:
            break
        run.append(choice)
    return run


def markup(reply: Reply) -> Markup | None:
    if isinstance(reply, Ask) and reply.choices:
        if reply.inline:
            return InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(c.label, callback_data=_data(c)) for c in row]
                    for row in _laid_out(reply.choices)
                ]
            )
        return ReplyKeyboardMarkup(
            [[KeyboardButton(c.label) for c in row] for row in _laid_out(reply.choices)],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if isinstance(reply, RequestContact):
        button = KeyboardButton(reply.button, request_contact=True)
        return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
    if isinstance(reply, RequestLocation):
        button = KeyboardButton(reply.button, request_location=True)
        return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
    if isinstance(reply, RemoveKeyboard):
        return ReplyKeyboardRemove()
    return None


def markup_data(reply: Reply) -> dict[str, Any] | None:
    """``markup(reply).to_dict()`` built directly: the same JSON, without PTB's objects
    (a dialogue reply sent by ``post_json`` or in a webhook's answer)."""
    if isinstance(reply, Ask) and reply.choices:
        laid = _laid_out(reply.choices)
        if reply.inline:
            inline = [[{"text": c.label, "callback_data": _data(c)} for c in row] for row in laid]
            return {"inline_keyboard": inline}
        labels = [[{"text": c.label} for c in row] for row in laid]
        return {"keyboard": labels, "resize_keyboard": True, "one_time_keyboard": True}
    if isinstance(reply, RequestContact | RequestLocation):
        share = "request_contact" if isinstance(reply, RequestContact) else "request_location"
        button: dict[str, Any] = {"text": reply.button, share: True}
        return {"keyboard": [[button]], "resize_keyboard": True, "one_time_keyboard": True}
    if isinstance(reply, RemoveKeyboard):
        return {"remove_keyboard": True}
    return None


def _data(choice: Choice) -> str:
    encoded = choice.data.encode("utf-8")
    if len(encoded) > MAX_CALLBACK_DATA:
        # Telegram refuses the whole message; a dead button is the lesser harm, and a bug.
        log.error("button payload over %d bytes cut: %r", MAX_CALLBACK_DATA, choice.data)
        return encoded[:MAX_CALLBACK_DATA].decode("utf-8", "ignore")
    return choice.data


def chunks(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text at line breaks (or hard, for one over-long line)."""
    text = text or "…"
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                out.append(current)
                current = ""
            out.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            out.append(current)
            current = line
        else:
            current = candidate
    if current or not out:
        out.append(current or "…")
    return out


def alert_text(replies: Sequence[Reply]) -> str:
    """The replies as one short text for a callback alert (at most 200 characters)."""
    texts = [r.caption if isinstance(r, ShowPhotos) else r.text for r in replies]
    joined = "\n".join(t.strip() for t in texts if t and t.strip())
    return joined if len(joined) <= MAX_ALERT else joined[: MAX_ALERT - 1] + "…"


class Keyboards:
    """The reply keyboard each chat was last shown, so that a press on it — which Telegram
    delivers as the label's text — is read as the choice it is (as the terminal reads a
    typed label). Kept in memory for the busiest chats only: after a restart a label
    arrives as text, which the flows accept too."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._shown: OrderedDict[str, dict[str, str]] = OrderedDict()

    def shown(self, chat: str, reply: Reply) -> None:
        if isinstance(reply, Ask) and not reply.inline and reply.choices:
            self._shown[chat] = {c.label.strip(): c.data for c in reply.choices}
            self._shown.move_to_end(chat)
            while len(self._shown) > self.size:
                self._shown.popitem(last=False)
        elif isinstance(reply, RequestContact | RequestLocation | RemoveKeyboard):
            self._shown.pop(chat, None)

    def choice(self, chat: str, text: str) -> str | None:
        """The payload of the keyboard button labelled ``text``, if one is shown."""
        return self._shown.get(chat, {}).get(text.strip())


class Parts:
    """Counts the Bot API calls of one send, so that a retry resumes after those that
    went out: the first ``done`` calls are skipped, and ``sent(n)`` is told after the
    ``n``-th call succeeded (a notice of photos + text whose text failed is resumed at
    its text, not sent whole again)."""

    def __init__(self, done: int = 0, sent: Callable[[int], None] | None = None) -> None:
        self.done = done
        self.count = 0
        self._sent = sent

    async def call(
        self, method: Callable[..., Awaitable[Message | Sequence[Message]]], *args: Any, **kw: Any
    ) -> list[Message]:
        self.count += 1
        if self.count <= self.done:
            return []  # went out in an earlier attempt
        result = await method(*args, **kw)
        self.done = self.count
        if self._sent is not None:
            self._sent(self.count)
        return [result] if isinstance(result, Message) else list(result)


class Outgoing:
    """Sends replies to one chat through the application's bot (rate limited)."""

    def __init__(
        self, bot: ExtBot[Any], media_dir: Path, limiter: RateLimiter | None = None
    ) -> None:
        self.bot = bot
        self.media_dir = media_dir
        self.keyboards = Keyboards()
        self.limiter = limiter

    async def send(
        self,
        chat_id: int | str,
        replies: Sequence[Reply],
        *,
        retries: int | None = None,
        lane: int | None = None,
        parts: Parts | None = None,
        hook: Hook | None = None,
        lean: bool = False,
    ) -> list[Message]:
        """Send ``replies`` in order; return every message sent. ``retries`` is how many
        times the rate limiter waits out a 429 itself (None: its default, none).

        With ``lane`` (dialogue replies: ``notify.limits.REPLY``) each message first takes
        its turn in the channel's shared limiter, ahead of queued notices, and is counted
        there so the outbox leaves room for it; notices are paced by their worker.

        With ``parts`` the calls already made by an earlier attempt are skipped.
        ``lean``: text messages are sent without reading their result (``post_json``),
        and are not returned. With ``lean`` and ``hook`` the last message, when it is a
        text, goes out in the webhook's answer (``bots.telegram.hook``): the calls before
        it have been answered by then, so Telegram performs it after them."""
        parts = parts or Parts()
        sent: list[Message] = []
        if lane is not None and self.limiter is not None:
            for _ in replies:
                await self.limiter.acquire(
                    str(chat_id), lane=lane, group=str(chat_id).startswith("-")
                )
        for i, reply in enumerate(replies):
            if isinstance(reply, ShowPhotos):
                sent.extend(await self._photos(chat_id, reply, retries, parts))
                continue
            texts = chunks(reply.text)
            self.keyboards.shown(str(chat_id), reply)
            for k, text in enumerate(texts):
                last = k == len(texts) - 1
                if lean:
                    params = _message(chat_id, text, markup_data(reply) if last else None)
                    final = last and i == len(replies) - 1 and parts.count >= parts.done
                    if final and hook is not None and hook.take("sendMessage", params):
                        parts.count = parts.done = parts.count + 1
                        continue
                    await parts.call(self._post, params, retries)
                    continue
                keys = markup(reply) if last else None
                sent.extend(
                    await parts.call(
                        self.bot.send_message,
                        chat_id,
                        text,
                        reply_markup=keys,
                        rate_limit_args=retries,
                    )
                )
        return sent

    async def _post(self, params: dict[str, Any], retries: int | None) -> list[Message]:
        await post_json(self.bot, "sendMessage", params, retries)
        return []

    async def _photos(
        self, chat_id: int | str, reply: ShowPhotos, retries: int | None, parts: Parts
    ) -> list[Message]:
        paths = [p for p in (self.media_path(ref) for ref in reply.refs) if p is not None]
        caption = reply.caption
        long_caption = len(caption) > MAX_CAPTION
        sent: list[Message] = []
        if not paths:
            if caption:
                sent.extend(
                    await parts.call(
                        self.bot.send_message, chat_id, caption, rate_limit_args=retries
                    )
                )
            return sent
        first_caption = None if long_caption else caption or None
        if len(paths) == 1:
            sent.extend(
                await parts.call(
                    self.bot.send_photo,
                    chat_id,
                    paths[0],
                    caption=first_caption,
                    rate_limit_args=retries,
                )
            )
        else:
            for k in range(0, len(paths), MAX_ALBUM):
                media = [
                    InputMediaPhoto(path, caption=first_caption if k == 0 and j == 0 else None)
                    for j, path in enumerate(paths[k : k + MAX_ALBUM])
                ]
                if len(media) == 1:
                    one = paths[k]
                    sent.extend(
                        await parts.call(self.bot.send_photo, chat_id, one, rate_limit_args=retries)
                    )
                else:
                    sent.extend(
                        await parts.call(
                            self.bot.send_media_group, chat_id, media, rate_limit_args=retries
                        )
                    )
        if long_caption:
            for text in chunks(caption):
                sent.extend(
                    await parts.call(self.bot.send_message, chat_id, text, rate_limit_args=retries)
                )
        return sent

    def media_path(self, ref: str) -> Path | None:
        """The file of a media ref, if it exists inside the media folder."""
        root = self.media_dir.resolve()
        path = (root / ref).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            log.warning("photo %r not found under %s: not shown", ref, root)
            return None
        return path


def _message(chat_id: int | str, text: str, keys: dict[str, Any] | None) -> dict[str, Any]:
    """sendMessage's parameters as plain JSON-able values."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": text}
    if keys is not None:
        params["reply_markup"] = keys
    return params
