"""Run the real entry point (``sneakersync.cli.main.main``) in-process, like a shell would.

Captures stdout and stderr separately, feeds stdin, and returns the exit code that
``main`` chose: fast enough to drive every command many times in one test session.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sneakersync.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def invoke(home: Path | None, *args: str, input: str | bytes | None = None,
           env: dict[str, str] | None = None) -> Result:
    argv = (["--home", str(home)] if home is not None else []) + list(args)
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as streams:
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = streams[0].getvalue().decode("utf-8", "replace")
        err = streams[1].getvalue().decode("utf-8", "replace")
    return Result(code, out, err)


def ok(home: Path | None, *args: str, **kw: Any) -> Result:
    r = invoke(home, *args, **kw)
    assert r.code == 0, (args, r.code, r.err)
    return r


def card(home: Path) -> str:
    return str(ok(home, "whoami", "--json").json()["card"])


def edit_apart(a: Path, b: Path, sticks: Path) -> None:
    """Two paired devices edit households/hh-1 apart (policy manual): ``a`` then holds
    an open conflict, through two exports on sticks in ``sticks``."""
    for home in (a, b):
        ok(home, "collection", "policy", "households", "manual")
    s1, s2 = sticks / "s1", sticks / "s2"
    s1.mkdir()
    s2.mkdir()
    ok(a, "put", "households", '{"size": 5}', "--id", "hh-1")
    ok(a, "export", str(s1))
    ok(b, "import", str(s1))
    ok(a, "put", "households", '{"size": 6}', "--id", "hh-1")
    ok(b, "put", "households", '{"size": 7}', "--id", "hh-1")
    ok(b, "export", str(s2))
    ok(a, "import", str(s2))
