"""The entry point (``sneakersync = sneakersync.cli.main:main``).

A look at the store (``collections``, ``get``) is answered by
:mod:`sneakersync.cli.readonly` without importing click or the command tree, so it
starts about as fast as Python itself; every other command line, and any look the
fast path cannot answer exactly, goes through the full tree
(:func:`sneakersync.cli.commands.run`), the one place where errors become exit
codes.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    # --quiet is global, but people type it after the command too: accept both
    for flag in ("-q", "--quiet"):
        if flag in args[1:]:
            args.remove(flag)
            args.insert(0, flag)
    from sneakersync.cli import readonly

    if readonly.answer(args):
        return
    from sneakersync.cli.commands import run

    run(args)
