"""The domain of baoxiu: tickets, their life, the store, dispatch and time limits.

Nothing here knows about chat platforms, HTTP or notices delivery: it must not import
from ``bots``, ``notify``, aiohttp, telegram or wechatpy.
"""
