"""Notices to people: render outbox rows (``render``) and deliver them per channel with
retries and backoff (``delivery``).

The outbox itself lives in the store (``tickets.store``), written in the same
transaction as the ticket change that caused it. This package imports nothing from
``bots``: each adapter supplies a ``Sender``.
"""

from notify.delivery import DeliveryWorker, Sender
from notify.render import render_notice

__all__ = ["DeliveryWorker", "Sender", "render_notice"]
