"""The channel-neutral engine: one inbound event of one chat in, the replies out.

Every adapter (Telegram, WeChat, web chat, terminal) calls ``Engine.handle`` with an
event already translated from its platform. In one store transaction the engine loads
the chat's saved dialogue, runs the pure ``conversation.router.step``, performs the
ticket actions the step asked for, and saves the dialogue again — so a report is never
half saved, and a restart (or another worker process) resumes every dialogue where it
stopped. The engine is synchronous and knows no platform; it must not send anything
itself: replies go back to the caller, notices go through the outbox.

A refused action (``BaoxiuError``) rolls back only its own savepoint and stops the
step's remaining actions, which were planned on the assumption that it succeeds. The
step's own replies are dropped — they describe a step that did not happen — and the
person sees the refusal instead. The dialogue then stays where it was, so the person
can answer again, with one exception: when the step was ending the dialogue that asked
for the action and the refusal is about the ticket rather than the input (it moved on,
it is not theirs), the dialogue ends anyway, because asking the same question again
could only be refused again (a technician typing a completion note for a job the
dispatcher just moved away would otherwise be stuck answering into a closed door).
A refused ``InvalidInput`` always keeps the dialogue, so a refused report can be fixed
and submitted again rather than typed anew.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from config.model import Config
from conversation import router
from conversation.actions import (
    Act,
    Bind,
    CreateTicket,
    Rule,
    SendCode,
    SetLocale,
    SetPreference,
    TicketAction,
)
from conversation.context import Ctx
from conversation.events import InEvent
from conversation.i18n import LOCALES
from conversation.replies import Reply
from conversation.state import IDLE, DialogueState
from tickets import backup, migrations
from tickets.chat_rows import with_dialogue
from tickets.errors import BaoxiuError, InvalidInput, StoreMissing
from tickets.model import Role, Ticket
from tickets.outbox import SMS, queue, save_preference
from tickets.store import ChatRecord, Store

BINDABLE = (Role.TECHNICIAN.value, Role.DISPATCHER.value)
CODE_KIND = "verify.code"
"""The SMS kind of a one-time code (its text: ``sms.verify.code``)."""

log = logging.getLogger(__name__)


def open_store(config: Config, *, create: bool = True) -> Store:
    """The configuration's store; its folder is made on first use (the loader must not),
    readable by its owner only (it holds phone numbers). With ``create=False`` a missing
    database raises ``StoreMissing`` instead of being made empty (read commands)."""
    if not create and not config.database.is_file():
        raise StoreMissing("errors.no_database", path=str(config.database))
    private_folder(config.database.parent)
    _backup_before_migrations(config)
    return Store(config.database, config)


def _backup_before_migrations(config: Config) -> None:
    """An upgrade's migrations run on the first open; an archive of the database as it
    was is written first (into the backup folder), so a failed upgrade can be undone."""
    pending = backup.pending_migrations(config.database, migrations.names())
    if not pending:
        return
    now = datetime.now(UTC)
    target = config.ops.backups(config.database) / f"pre-migration-{backup.archive_name(now)}"
    backup.create(config.database, config.media_dir, target, now=now)
    log.warning(
        "%d pending migration(s) (%s): backup written to %s",
        len(pending),
        ", ".join(pending),
        target,
    )


def private_folder(folder: Path) -> None:
    """Make ``folder`` (and missing parents) if needed; every folder made here is 0700
    (``mkdir(parents=True)`` would give the parents the umask's mode: the data folder
    made on the way to ``data/media`` was 0755)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is masked by the umask


