"""Every command, driven with hostile arguments and files (issue 14), must answer like a tool:

- success, or ``sneakersync: error: ...`` on stderr's first line (then only ``hint:`` lines),
  with an exit code documented in ``sneakersync.errors``; never a traceback, never our
  last-resort "internal error" line (that would be a bug this test is here to find);
- nothing half-written: after a failure the device's store shows what it showed before and
  no temporary file is left behind.

Bounded for CI: the real entry point runs in-process (``cli_runner.invoke``) on a fresh
copy of a small prepared world per example, a few derandomized examples per command.
Commands that block by design (servers, radios, the browser UI, the demo, network
pushes, the unlock agent) are left out and listed in ``SKIPPED``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_runner import card, invoke, ok

DOCUMENTED = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 130}
# exit 1 with the others applied is documented for these (a packet was rejected)
PARTIAL_OK = {"import", "quarantine accept", "peer trust", "qr receive", "server ingest",
              "server accept"}
SKIPPED = {
    "beacon advertise", "beacon scan",  # radios: they wait for peers
    "demo",  # a whole scenario (tested in test_demo / by hand)
    "ui", "server serve",  # servers: they run until stopped
    "push", "eden pull", "eden push", "eden bind",  # network, with timeouts of their own
    "unlock", "lock", "passphrase remember", "passphrase forget",  # the agent process
    "passphrase set", "passphrase change", "passphrase keyfile",  # a KDF per example
}
_TEMP = re.compile(r"(\.tmp$|\.part$|^\.tmp-|\.\d+\.tmp$)")


def _commands() -> list[tuple[str, click.Command]]:
    from sneakersync.cli.commands import cli

    out: list[tuple[str, click.Command]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            if path and cmd.invoke_without_command:
                out.append((" ".join(path), cmd))
            for name, sub in cmd.commands.items():
                walk(sub, path + [name])
        else:
            out.append((" ".join(path), cmd))
    walk(cli, [])
    return [(n, c) for n, c in out if n not in SKIPPED]


COMMANDS = _commands()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two devices that know each other, a server, a stick with packets, hostile files."""
    w = tmp_path_factory.mktemp("world")
    amina, juma, srv = w / "amina", w / "juma", w / "srv"
    ok(amina, "init", "--name", "Amina", "--no-passphrase")
    ok(juma, "init", "--name", "Juma tablet", "--no-passphrase")
    ok(srv, "server", "init", "--name", "District server", "--no-passphrase")
    ok(amina, "peer", "add", card(juma))
    ok(juma, "peer", "add", card(amina))
    ok(amina, "server", "use", card(srv))
    ok(amina, "put", "shelters", '{"name": "Kibera school", "capacity": 120}', "--id", "s1")
    ok(juma, "put", "shelters", '{"name": "Mathare hall"}', "--id", "s2")
    stick = w / "usb"
    stick.mkdir()
    ok(juma, "export", str(stick))
    ok(amina, "export", str(stick))
    f = w / "files"
    f.mkdir()
    (f / "juma.card").write_text(card(juma), encoding="utf-8")
    (f / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (f / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (f / "deep.jsonl").write_text('{"a": ' + "[" * 3000 + "]" * 3000 + "}\n", encoding="utf-8")
    (f / "surrogate.jsonl").write_text('{"id": "x", "a": "\\ud800"}\n', encoding="utf-8")
    (f / "latin1.csv").write_bytes("id,name\n1,Jos\xe9\n".encode("latin-1"))
    (f / "semi.csv").write_text("id;name\n1;Asha\n", encoding="utf-8")
    (f / "ragged.csv").write_text("id,name\n1,a,b\n", encoding="utf-8")
    (f / "empty.jsonl").write_bytes(b"")
    (f / "exists.out").write_text("keep me\n", encoding="utf-8")
    (f / "rec.json").write_text('{"a": 1}', encoding="utf-8")
    (f / "nul.json").write_bytes(b'{"a": "\x00"}')
    pkt = next((stick / "sneakersync" / "v1" / "packets").iterdir())
    shutil.copy(pkt, f / "packet.pkt")
    (f / "truncated.pkt").write_bytes(pkt.read_bytes()[:100])
    (f / "folder").mkdir()
    return w


def _snapshot(home: Path) -> Any:
    from sneakersync.store import home as home_mod

    h = home_mod.load(home)
    s = h.open_store()
    try:
        peers = [list(r) for r in s.conn.execute(
            "SELECT device_id, name, trust, verified, revoked_at FROM peers ORDER BY device_id")]
        settings_ = [list(r) for r in s.conn.execute("SELECT * FROM meta ORDER BY 1")]
        return s.snapshot(), peers, settings_
    finally:
        s.close()


def _temp_files(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if _TEMP.search(p.name))


def _values(w: Path) -> st.SearchStrategy[str]:
    f = w / "files"
    paths = [str(p) for p in sorted(f.iterdir())] + [
        str(w / "usb"), str(w / "missing"), str(w / "missing" / "deeper" / "out.x"),
        "/proc/foo", "/proc/foo/bar", str(f / "folder") + "/", "-"]
    words = ["Juma tablet", "juma TABLET", "Nobody", "", " ", "Amina", "District server",
             "shelters", "s1", "s2", "households", "_bad", "a/b", "x" * 300, "\x1b[31mred",
             "line\nbreak", "\ud800", "caf\u00e9", "*", "1", "-1", "0", "99999999999999999999",
             "nan", "1e308", "manual", "merge", "days:-1", "days:99999999999",
             "{}", "[]", "null", '{"a": "\\ud800"}', '{"a": ' + "[" * 3000 + "]" * 3000 + "}",
             '{"x": 1e999}', '{"id": {"no": 1}}', "SNK1:AAAA", "SNK1:" + "A" * 5000,
             "http://127.0.0.1:9/", "age", "f=1", "=", "jsonl", "csv", "s3xml"]
    return st.one_of(st.sampled_from(paths), st.sampled_from(words),
                     st.text(max_size=12))


def _tokens(cmd: click.Command, w: Path) -> st.SearchStrategy[list[str]]:
    opts = [o for p in cmd.params if isinstance(p, click.Option) for o in p.opts
            if o not in ("--help",)]
    pool = _values(w)
    token = st.one_of(st.sampled_from(opts), pool) if opts else pool
    return st.lists(token, max_size=6)


def _check(name: str, r: Any, before: Any, home: Path, root: Path, args: list[str]) -> None:
    where = f"{name} {args!r}"
    assert "Traceback" not in r.err and "Traceback" not in r.out, where + "\n" + r.err
    assert r.code in DOCUMENTED, (where, r.code, r.err)
    if r.code == 0:
        return
    lines = [x for x in r.err.splitlines() if x.strip()]
    partial = r.code == 1 and name in PARTIAL_OK
    if not partial:
        assert lines, (where, r.code)
        first = next((x for x in lines if x.startswith("sneakersync: ")), None)
        assert first is not None and lines.index(first) <= 2, (where, r.err)
        assert first.startswith(("sneakersync: error: ", "sneakersync: aborted",
                                 "sneakersync: interrupted")), (where, r.err)
        assert "internal error" not in first, (where, r.err)
        after_first = lines[lines.index(first) + 1:]
        assert all(x.startswith(("hint: ", "warning: ", "held: ", "rejected: "))
                   for x in after_first), (where, r.err)
        assert _snapshot(home) == before, ("half-written", where, r.err)
    assert _temp_files(root) == [], ("temporary files left", where, r.err)


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_command_answers_hostile_input_in_one_line(name: str, world: Path,
                                                   tmp_path: Path) -> None:
    cmd = dict(COMMANDS)[name]
    home_name = "srv" if name.startswith("server") else "amina"

    @settings(max_examples=4, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(args=_tokens(cmd, world))
    def run(args: list[str]) -> None:
        root = tmp_path / "w"
        if root.exists():
            shutil.rmtree(root)
        shutil.copytree(world, root, symlinks=True)
        home = root / home_name
        # paths in the values point into the prepared world: point them at this copy
        args = [a.replace(str(world), str(root)) for a in args]
        before = _snapshot(home)
        r = invoke(home, *name.split(), *args, env={"SNEAKERSYNC_PROGRESS": "0"})
        _check(name, r, before, home, root, args)

    run()


def test_every_command_is_driven_or_listed_as_skipped() -> None:
    from sneakersync.cli.commands import cli

    names = {n for n, _ in COMMANDS} | SKIPPED
    for name, cmd in cli.commands.items():
        if not isinstance(cmd, click.Group):
            assert name in names, name
    assert len(COMMANDS) >= 40


def test_the_issues_tracebacks_are_one_line_errors(world: Path, tmp_path: Path) -> None:
    """The list from issue 14, each exactly as the user typed it."""
    root = tmp_path / "w"
    shutil.copytree(world, root)
    a, srv, f = root / "amina", root / "srv", root / "files"
    cases = [
        (a, ["key", "export", "--age", "--out", str(f / "exists.out")], 2),
        (a, ["put", "c", '{"a": "\\ud800"}'], 2),
        (a, ["load", "c", str(f / "surrogate.jsonl")], 5),
        (a, ["put", "c", '{"a": ' + "[" * 3000 + "]" * 3000 + "}"], 2),
        (a, ["load", "c", str(f / "deep.jsonl")], 5),
        (a, ["whoami", "--qr", str(root / "missing" / "card.png")], 3),
        (srv, ["server", "export", "--out", str(root / "missing" / "x.jsonl")], 3),
        (a, ["key", "export", "--age", "--out", str(root / "missing" / "k")], 3),
        (a, ["peer", "add", "--scan", str(f / "garbage.png")], 5),
        (a, ["peer", "add", "--scan", str(f / "rec.json")], 5),
        (Path("/proc/foo"), ["init", "--name", "X", "--no-passphrase"], None),
    ]
    for home, args, code in cases:
        before = _snapshot(a)
        r = invoke(home, *args)
        lines = r.err.splitlines()
        assert lines and lines[0].startswith("sneakersync: error: "), (args, r.err)
        assert "Traceback" not in r.err and "internal error" not in r.err, (args, r.err)
        assert all(x.startswith("hint: ") for x in lines[1:]), (args, r.err)
        assert r.code == code if code is not None else r.code in DOCUMENTED - {0}, (args, r.code)
        assert _snapshot(a) == before
    assert (f / "exists.out").read_text(encoding="utf-8") == "keep me\n"
    assert not (root / "missing").exists()
