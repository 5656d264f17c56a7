"""Run one sneakersync CLI command and SIGKILL it at the k-th durability point.

Usage::

    python tests/crash/run_with_crash.py [--kill-at K] [--phase before|after]
                                         [--count-to FILE] -- CLI ARGS...

Durability points counted in this (child) process, in the order they happen:
``os.fsync``, ``os.replace`` / ``os.rename`` and every SQL ``COMMIT`` sent through
``sqlite3`` (connections are made with a counting factory).  At the K-th point the
process kills itself with SIGKILL, either just *before* the operation or just
*after* it returned.  ``--count-to`` writes the number of points of a clean run
(so a harness can walk K = 1..N).  Production code is not touched: everything is
patched here, in the child, before the CLI is imported.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys

_state = {"n": 0, "kill_at": 0, "phase": "before", "trace": None}


def _point(kind: str, phase: str) -> None:
    if phase == "before":
        _state["n"] += 1
        if _state["trace"] is not None:
            _state["trace"].append(kind)
    if _state["kill_at"] and _state["n"] == _state["kill_at"] and phase == _state["phase"]:
        os.kill(os.getpid(), signal.SIGKILL)


def _wrap(fn, kind):  # type: ignore[no-untyped-def]
    def wrapped(*a, **kw):  # type: ignore[no-untyped-def]
        _point(kind, "before")
        out = fn(*a, **kw)
        _point(kind, "after")
        return out

    wrapped.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapped


class CountingConnection(sqlite3.Connection):
    def execute(self, sql, *args):  # type: ignore[no-untyped-def,override]
        if isinstance(sql, str) and sql.strip().upper().startswith(("COMMIT", "END")):
            _point("commit", "before")
            out = super().execute(sql, *args)
            _point("commit", "after")
            return out
        return super().execute(sql, *args)


def install() -> None:
    os.fsync = _wrap(os.fsync, "fsync")
    os.replace = _wrap(os.replace, "replace")
    os.rename = _wrap(os.rename, "rename")
    real_connect = sqlite3.connect

    def connect(*a, **kw):  # type: ignore[no-untyped-def]
        kw.setdefault("factory", CountingConnection)
        return real_connect(*a, **kw)

    sqlite3.connect = connect  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    count_to = None
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    i = argv.index("--")
    opts, cli_args = argv[:i], argv[i + 1:]
    it = iter(opts)
    for o in it:
        if o == "--kill-at":
            _state["kill_at"] = int(next(it))
        elif o == "--phase":
            _state["phase"] = next(it)
        elif o == "--count-to":
            count_to = next(it)
            _state["trace"] = []
    install()
    from sneakersync.cli.main import main as cli_main

    code = 0
    try:
        cli_main(cli_args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if count_to:
            with open(count_to, "w") as fh:
                fh.write(f"{_state['n']}\n{','.join(_state['trace'] or [])}\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
