"""The typed state of the aiohttp application (``web.AppKey``s).

Below every channel and above nothing: a channel reads the config, store, engine and
workers from ``request.app`` through these keys, so nothing imports ``bots.app`` back.
"""

from __future__ import annotations

from aiohttp import web

from bots.engine import Engine
from bots.web.inbox import WebInbox
from config.model import Config
from notify.delivery import DeliveryWorker
from tickets.store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
ENGINE = web.AppKey("engine", Engine)
INBOX = web.AppKey("web_inbox", WebInbox)
WORKER = web.AppKey("web_worker", DeliveryWorker)
"""Delivers the outbox of channel ``web`` into the inbox; wake it after queuing notices."""
