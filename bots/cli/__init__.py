"""The ``baoxiu`` command: run the service, chat from a terminal, and the operator's
tasks (start a configuration, check it, look at and export tickets).

What an operator reads comes from the ``cli`` catalog in the configuration's language
(before a configuration is loaded: the shell's, from ``LC_ALL``/``LANG``). A bad
configuration ends every command with its message and exit status 2. This module only
wires commands to the pieces that do the work; it holds no rules of its own.
"""

from __future__ import annotations

from bots.cli import ops, service, stats, tickets  # noqa: F401  (their commands register on main)
from bots.cli.base import main
from bots.cli.dispatch import register as register_dispatch
from bots.cli.outbox import outbox_group
from bots.cli.telegram import telegram_group
from bots.cli.users import user_group
from bots.cli.wechat import wechat_group
from bots.cli.wecom import wecom_group

__all__ = ["main"]

main.add_command(telegram_group)
main.add_command(wechat_group)
main.add_command(outbox_group)
main.add_command(user_group)  # console staff accounts
register_dispatch(main)  # assign, transfer, merge, priority, incident, outage
main.add_command(wecom_group)
