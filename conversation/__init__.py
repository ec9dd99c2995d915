"""The dialogues of baoxiu, channel-neutral and pure.

``conversation.router.step(state, event, ctx)`` takes the saved dialogue state and one
inbound event and returns a ``Step``: the new state, the replies to send and the ticket
actions to perform. Nothing here awaits, touches the network or writes the database;
it must not import from ``bots``, ``notify``, aiohttp, telegram or wechatpy.
"""