class Engine:
    """Runs the dialogues of every channel against one store and one configuration."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config

    def handle(
        self,
        channel: str,
        chat: str,
        event: InEvent,
        now: datetime,
        *,
        can_share_contact: bool = False,
        can_share_location: bool = False,
        keep: Callable[[list[Reply]], None] | None = None,
        performed: list[TicketAction] | None = None,
        spoken: list[str] | None = None,
    ) -> list[Reply]:
        """Run one event of one chat; return the replies to show in that chat.

        ``keep`` is called with those replies inside the step's transaction, so a channel
        that records what it shows (the web inbox, Telegram's reply rows in the outbox)
        commits them together with the dialogue and the ticket: a crash leaves either the
        whole step or none of it. Unexpected exceptions roll everything back (the
        dialogue included) and propagate.

        ``performed`` (if given) gets each ticket action the step carried out and kept:
        only those can have queued notices, so a channel need not wake its delivery
        worker after a step that performed none (most steps of a dialogue).

        ``spoken`` (if given) gets the locale the replies are in, before ``keep`` is
        called, so a channel lays them out or keeps them without reading the chat again
        (``locale_of``).
        """
        with self.store.transaction():
            loaded = record = self.store.chat(channel, chat)
            before = _dialogue(record.dialogue)
            ctx = self._ctx(record, now, can_share_contact, can_share_location)
            step = router.step(before, event, ctx)

            said: list[Reply] = []
            refusal: tuple[TicketAction, BaoxiuError] | None = None
            for action in step.actions:
                try:
                    with self.store.transaction():
                        ticket = self._perform(action, ctx, now)
                except BaoxiuError as error:
                    said.extend(router.refused(action, error, ctx))
                    refusal = (action, error)
                    break
                record, ctx = _remember(action, ticket, record, ctx)
                said.extend(router.outcome(action, ticket, ctx))
                if performed is not None:
                    performed.append(action)

            if refusal is None:
                after, replies = step.state, [*step.replies, *said]
            elif _ends_anyway(before, step.state, *refusal):
                after, replies = step.state, said
            else:
                after, replies = before, said
            saved = after.to_json()
            if record is not loaded or saved != loaded.dialogue:
                # A step that changed nothing of the chat (a hint, a list, the menu again:
                # most of a technician's) writes nothing: its row says when it last changed.
                self.store.save_chat(with_dialogue(record, saved), now)
            if spoken is not None:  # before keep: what it keeps is in that locale
                spoken.append(self._locale(record))
            if keep is not None:
                keep(replies)
            return replies

    def bind(self, channel: str, chat: str, role: str, person: str, now: datetime) -> None:
        """Make this chat act as a configured technician or dispatcher (terminal ``--as``).

        Raises ``InvalidInput`` when no such person is configured for that role.
        """
        known = (
            self.config.technician(person)
            if role == Role.TECHNICIAN.value
            else self.config.dispatcher(person)
            if role == Role.DISPATCHER.value
            else None
        )
        if known is None:
            raise InvalidInput("errors.unknown_person", person=f"{role}:{person}")
        with self.store.transaction():
            record = self.store.chat(channel, chat)
            if (record.role, record.person) == (role, person):
                return
            # A dialogue begun in another role (a half-typed report) means nothing now.
            self.store.save_chat(
                replace(record, role=role, person=person, dialogue=IDLE.to_json()), now
            )

    def wants_photo(self, channel: str, chat: str) -> bool:
        """Whether this chat's dialogue is at a step that takes a photo now."""
        return router.wants_photo(_dialogue(self.store.chat(channel, chat).dialogue))

    def locale_of(self, channel: str, chat: str) -> str:
        """The language this chat is spoken to in."""
        return self._locale(self.store.chat(channel, chat))

    def opening(self, channel: str, chat: str, now: datetime) -> list[Reply]:
        """What to show when a person opens a chat that has no history on screen (a new
        terminal): the menu of their role when no dialogue is going on, else nothing —
        a half-finished dialogue goes on with their next message."""
        record = self.store.chat(channel, chat)
        if _dialogue(record.dialogue).flow is not None:
            return []
        return list(router.menu(self._ctx(record, now, False, False)))

    # -- internals ----------------------------------------------------------------------
    def _ctx(
        self, record: ChatRecord, now: datetime, can_share_contact: bool, can_share_location: bool
    ) -> Ctx:
        role, person = self._identity(record)
        return Ctx(
            config=self.config,
            now=now,
            channel=record.channel,
            chat=record.chat,
            locale=self._locale(record),
            lookup=self.store,
            role=role,
            person=person,
            last_phone=record.last_phone,
            can_share_contact=can_share_contact,
            can_share_location=can_share_location,
            random=secrets.randbelow(1_000_000_000),
        )

    def _locale(self, record: ChatRecord) -> str:
        return record.locale if record.locale in LOCALES else self.config.locale

    def _identity(self, record: ChatRecord) -> tuple[Role, str | None]:
        """The role the chat is bound to, if that person is still configured.

        Someone removed from the configuration must not keep acting as a technician
        through an old binding: they fall back to being a reporter.
        """
        if record.person and record.role == Role.TECHNICIAN.value:
            if self.config.technician(record.person):
                return Role.TECHNICIAN, record.person
        elif (
            record.person
            and record.role == Role.DISPATCHER.value
            and self.config.dispatcher(record.person)
        ):
            return Role.DISPATCHER, record.person
        return Role.REPORTER, None

    def _perform(self, action: TicketAction, ctx: Ctx, now: datetime) -> Ticket | None:
        if isinstance(action, CreateTicket):
            return self.store.create_ticket(action.draft, now)
        if isinstance(action, Act):
            return self.store.apply(
                action.number,
                action.action,
                ctx.actor,
                now,
                note=action.note,
                data=action.data,
                target=action.target,
            )
        if isinstance(action, Rule):
            return self.store.perform_rule(action.kind, action.params, ctx.actor, now)
        if isinstance(action, SetPreference):
            save_preference(
                self.store, ctx.channel, ctx.chat, now, choice=action.choice, email=action.email
            )
            return None
        if isinstance(action, SetLocale):
            if action.locale not in LOCALES:
                raise InvalidInput("errors.invalid_input")
            return None
        if isinstance(action, Bind):
            if action.role not in BINDABLE:
                raise InvalidInput("errors.invalid_input")
            return None
        if isinstance(action, SendCode):
            # A one-time code, like a dialogue reply (priority 0), to the typed number.
            key = f"code:{ctx.channel}:{ctx.chat}:{now.isoformat()}"
            queue(
                self.store,
                key=key,
                number=None,
                event_id=None,
                kind=CODE_KIND,
                channel=SMS,
                chat=action.phone,
                locale=ctx.locale,
                params={"code": action.code},
                priority=0,
                now=now,
            )
            return None
        raise TypeError(f"unknown ticket action {action!r}")


def _remember(
    action: TicketAction, ticket: Ticket | None, record: ChatRecord, ctx: Ctx
) -> tuple[ChatRecord, Ctx]:
    """What a performed action changes in the chat itself (and in the rest of this step)."""
    if isinstance(action, CreateTicket):
        # Offered again on the next report, so a regular reporter need not retype it.
        return replace(record, last_phone=action.draft.phone), replace(
            ctx, last_phone=action.draft.phone
        )
    if isinstance(action, SetLocale):
        return replace(record, locale=action.locale), replace(ctx, locale=action.locale)
    if isinstance(action, Bind):
        return replace(record, role=action.role, person=action.person), replace(
            ctx, role=Role(action.role), person=action.person
        )
    return record, ctx


def _ends_anyway(
    before: DialogueState, after: DialogueState, action: TicketAction, error: BaoxiuError
) -> bool:
    """Whether a refused step still ends its dialogue (see the module docstring)."""
    leaving = before.flow is not None and after.flow is None and action.flow == before.flow
    return leaving and not isinstance(error, InvalidInput)


def _dialogue(raw: str | None) -> DialogueState:
    """The saved dialogue; an unreadable one starts afresh rather than lock the chat out."""
    try:
        return DialogueState.from_json(raw)
    except (ValueError, TypeError, AttributeError):
        return IDLE
