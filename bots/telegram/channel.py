"""The Telegram channel at work: updates in, conversation events through the engine,
replies out with Telegram's controls, notices out through the ``telegram`` outbox.

A polled update goes through ``accept``: its id is recorded in the store with a copy in
``telegram_inbox`` (one transaction), so a redelivery does nothing and an update taken
is handled even after a crash. A webhook update is handled while Telegram waits
(``bots.telegram.webhook``), its id recorded in the handling's own transaction, and the
webhook's answer may carry one call (a toast, a lone reply). Handling runs per chat in
arrival order (one FIFO lock per chat). Each update is read as an ``Incoming``
(``bots.telegram.incoming``: the common kinds straight from the JSON, the rest by PTB);
a message becomes a conversation event (there, or by ``bots.telegram.inbound`` for
photos), ``Engine.handle`` runs it in the transaction that records the update (or drops
its inbox copy), and the replies are sent (``bots.telegram.render``). An album
(``media_group_id``) is collected for ``album_seconds`` and handled as one message. A
button pressed in a team group acts as the presser's private chat (where a technician
bound by sharing their contact); its answer is a short callback toast, or an alert when
the ticket did not change (a refusal such as "already taken"); the job's offers are then
edited to "claimed by NAME". Someone not bound who presses a job button there is sent to
the private chat to bind (``bots.telegram.staff``). A job action edits the technician's
one card of the job (``bots.telegram.cards``); replies go out through
``bots.telegram.replies``.

There is no dialogue logic here: what to ask, who may claim, what to answer is decided by
``conversation`` and ``tickets``; this module only translates and orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

# PTB 22 warns on every read of a time attribute (RetryAfter.retry_after among them) unless
# the future timedelta behaviour is chosen; choose it, our code reads both forms.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    ContextTypes,
    TypeHandler,
)

from bots.engine import Engine
from bots.telegram.album import Album, Albums, ChatLocks
from bots.telegram.cards import Card, Cards, find_card, toast
from bots.telegram.hook import Hook
from bots.telegram.http import CONCURRENCY, build_application
from bots.telegram.inbound import Inbound, NotTaken
from bots.telegram.incoming import PRIVATE, Incoming, Pressed, Said, message_of
from bots.telegram.notify import Offers, TelegramSender
from bots.telegram.render import Outgoing, alert_text
from bots.telegram.replies import DialogueReplies
from bots.telegram.settings import TelegramSettings
from bots.telegram.staff import (
    BIND_BUTTON,
    BIND_START,
    bind_prompt,
    deep_link,
    is_bind_request,
    staff_role,
    with_bind_entry,
)
from bots.telegram.store import CHANNEL, TelegramTables
from bots.telegram.webhook import answer_press as _answer
from bots.telegram.webhook import receive
from config.model import Config
from conversation.events import Button, Command, Contact, InEvent, Photo, Text
from conversation.i18n import normalize, translate
from conversation.replies import Reply, Say
from conversation.state import DialogueState
from notify.delivery import DeliveryWorker
from notify.limits import limiter_for
from tickets.errors import ConfigError
from tickets.store import ChatRecord, Store

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0  # at shutdown, how long accepted updates may take to finish
PHOTOS_PER_HOUR = 20
"""Photos one chat may send in an hour: the web chat's cap (a report takes at most 4, a
completion 4)."""


class TelegramChannel:
    retry_seconds = 2.0  # first wait before connecting again to an unreachable Bot API

    def __init__(
        self,
        config: Config,
        settings: TelegramSettings,
        store: Store,
        engine: Engine,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.store = store
        self.engine = engine
        self.clock = clock or (lambda: datetime.now(UTC))
        self.application = build_application(settings)
        self.bot = self.application.bot
        self.tables = TelegramTables(store)
        self.out = Outgoing(self.bot, config.media_dir, limiter_for(config, CHANNEL))
        self.inbound = Inbound(self.bot, config.media_dir, settings.max_file_mb)
        self.offers = Offers(self.bot, store, self.tables, config)
        self.sender = TelegramSender(self.out, self.tables, self.offers)
        self.cards = Cards(self.bot, self.out, self.tables)
        self.worker = DeliveryWorker(store, config, CHANNEL, self.sender)
        self.replies = DialogueReplies(
            store, engine, self.out, self.cards, self.worker.wake, lambda: self.clock()
        )
        self._locks = ChatLocks()
        self._albums: Albums[Incoming] = Albums(settings.album_seconds)
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()
        self._dropped: set[int] = set()  # inbox copies already dropped with their handling
        self._hooks: dict[int, Hook] = {}  # webhook requests waiting for their update
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()  # the bot is initialized: updates may be handled
        self._worker_task: asyncio.Task[None] | None = None
        self._boot_task: asyncio.Task[None] | None = None
        self.application.add_handler(TypeHandler(Update, self._on_polled))

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        """Connect to Telegram. A refused token is a configuration error; an unreachable
        Bot API server is retried in the background, so the rest of the service runs and
        webhook updates are accepted (and kept) meanwhile."""
        for body in self.tables.pending():  # accepted before a crash, never handled
            self._spawn(Incoming.read(body, self.bot))
        try:
            await self._connect()
        except InvalidToken as exc:
            raise ConfigError(
                "channels.telegram.token: refused by Telegram (401) — copy the token again "
                "from @BotFather"
            ) from exc
        except TelegramError as exc:
            log.error(
                "Telegram unreachable at %s (%s); retrying in the background",
                self.settings.api_base_url,
                exc,
            )
            self._boot_task = asyncio.create_task(self._keep_connecting(), name="telegram-boot")

    async def _keep_connecting(self) -> None:
        delay = self.retry_seconds
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set():
                return
            try:
                await self._connect()
                return
            except TelegramError as exc:  # a revoked token included: keep the desk running
                delay = min(delay * 2, 60.0)
                log.warning("Telegram still unreachable (%s); next try in %.0fs", exc, delay)

    async def _connect(self) -> None:
        await self.application.initialize()  # getMe
        await self.application.start()
        allowed = list(self.settings.allowed_updates)
        if self.settings.webhook:
            await self.bot.set_webhook(
                self.settings.webhook_url,
                secret_token=self.settings.secret_token,
                allowed_updates=allowed,
                drop_pending_updates=self.settings.drop_pending_updates,
            )
        else:
            updater = self.application.updater
            assert updater is not None  # built with one in polling mode
            await updater.start_polling(
                allowed_updates=allowed,
                drop_pending_updates=self.settings.drop_pending_updates,
            )
        self._worker_task = asyncio.create_task(
            self.worker.run(self._stop), name="baoxiu-telegram-delivery"
        )
        self._ready.set()
        log.info("Telegram bot @%s started (%s mode)", self.bot.username, self.settings.mode)

    async def stop(self) -> None:
        self._stop.set()
        if self._boot_task is not None:
            await self._boot_task
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        # The webhook stays set: Telegram keeps what arrives meanwhile and redelivers it.
        if self._tasks:
            late = set(self._tasks)
            if self._ready.is_set():  # a bot that never connected cannot finish them
                _, late = await asyncio.wait(late, timeout=DRAIN_SECONDS)
            for task in late:  # their inbox copies are handled after the restart
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._worker_task is not None:
            await self._worker_task
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def idle(self) -> None:
        """Wait until every accepted update is handled (tests, benchmarks)."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    # -- accepting updates ------------------------------------------------------------
    async def _on_polled(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if isinstance(update, Update):
            self.accept(Incoming.from_update(update, update.to_dict(), self.bot))

    def accept(self, update: Incoming) -> bool:
        """Record and schedule an update; False for a redelivery (nothing is done)."""
        if not self.tables.accept(update.update_id, update.body):
            log.info("Telegram update %s delivered again: ignored", update.update_id)
            return False
        self._spawn(update)
        return True

    def _spawn(self, update: Incoming) -> None:
        task = asyncio.create_task(self._run(update), name=f"telegram-{update.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, update: Incoming) -> None:
        # No await before the chat lock is queued for: tasks start in arrival order and
        # the lock is FIFO, so a chat's updates are handled in the order they came.
        key = update.key
        message = update.message
        album: Album[Incoming] | None = None
        if key is not None and message is not None and message.album:
            album = self._albums.join(key, message.album, update)
            if album is None:
                return  # a later photo of an album already being collected
        try:
            async with self._locks.hold(key or f"update:{update.update_id}"):
                await self._ready.wait()
                async with self._slots:
                    if album is not None:
                        await self._handle_album(await self._albums.collect(album))
                    else:
                        await self._handle(update)
        except TelegramError as exc:  # a reply could not be sent (blocked, network…)
            log.warning("Telegram update %s: reply not sent: %s", update.update_id, exc)
        except Exception:
            log.exception("Telegram update %s failed", update.update_id)
            await self._apologize(update)
        except asyncio.CancelledError:
            # Shutting down: keep the inbox copies (by counting them as dealt with here),
            # so they are handled after the restart.
            self._dropped.update(u.update_id for u in (album.updates if album else [update]))
            raise
        finally:
            ids = [u.update_id for u in (album.updates if album else [update])]
            left = [i for i in ids if i not in self._dropped]
            self._dropped.difference_update(ids)
            if left:  # not handled by the engine (ignored, refused, failed)
                with self.store.transaction():
                    hooks = self._settle(left)
                Hook.mark_recorded(hooks)
            for i in ids:
                if (hook := self._hooks.pop(i, None)) is not None:
                    hook.close()

    # -- handling ---------------------------------------------------------------------
    async def _handle(self, update: Incoming) -> None:
        if update.press is not None:
            await self._on_button(update.update_id, update.press)
        elif update.message is not None and update.message.private:
            await self._on_messages([update])
        elif update.message is None and update.update.my_chat_member is not None:
            member = update.update.my_chat_member
            if member.chat.type != PRIVATE and member.new_chat_member.status in (
                "member",
                "administrator",
            ):
                log.warning(
                    "the bot was added to %s %r: to offer jobs there, put %s in a team's "
                    "groups.telegram",
                    member.chat.type,
                    member.chat.title,
                    member.chat.id,
                )
        elif update.message is not None:
            log.info(
                "message in %s chat %s (%s) ignored: only buttons are used outside private chats",
                update.message.chat_type,
                update.message.chat_id,
                update.message.chat_title,
            )

    async def _handle_album(self, updates: Sequence[Incoming]) -> None:
        private = [u for u in updates if u.message is not None and u.message.private]
        if private:
            await self._on_messages(private)

    async def _on_messages(self, updates: Sequence[Incoming]) -> None:
        """One message, or the photos of one album, from a private chat."""
        first = updates[0].message
        assert first is not None
        chat = str(first.chat_id)
        events: list[InEvent] = []
        refusals: list[NotTaken] = []
        for update in updates:
            got = await self._event_of(chat, update)
            if isinstance(got, Text) and (data := self.out.keyboards.choice(chat, got.text)):
                got = Button(data)
            if isinstance(got, NotTaken):
                refusals.append(got)
            else:
                events.append(got)
        replies: list[Reply] = []
        if refusals:
            locale = self.engine.locale_of(CHANNEL, chat)
            replies.append(Say(translate(locale, refusals[0].key, **refusals[0].params)))
        if events:  # (the chat as it was before the step, read in the step's transaction)
            answer, record = self._engine(chat, events, [u.update_id for u in updates], first)
            replies.extend(answer)
        else:
            record = self.store.chat(CHANNEL, chat)
        job = str(_state(record).data.get("number", "")) if _flow(record) == "technician" else ""
        # The webhook's answer may carry the one reply if nothing else follows it.
        hook = self._hooks.get(updates[0].update_id)
        if len(updates) > 1 or job or self._locks.users(chat) > 1:
            hook = None
        await self.replies.send(first.chat_id, replies, hook=hook)
        ticket = self.store.ticket(job) if job else None
        if ticket is not None and ticket.holder != record.person:
            # Handed back with a typed reason: the job's card keeps no buttons.
            with contextlib.suppress(TelegramError):
                await self.cards.retire(first.chat_id, ticket.number)

    async def _event_of(self, chat: str, update: Incoming) -> InEvent | NotTaken:
        """The message as an event; a photo is refused before it is downloaded when no
        step of the chat's dialogue takes one, or when the chat sent its hourly share
        (issue 10, defect 7: the web chat's and WeChat's rules)."""
        assert update.message is not None
        if update.message.event is not None:  # a text, contact or location: read already
            return update.message.event
        message = message_of(update)
        if not self.inbound.is_photo(message):
            return await self.inbound.event_of(message)
        if not self.engine.wants_photo(CHANNEL, chat):
            return NotTaken("telegram.photo.not_now")
        now = self.clock()
        if self.tables.photos_since(chat, now - timedelta(hours=1)) >= PHOTOS_PER_HOUR:
            return NotTaken("telegram.photo.quota", {"limit": PHOTOS_PER_HOUR})
        got = await self.inbound.event_of(message)
        if isinstance(got, Photo):
            self.tables.took_photo(chat, now)
        return got

    def _engine(
        self, chat: str, events: Sequence[InEvent], update_ids: Sequence[int], message: Said
    ) -> tuple[list[Reply], ChatRecord]:
        """Run the events in one transaction that also drops the updates' inbox copies;
        the replies, and the chat as it was before them (read in that transaction, where
        the engine's own read of it is then free: tickets.chat_rows).

        An album's photos each ask again ("2 photos so far…"); a reply set is dropped when
        the next one has the same shape, so the person sees the last answer only."""
        now = self.clock()
        answers: list[list[Reply]] = []
        with self.store.transaction():
            before = self.store.chat(CHANNEL, chat)
            self._first_locale(chat, events[0], message, now)
            for event in events:
                answers.append(self._step(chat, event, now))
            hooks = self._settle(update_ids)
        Hook.mark_recorded(hooks)
        self._dropped.update(update_ids)
        kept = [a for a, b in itertools.pairwise(answers) if _shape(a) != _shape(b)]
        return [r for answer in [*kept, answers[-1]] for r in answer], before

    def _settle(self, update_ids: Sequence[int]) -> list[Hook]:
        """Inside the transaction that handled the updates: record those that came
        through a waiting webhook (recorded nowhere yet), drop the inbox copies of the
        others. Returns the hooks to mark as recorded once that transaction committed."""
        hooks: list[Hook] = []
        kept: list[int] = []
        for update_id in update_ids:
            hook = self._hooks.get(update_id)
            if hook is not None and not hook.recorded:
                self.tables.record(update_id)
                hooks.append(hook)
            else:
                kept.append(update_id)
        if kept:
            self.tables.done(*kept)
        return hooks

    def _step(self, chat: str, event: InEvent, now: datetime) -> list[Reply]:
        """One event of a private chat through the engine, with the way to bind shown
        in Telegram's terms (``bots.telegram.staff``)."""
        if is_bind_request(event) or (isinstance(event, Contact) and not event.own):
            record = self.store.chat(CHANNEL, chat)
            idle = _flow(record) is None
            unbound = staff_role(record, self.config) is None
            locale = self.engine.locale_of(CHANNEL, chat)
            if isinstance(event, Contact) and idle and unbound:
                # Only the sender's own contact binds; say so rather than show the menu.
                return bind_prompt(locale, translate(locale, "telegram.bind.not_own"))
            if is_bind_request(event) and unbound:
                if not idle:  # the contact that follows binds; it must not answer a report
                    self._run_event(chat, Command("cancel"), now)
                return bind_prompt(locale)
        if is_bind_request(event):  # already bound: the greeting of their role
            event = Command("start")
        replies = self._run_event(chat, event, now)
        if (
            event == Command("start")
            and staff_role(self.store.chat(CHANNEL, chat), self.config) is None
        ):
            replies = with_bind_entry(replies, self.engine.locale_of(CHANNEL, chat))
        return replies

    def _run_event(self, chat: str, event: InEvent, now: datetime) -> list[Reply]:
        performed: list[Any] = []
        replies = self.engine.handle(
            CHANNEL,
            chat,
            event,
            now,
            can_share_contact=True,
            can_share_location=True,
            performed=performed,
        )
        if performed:  # only a ticket action queues notices; the worker runs after commit
            self.worker.wake()
        return replies

    def _first_locale(self, chat: str, event: InEvent, message: Said, now: datetime) -> None:
        """A new chat's first /start: speak the language the Telegram app is set to."""
        code = message.language
        if not (isinstance(event, Command) and event.name == "start" and code):
            return
        if not code.lower().startswith(("en", "zh")):
            return
        record = self.store.chat(CHANNEL, chat)
        if record.locale is None and record.dialogue is None:
            self.store.save_chat(replace(record, locale=normalize(code)), now)

    async def _on_button(self, update_id: int, query: Pressed) -> None:
        in_group = query.in_group
        chat = str(query.presser) if in_group or query.chat_id is None else str(query.chat_id)
        data = query.data
        answered = False
        hook = self._hooks.get(update_id)  # a toast needs no result: the webhook carries it
        try:
            if in_group and data.startswith("t:") and self._unbound(chat):
                # Not bound (yet): a group is no place to share a phone number. The toast
                # opens the private chat at the bind step (t.me/<bot>?start=bind).
                locale = self.engine.locale_of(CHANNEL, chat)
                answered = await _answer(
                    self.bot,
                    query.id,
                    translate(locale, "telegram.bind.group_toast"),
                    url=deep_link(self.bot.username) or None,
                    hook=hook,
                )
                return  # its inbox copy is dropped on the way out
            number = _number_of(data)
            before = self.store.ticket(number) if number else None
            event: InEvent = Button(data)
            if data == BIND_BUTTON and not in_group:
                event = Command("start", BIND_START)
            with self.store.transaction():
                replies = self._step(chat, event, self.clock())
                # Read here, the chat row is remembered from the step (tickets.chat_rows).
                locale = self.engine.locale_of(CHANNEL, chat)
                hooks = self._settle([update_id])
            Hook.mark_recorded(hooks)
            self._dropped.add(update_id)
            after = self.store.ticket(number) if number else None
            changed = after is not None and (before is None or after.version != before.version)
            if number and not changed:
                log.log(
                    logging.WARNING if in_group else logging.INFO,
                    "button %r from Telegram user %s left ticket %s unchanged (refused or "
                    "informational)",
                    data,
                    query.presser,
                    number,
                )
            card = find_card(replies, locale) if changed else None
            short = toast(data, replies, card, locale) if changed else ""
            if short:  # the toast says it; the card shows it
                replies = replies[1:]
            if in_group:
                # A group is no place for a dialogue: the presser gets a toast or an alert,
                # and the job card in their private chat.
                answered = await _answer(
                    self.bot, query.id, short or alert_text(replies), not changed, hook=hook
                )
                if changed and replies:
                    try:
                        await self.replies.send(int(chat), replies, outcome=bool(short))
                    except TelegramError as exc:  # e.g. never started the bot privately
                        log.info("private answer to %s not sent: %s", chat, exc)
            else:
                answered = await _answer(self.bot, query.id, short or None, hook=hook)
                pressed = Cards.pressed(query, number) if number else None
                await self.replies.send(int(chat), replies, pressed=pressed, outcome=bool(short))
                if changed and query.message_id is not None and pressed is None:
                    await self._settled(int(chat), query.message_id, data, number, card)
            if number:
                await self.offers.close(number)
        finally:
            if not answered:  # Telegram shows a spinner until the query is answered
                await _answer(self.bot, query.id, None, hook=hook)

    async def _settled(
        self, chat: int, message_id: int, data: str, number: str, card: Card | None
    ) -> None:
        """After a press that changed its ticket: the question pressed (a pause reason,
        sign in without a location) keeps no buttons, and a job that left the card's
        hands (completed) leaves a card without buttons."""
        try:
            if data.split(":")[1] in ("here", "pause"):
                await self.bot.edit_message_reply_markup(chat_id=chat, message_id=message_id)
            if card is None:
                await self.cards.retire(chat, number)
        except TelegramError as exc:
            log.info("buttons of %s in %s not removed: %s", number, chat, exc)

    def _unbound(self, chat: str) -> bool:
        return staff_role(self.store.chat(CHANNEL, chat), self.config) is None

    async def _apologize(self, update: Incoming) -> None:
        chat = update.apology
        if chat is None:
            return
        with contextlib.suppress(Exception):
            locale = self.engine.locale_of(CHANNEL, str(chat))
            await self.bot.send_message(chat, translate(locale, "telegram.failed"))

    # -- webhook (bots.telegram.webhook) ------------------------------------------------
    async def webhook(self, request: web.Request) -> web.StreamResponse:
        return await receive(self, request)

    def begin(self, update: Incoming) -> Hook | None:
        """Take a webhook update. Returns the ``Hook`` its request waits on while the
        update is handled; None when the request may answer 200 at once: a redelivery
        (nothing is done), or an update kept in the inbox to be handled later (an
        album's photo, or any while the Bot API is not connected yet)."""
        message = update.message
        if not self._ready.is_set() or (message is not None and message.album):
            self.accept(update)
            return None
        # Recorded in its handling's one transaction (``_settle``), not before.
        update_id = update.update_id
        if update_id in self._hooks or self.tables.seen(update_id):
            log.info("Telegram update %s delivered again: ignored", update_id)
            return None
        hook = self._hooks[update_id] = Hook(update_id)
        self._spawn(update)
        return hook


def _number_of(data: str) -> str:
    """The ticket number in a button payload (``t:claim:<N>``, ``r:rate:<N>:5``), if any."""
    parts = data.split(":")
    return parts[2].strip().upper() if len(parts) >= 3 and parts[2].startswith(("BX", "bx")) else ""


def _state(record: ChatRecord) -> DialogueState:
    """The chat's saved dialogue (idle when unreadable, as the engine reads it)."""
    try:
        return DialogueState.from_json(record.dialogue)
    except (ValueError, TypeError, AttributeError):
        return DialogueState()


def _flow(record: ChatRecord) -> str | None:
    return _state(record).flow


def _shape(replies: Sequence[Reply]) -> tuple[str, ...]:
    return tuple(type(r).__name__ for r in replies)
