"""The terminal chat (``baoxiu chat``): the whole service from a plain text terminal.

A resident, or a technician or dispatcher (``--as technician:ID``), talks to the same
engine the chat platforms use; choices are numbered lines (type the number, or the
label), a requested location is typed as ``lat,lon``, a photo is sent with
``/photo PATH [caption]``. Notices for this chat are printed as they arrive, by a
delivery worker running beside the dialogue, exactly as a platform would push them.

Stdin is read line by line from a thread (``os.read``, so a pipe or a redirected file
works as well as a TTY, and a thread blocked in a read never holds a lock the
interpreter needs at exit). Everything touching the store runs on the event loop's
thread: a SQLite connection belongs to the thread that opened it.
"""

from __future__ import annotations

import asyncio
import codecs
import getpass
import logging
import os
import re
import shlex
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bots.channel.choices import Offer, OfferTable, lay_out, merge, pick
from bots.channel.media import IMAGE_EXTENSIONS, image_type
from bots.engine import Engine, open_store
from config.model import Config
from conversation.events import InEvent, Location, Photo, Text, parse_text
from conversation.i18n import translate
from conversation.replies import Reply
from notify.delivery import DeliveryWorker
from tickets.errors import InvalidInput
from tickets.store import OutboxRow

log = logging.getLogger(__name__)

CHANNEL = "terminal"
POLL_SECONDS = 0.3
QUIT = "/quit"

_COORDS = re.compile(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,，]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")


def save_photo(path: Path, media_dir: Path, max_mb: int) -> str:
    """Copy the image at ``path`` into the media folder; return its ref (a relative path).

    Raises ``InvalidInput`` (terminal.photo_*) for a missing file, a file that is not a
    JPEG/PNG/GIF/WebP image (judged by its bytes, not its name) or one too large.
    """
    if not path.is_file():
        raise InvalidInput("terminal.photo_missing", path=str(path))
    if path.stat().st_size > max_mb * 1024 * 1024:
        raise InvalidInput("terminal.photo_too_big", path=str(path), limit=max_mb)
    with path.open("rb") as fh:
        kind = image_type(fh.read(16))
    if kind is None:
        raise InvalidInput("terminal.photo_not_image", path=str(path))
    ref = f"{CHANNEL}/{uuid.uuid4().hex}{IMAGE_EXTENSIONS[kind]}"
    target = media_dir / ref
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return ref


@dataclass
class Screen:
    """Lays replies out as lines and reads typed lines back as events.

    What the last replies offered (``bots.channel.choices.Offer``: the numbered choices,
    and whether a location was asked for, then ``lat,lon`` is a location) is kept in the
    store when ``offers`` is given — so a typed number still answers after ``baoxiu
    chat`` was restarted mid-dialogue — else in memory.
    """

    media_dir: Path
    max_upload_mb: int = 5
    locale: str = "zh_CN"
    offers: OfferTable | None = None
    chat: str = ""
    offer: Offer = field(default_factory=Offer)

    def t(self, key: str, **params: object) -> str:
        return translate(self.locale, f"terminal.{key}", **params)

    def show(self, replies: Sequence[Reply], *, notice: bool = False) -> list[str]:
        lines, shown = lay_out(
            replies, self.t, lambda ref: self.t("photo", path=self.media_dir / ref)
        )
        if notice and replies:
            lines.insert(0, self.t("notice"))
        if self.offers is not None:
            self.offer = self.offers.show(self.chat, shown, datetime.now(UTC), notice=notice)
        else:
            self.offer = merge(self.offer, shown, notice=notice)
        return lines

    def read(self, line: str) -> InEvent | str | None:
        """The event a typed line means; a ``str`` is an answer of the terminal itself
        (a refused photo, an ambiguous label); ``None`` for an empty line."""
        typed = line.strip()
        if not typed:
            return None
        if typed == "/photo" or typed.startswith("/photo "):
            return self._photo(typed.removeprefix("/photo").strip())
        if typed.startswith("/"):
            return parse_text(typed)
        offer = self.offers.get(self.chat) if self.offers is not None else self.offer
        picked = pick(typed, offer, lambda label: self.t("ambiguous", label=label))
        if picked is not None:
            return picked
        if offer.wants_location and (match := _COORDS.match(typed)):
            lat, lon = float(match[1]), float(match[2])
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                return Location(lat, lon)
        return Text(line.rstrip("\r\n"))

    def _photo(self, rest: str) -> Photo | str:
        try:
            words = shlex.split(rest)
        except ValueError:
            words = rest.split()
        if not words:
            return self.t("photo_usage")
        path = Path(words[0]).expanduser()
        try:
            ref = save_photo(path, self.media_dir, self.max_upload_mb)
        except InvalidInput as error:
            return translate(self.locale, error.key, **error.params)
        return Photo(ref, " ".join(words[1:]))


