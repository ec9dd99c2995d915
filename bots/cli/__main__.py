"""`python -m bots.cli` runs the `baoxiu` command."""

from bots.cli import main

main()
