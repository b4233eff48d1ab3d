"""``python -m rtk_sessions``: the command line (``rtk-sessions``)."""

from rtk_sessions.cli import main

main()
