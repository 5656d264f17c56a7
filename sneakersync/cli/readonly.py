"""Looking at the store without click: ``collections`` and ``get``.

These are the commands people run most and expect to be instant.  :func:`answer`
takes only the simplest command lines (the global ``-q``/``--home`` options, the
command, its arguments and ``--json``) on a home without a passphrase or one an
``unlock`` agent holds open (:mod:`sneakersync.cli.agent`), reads what
it needs through :mod:`sneakersync.store.reading` and prints exactly what the full
command prints, with the same formatting functions (the click commands in
:mod:`sneakersync.cli.records` call them too).  Anything else (another option,
``--help``, a locked home, a record that is not there, a store that needs an
upgrade, output the terminal cannot encode) returns ``False`` before anything is
printed, and the full command tree answers it, errors and exit codes included.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from sneakersync.cli import PROG
from sneakersync.store import reading

_SHAPES = {"collections": 0, "get": 2}  # command -> number of arguments


def collections_text(cols: list[dict[str, Any]], as_json: bool, quiet: bool) -> str:
    """What ``collections`` prints on standard output."""
    if as_json:
        return json_line(cols)
    if not cols:
        return "" if quiet else "no records yet\n"
    return "".join(f"{c['name']:<24} {c['records']:>8} records  policy={c['policy']}\n"
                   for c in cols)


def record_text(rec: reading.Record, as_json: bool) -> tuple[str, str]:
    """What ``get`` prints on standard output and standard error."""
    if as_json:
        out = rec.as_json()
        out["version"] = rec.vv
        return json_line(out), ""
    note = f"(conflict {rec.conflict}: see `{PROG} conflicts`)\n" if rec.conflict else ""
    return json.dumps(rec.data, ensure_ascii=False, indent=2) + "\n", note


def json_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=None, sort_keys=False) + "\n"


def _parse(args: list[str]) -> tuple[Path | None, bool, str, list[str], bool] | None:
    home: Path | None = None
    quiet = False
    i = 0
    while i < len(args) and args[i].startswith("-"):
        a = args[i]
        if a in ("-q", "--quiet"):
            quiet = True
        elif a == "--home" and i + 1 < len(args) and args[i + 1]:
            home = Path(args[i + 1])
            i += 1
        elif a.startswith("--home=") and len(a) > 7:
            home = Path(a[7:])
        else:
            return None
        i += 1
    if i >= len(args) or args[i] not in _SHAPES:
        return None
    command, rest = args[i], args[i + 1:]
    as_json = "--json" in rest
    if as_json:
        rest = [a for a in rest if a != "--json"]
    if len(rest) != _SHAPES[command] or any(a.startswith("-") or not a for a in rest):
        return None
    return home, quiet, command, rest, as_json


def _unlocked(home: Path, sealed: bytes) -> bytes | None:
    from sneakersync.cli import agent  # only for a sealed home

    return agent.keys(home, sealed)


def answer(args: list[str]) -> bool:
    """Print the answer to ``args`` and return True, or return False having done nothing."""
    parsed = _parse(args)
    if parsed is None:
        return False
    home, quiet, command, rest, as_json = parsed
    try:
        where = home if home is not None else reading.default_home()
        conn = reading.open_store(where, opened=lambda sealed: _unlocked(where, sealed))
    except Exception:  # e.g. no user data folder: the full path says what is wrong
        return False
    if conn is None:
        return False
    err = ""
    try:
        if command == "collections":
            out = collections_text(reading.collections(conn), as_json, quiet)
        else:
            out, err = record_text(reading.get(conn, rest[0], rest[1]), as_json)
    except Exception:  # not there, damaged, busy: the full path reports it
        return False
    finally:
        conn.close()
    try:
        out.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeError, LookupError):
        return False  # the full path reports what this terminal cannot show
    try:
        sys.stdout.write(out)
        sys.stdout.flush()
        if err:
            sys.stderr.write(err)
            sys.stderr.flush()
    except BrokenPipeError:  # `sneakersync get ... | head`: as the full path does
        sys.exit(0)
    return True
