"""kill -9 during `passphrase set` (sealing a plain home) and `passphrase change`.

Each trial copies a template home, runs the CLI command in a child under
``tests/crash/run_with_crash.py`` (which SIGKILLs it just before or just after
its k-th fsync / rename / COMMIT), for every k of a clean run and both sides;
a few more trials are killed from outside after a random delay.  Afterwards the
home opens either as the old one (plain, or under the old passphrase) or as the
new one, never neither, with exactly the records it had; re-running the command
then finishes the job.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from sneakersync.errors import LockedError
from sneakersync.store import home as home_mod

HARNESS = REPO / "tests" / "crash" / "run_with_crash.py"
OLD, NEW = "old passphrase", "new passphrase"


def _env(**kw: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("SNEAKERSYNC_PASSPHRASE")}
    e.update(kw)
    e["PYTHONPATH"] = str(REPO)
    return e


def _contents(h: home_mod.Home) -> tuple:
    s = h.open_store()
    try:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = tuple((c["name"], tuple(s.rows(c["name"]))) for c in s.collections())
        return rows, s.counter, s.conn.execute("SELECT count(*) FROM changes").fetchone()[0]
    finally:
        s.close()


def _fill(h: home_mod.Home) -> tuple:
    s = h.open_store()
    s.write_many("households", ((f"hh-{i}", {"head": f"Head {i}", "members": i % 9})
                                for i in range(300)))
    s.put("patients", {"full_name": "Wanjiru Ochieng"}, "pt-1")
    s.delete("households", "hh-3")
    s.close()
    return _contents(h)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("atrest-crash")
    plain = home_mod.create(root / "plain", "Plain laptop")
    sealed = home_mod.create(root / "sealed", "Sealed laptop", passphrase=OLD)
    return {"root": root, "plain": (plain.path, _fill(plain), plain.device_id),
            "sealed": (sealed.path, _fill(sealed), sealed.device_id)}


OPS = {
    "set": ("plain", ["passphrase", "set"], {"SNEAKERSYNC_PASSPHRASE": NEW}),
    "change": ("sealed", ["passphrase", "change"],
               {"SNEAKERSYNC_PASSPHRASE": OLD, "SNEAKERSYNC_NEW_PASSPHRASE": NEW}),
}


def _run(op: str, home: Path, *pre: str) -> subprocess.CompletedProcess[str]:
    _, args, env = OPS[op]
    return subprocess.run([sys.executable, str(HARNESS), *pre, "--", "--home", str(home), *args],
                          capture_output=True, text=True, cwd=REPO, env=_env(**env))


def _state(home: Path, device_id: str, expect: tuple) -> str:
    """'old' or 'new'; fails if the home opens as neither (or both) or lost anything."""
    if not (home / "keys" / "identity.sealed").exists():  # still the plain home
        h = home_mod.load(home, lambda: None)
        assert not h.sealed and h.device_id == device_id and _contents(h) == expect
        return "old"
    found = []
    for label, pw in (("old", OLD), ("new", NEW)):
        try:
            h = home_mod.load(home, pw)
        except LockedError:
            continue
        assert h.sealed and h.device_id == device_id
        assert _contents(h) == expect
        found.append(label)
    assert len(found) == 1, found
    return found[0]


def _points(op: str, templates: dict, tmp: Path) -> int:
    home = tmp / "count"
    shutil.copytree(templates[OPS[op][0]][0], home)
    out = tmp / "count.txt"
    p = _run(op, home, "--count-to", str(out))
    assert p.returncode == 0, p.stderr
    return int(out.read_text().split()[0])


@pytest.mark.parametrize("op", sorted(OPS))
def test_kill_at_every_durability_point(op: str, templates: dict, tmp_path: Path) -> None:
    src, expect, device_id = templates[OPS[op][0]]
    n = _points(op, templates, tmp_path)
    assert n >= (8 if op == "set" else 2)
    seen = set()
    for k in range(1, n + 1):
        for phase in ("before", "after"):
            home = tmp_path / f"k{k}{phase}"
            shutil.copytree(src, home)
            p = _run(op, home, "--kill-at", str(k), "--phase", phase)
            assert p.returncode == -signal.SIGKILL, (k, phase, p.returncode, p.stderr)
            seen.add(_state(home, device_id, expect))
            again = _run(op, home)  # the user runs it again (or, once sealed, just uses it)
            if again.returncode != 0:
                assert "already has a passphrase" in again.stderr or op == "change", again.stderr
            assert _state(home, device_id, expect) == "new"
            assert os.listdir(home / "keys") == ["identity.sealed"]
            assert not (home / home_mod.SEALING_STORE).exists()
            shutil.rmtree(home)
    assert seen == {"old", "new"}  # kills fell on both sides of the commit


def test_kill_at_random_moments(templates: dict, tmp_path: Path) -> None:
    rng = random.Random(13)
    for i in range(4):
        op = ("set", "change")[i % 2]
        src, expect, device_id = templates[OPS[op][0]]
        home = tmp_path / f"r{i}"
        shutil.copytree(src, home)
        _, args, env = OPS[op]
        child = subprocess.Popen([sys.executable, "-m", "sneakersync", "--home", str(home),
                                  *args], cwd=REPO, env=_env(**env),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait()
        _state(home, device_id, expect)
