"""Channel adapters: they turn a platform's updates into conversation events, run them
through ``bots.engine.Engine`` and render the replies back with the platform's own
controls. The engine, the terminal chat and the CLI live here too.

Nothing in ``conversation`` or ``tickets`` may import from this package.
"""
