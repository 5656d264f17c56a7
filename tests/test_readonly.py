"""The read-only fast path (``collections``, ``get`` without click, issue 15).

It must answer exactly what the full command tree answers, or not answer at all:
every command line here runs twice, once through the entry point (which tries the
fast path first) and once straight through the click tree, and the outputs, error
lines and exit codes must be identical.  Each case also says whether the fast path
was expected to answer, and a spy checks that it did (or stepped aside).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli_runner import card, edit_apart, ok
from sneakersync.cli import readonly
from sneakersync.cli.main import main

REPO = Path(__file__).resolve().parent.parent
ANSWER = readonly.answer  # the real one (the tests below swap it for a spy)


def _call(fn: Any, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation(env=env) as streams:
        try:
            fn(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return (code, streams[0].getvalue().decode("utf-8", "replace"),
                streams[1].getvalue().decode("utf-8", "replace"))


def _both(argv: list[str], *, fast: bool, env: dict[str, str] | None = None,
          monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    answered: list[bool] = []

    def spy(args: list[str]) -> bool:
        answered.append(ANSWER(args))
        return answered[-1]

    monkeypatch.setattr(readonly, "answer", spy)
    got = _call(main, argv, env)
    monkeypatch.setattr(readonly, "answer", lambda args: False)  # the full tree only
    full = _call(main, list(argv), env)
    assert got == full, (argv, got, full)
    assert answered == [fast], (argv, answered)
    return got


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """A plain home with unicode, a deletion and an open conflict."""
    amina, juma = tmp_path / "amina", tmp_path / "juma"
    ok(amina, "init", "--name", "Amina", "--no-passphrase")
    ok(juma, "init", "--name", "Juma", "--no-passphrase")
    ok(amina, "peer", "add", card(juma))
    ok(juma, "peer", "add", card(amina))
    edit_apart(amina, juma, tmp_path)
    ok(amina, "put", "shelters", json.dumps({"name": "École Ñandú 避難所", "beds": 40}),
       "--id", "sh-ü")
    ok(amina, "put", "shelters", '{"name": "gone"}', "--id", "sh-2")
    ok(amina, "rm", "shelters", "sh-2")
    ok(amina, "collection", "policy", "shelters", "lww")
    return amina


ANSWERED = [
    ["collections"], ["collections", "--json"], ["-q", "collections"],
    ["collections", "-q"], ["get", "shelters", "sh-ü"], ["get", "shelters", "sh-ü", "--json"],
    ["get", "--json", "shelters", "sh-ü"], ["get", "households", "hh-1"],  # in conflict
    ["get", "households", "hh-1", "--json"], ["collections", "--json", "--json"],
]
FULL_PATH = [
    ["get", "shelters", "sh-2"],  # deleted: the full path's error
    ["get", "shelters", "nope"], ["get", "nope", "x"],  # not there
    ["get", "shelters"], ["get", "a", "b", "c"], ["collections", "extra"],  # usage errors
    ["collections", "--help"], ["get", "--help"], ["collections", "--jsn"],
    ["get", "shelters", "--", "sh-ü"], ["get", "-x", "shelters", "sh-ü"], ["--version"],
]


@pytest.mark.parametrize("argv", ANSWERED, ids=" ".join)
def test_fast_path_prints_what_the_full_tree_prints(plain: Path, argv: list[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = _both(["--home", str(plain)] + argv, fast=True, monkeypatch=monkeypatch)
    assert code == 0 and out


@pytest.mark.parametrize("argv", FULL_PATH, ids=" ".join)
def test_anything_else_goes_to_the_full_tree(plain: Path, argv: list[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _both(["--home", str(plain)] + argv, fast=False, monkeypatch=monkeypatch)


def test_home_given_every_way(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = _both(["--home", str(plain), "collections"], fast=True, monkeypatch=monkeypatch)
    assert _both([f"--home={plain}", "collections"], fast=True, monkeypatch=monkeypatch) == want
    env = {"SNEAKERSYNC_HOME": str(plain)}
    assert _both(["collections"], fast=True, env=env, monkeypatch=monkeypatch) == want
    # --home wins over the environment, in both paths
    env = {"SNEAKERSYNC_HOME": str(plain.parent / "juma")}
    assert _both(["--home", str(plain), "collections"], fast=True, env=env,
                 monkeypatch=monkeypatch) == want
    # the empty --home is the full path's to refuse or interpret
    _both(["--home", "", "collections"], fast=False, monkeypatch=monkeypatch)


def test_sealed_missing_and_strange_homes_take_the_full_path(
        tmp_path: Path, plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = tmp_path / "sealed"
    ok(sealed, "init", "--name", "Sealed")  # the tests' passphrase seals it
    ok(sealed, "put", "households", '{"size": 1}', "--id", "a")
    code, out, _ = _both(["--home", str(sealed), "get", "households", "a"], fast=False,
                         monkeypatch=monkeypatch)
    assert code == 0 and json.loads(out) == {"size": 1}
    # no device at all: the full path's one-line error and exit code
    code, _, err = _both(["--home", str(tmp_path / "none"), "collections"], fast=False,
                         monkeypatch=monkeypatch)
    assert code != 0 and err.startswith("sneakersync: error: no device")
    # a store from another device, a store a release behind, a damaged device.json:
    # each is the full path's to report (or upgrade), never answered from a guess
    other = tmp_path / "other"
    ok(other, "init", "--name", "Other", "--no-passphrase")
    conn = sqlite3.connect(plain / "store.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for f in other.glob("store.db*"):
        f.unlink()
    shutil.copyfile(plain / "store.db", other / "store.db")
    code, _, err = _both(["--home", str(other), "collections"], fast=False,
                         monkeypatch=monkeypatch)
    assert code != 0 and "another device" in err
    conn = sqlite3.connect(plain / "store.db")
    conn.execute("DELETE FROM meta WHERE key='held'")  # made before the held table
    conn.commit()
    conn.close()
    _both(["--home", str(plain), "collections"], fast=False, monkeypatch=monkeypatch)
    assert _both(["--home", str(plain), "collections"], fast=True,  # the full path mended it
                 monkeypatch=monkeypatch)[0] == 0
    (plain / "device.json").write_text("{not json", encoding="utf-8")
    code, _, err = _both(["--home", str(plain), "collections"], fast=False,
                         monkeypatch=monkeypatch)
    assert code != 0 and "damaged" in err


def test_the_fast_path_writes_nothing(plain: Path) -> None:
    conn = sqlite3.connect(plain / "store.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    before = (plain / "store.db").read_bytes()
    assert readonly.answer(["--home", str(plain), "get", "shelters", "sh-ü"])
    assert readonly.answer(["--home", str(plain), "collections", "--json"])
    assert (plain / "store.db").read_bytes() == before
    wal = plain / "store.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_a_look_at_the_store_loads_neither_click_nor_crypto(plain: Path) -> None:
    code = ("import sys\nfrom sneakersync.cli.main import main\n"
            f"main(['--home', {str(plain)!r}, 'get', 'shelters', 'sh-ü'])\n"
            "main(['--home', " + repr(str(plain)) + ", 'collections'])\n"
            "loaded = [m for m in ('click', 'nacl', 'sneakersync.cli.commands', "
            "'sneakersync.store.records', 'sneakersync.wire.crypto', 'zstandard', 'dataclasses')"
            " if m in sys.modules]\nprint('LOADED', loaded)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True, env=dict(os.environ, PYTHONIOENCODING="utf-8"))
    assert "LOADED []" in out.stdout, out.stdout
    assert "École Ñandú 避難所" in out.stdout and "households" in out.stdout


def test_a_terminal_that_cannot_show_the_record_gets_the_full_paths_answer(
        plain: Path) -> None:
    """Nothing is half printed: the fast path steps aside before writing."""
    code = ("from sneakersync.cli.main import main\n"
            f"main(['--home', {str(plain)!r}, 'get', 'shelters', 'sh-ü'])\n")
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, env=env)
    code2 = ("from sneakersync.cli.commands import run\n"
             f"run(['--home', {str(plain)!r}, 'get', 'shelters', 'sh-ü'])\n")
    full = subprocess.run([sys.executable, "-c", code2], capture_output=True, text=True,
                          cwd=REPO, env=env)
    assert (got.returncode, got.stdout, got.stderr) == (full.returncode, full.stdout,
                                                         full.stderr)
    assert "Traceback" not in got.stderr


@pytest.mark.skipif(os.name != "posix", reason="the unlock agent uses a Unix socket")
def test_an_unlocked_sealed_home_is_answered_too(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setenv("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="snk-", dir="/tmp"))
    sealed = tmp_path / "sealed"
    ok(sealed, "init", "--name", "Sealed")  # the tests' passphrase seals it
    ok(sealed, "put", "shelters", json.dumps({"name": "École"}), "--id", "s1")
    argv = ["--home", str(sealed), "get", "shelters", "s1"]
    _both(argv, fast=False, monkeypatch=monkeypatch)  # locked: the full path unseals
    ok(sealed, "unlock", "--for", "5m")
    try:
        # nothing to unseal with but the agent: the full path would have to ask
        monkeypatch.delenv("SNEAKERSYNC_PASSPHRASE")
        code, out, _ = _both(argv, fast=True, monkeypatch=monkeypatch)
        assert code == 0 and json.loads(out) == {"name": "École"}
        _both(["--home", str(sealed), "collections", "--json"], fast=True,
              monkeypatch=monkeypatch)
        # the agent answers for the sealed file it opened, not for a changed one
        f = sealed / "keys" / "identity.sealed"
        f.write_bytes(f.read_bytes() + b" ")
        assert not ANSWER(argv)
    finally:
        ok(sealed, "lock")