class TerminalSender:
    """The delivery worker's way to this terminal: print the notice."""

    def __init__(self, screen: Screen, write: Callable[[list[str]], None]) -> None:
        self.screen = screen
        self.write = write

    async def send(self, chat: str, replies: Sequence[Reply], notice: OutboxRow) -> str:
        self.write(self.screen.show(replies, notice=True))
        return f"{CHANNEL}-{notice.id}"


def default_chat() -> str:
    """``term-<login name>``: the same person gets the same chat (and tickets) next time."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "user"
    return f"term-{login}"


CHAT_PREFIX = {"technician": "tech", "dispatcher": "disp"}


def chat_for(role: str | None, person: str | None) -> str:
    """The chat of a person playing a role (``tech-zhang``), else the login's own."""
    if role and person:
        return f"{CHAT_PREFIX.get(role, role)}-{person}"
    return default_chat()


def _lines(stream: TextIO) -> asyncio.Queue[str | None]:
    """Lines of ``stream`` as they are typed; ``None`` at end of input."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation: an in-memory stream
        fd = -1

    def pump_stream() -> None:
        for line in iter(stream.readline, ""):
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(queue.put_nowait, None)

    def pump() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            pending += decoder.decode(chunk, final=not chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            if not chunk:
                if pending:
                    loop.call_soon_threadsafe(queue.put_nowait, pending)
                loop.call_soon_threadsafe(queue.put_nowait, None)
                return

    reader = pump if fd >= 0 else pump_stream
    threading.Thread(target=reader, name="baoxiu-stdin", daemon=True).start()
    return queue


async def chat(
    config: Config,
    *,
    chat_id: str | None = None,
    role: str | None = None,
    person: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the terminal dialogue until end of input or /quit; return the exit status.

    Raises ``InvalidInput`` (errors.unknown_person) when ``role``/``person`` is not
    configured.
    """
    out = stdout or sys.stdout
    chat_id = chat_id or chat_for(role, person)
    store = open_store(config)
    try:
        engine = Engine(store, config)
        if role and person:
            engine.bind(CHANNEL, chat_id, role, person, datetime.now(UTC))
        screen = Screen(
            config.media_dir,
            config.web.max_upload_mb,
            offers=OfferTable(store, CHANNEL),
            chat=chat_id,
        )
        interactive = (stdin or sys.stdin).isatty()

        def write(lines: list[str]) -> None:
            if lines:
                out.write("\n".join(lines) + "\n")
                out.flush()

        def prompt() -> None:
            if interactive:
                out.write(screen.t("prompt"))
                out.flush()

        screen.locale = engine.locale_of(CHANNEL, chat_id)
        write([_banner(screen, config, chat_id, role, person)])
        write(screen.show(engine.opening(CHANNEL, chat_id, datetime.now(UTC))))

        def interrupt(lines: list[str]) -> None:
            """A notice arrives while the person may be typing: start on a fresh line and
            show the prompt again after it."""
            write(["", *lines] if interactive and lines else lines)
            if lines:
                prompt()

        sender = TerminalSender(screen, interrupt)
        worker = DeliveryWorker(store, config, CHANNEL, sender, chat=chat_id)
        stop = asyncio.Event()
        delivery = asyncio.create_task(worker.run(stop, poll_interval=POLL_SECONDS))
        try:
            lines = _lines(stdin or sys.stdin)
            prompt()
            while (line := await lines.get()) is not None and line.strip() != QUIT:
                meant = screen.read(line)
                if isinstance(meant, str):
                    write([meant])
                elif meant is not None:
                    write(_turn(engine, screen, chat_id, meant))
                    worker.wake()  # our own notices (a new ticket's "accepted") show at once
                prompt()
            if line is not None:
                write([screen.t("bye")])
        finally:
            stop.set()
            await delivery
    finally:
        store.close()
    return 0


def _turn(engine: Engine, screen: Screen, chat_id: str, event: InEvent) -> list[str]:
    """One event through the engine, laid out. A bug there is logged and answered with
    the generic apology: the engine rolled the turn back, so the person may go on."""
    try:
        replies = engine.handle(CHANNEL, chat_id, event, datetime.now(UTC), can_share_location=True)
    except Exception:
        log.exception("terminal chat %s: event %r failed", chat_id, event)
        return [translate(screen.locale, "errors.generic")]
    screen.locale = engine.locale_of(CHANNEL, chat_id)
    return screen.show(replies)


def _banner(
    screen: Screen, config: Config, chat_id: str, role: str | None, person: str | None
) -> str:
    if not (role and person):
        return screen.t("banner", chat=chat_id)
    found = config.technician(person) or config.dispatcher(person)
    return screen.t(
        "banner_person",
        role=screen.t(f"role_{role}"),
        name=found.name if found else person,
        chat=chat_id,
    )
