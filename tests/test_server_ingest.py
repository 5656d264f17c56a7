"""Server ingest: dedup across sticks, equivocation, unknown senders, kill -9 safety."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sneakersync.wire import body as body_mod
from sneakersync.wire import canonical
from sneakersync.wire import merkle
from sneakersync.wire import packet
from sneakersync.store import peers
from sneakersync.wire import receipt as codec
from sneakersync.server.backends import open_server_db
from sneakersync.server.ingest import ingest_packet

from conftest import REPO
from server_support import Server, export, import_, receipt_files, setup


pytestmark = pytest.mark.usefixtures("server_backend")  # each test on SQLite and PostgreSQL


def test_duplicate_sticks_ingest_once(tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(30)])
    export(a, stick)
    # the same changes again in another packet (a full re-export: new bytes, same changes)
    from sneakersync.media.drive import export_to_drive
    export_to_drive(a.home, a.store, stick, ["Office server"], full=True)
    import_(b, stick)
    b.store.put("c", {"i": "b"}, "rb")
    export(b, stick)
    copies = []
    for n in range(3):  # the same packets on three sticks
        s2 = tmp_path / f"copy{n}"
        shutil.copytree(stick, s2)
        copies.append(s2)
    first = srv.ingest(copies[0])
    assert first["stored"] == 3 and first["changes_stored"] == 31
    assert first["changes_duplicate"] == 30 and not first["rejected"]
    for s2 in copies[1:]:
        again = srv.ingest(s2)
        assert again["stored"] == 0 and again["duplicates"] == 3 and again["changes_stored"] == 0
    assert srv.sstore.totals()["changes"] == 31
    assert srv.sstore.totals()["packets"] == 3
    # receipts on every copy are byte-identical
    assert receipt_files(copies[0]) == receipt_files(copies[2])


def test_equivocation_is_rejected_and_reported(tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.put("c", {"v": 1}, "r1")
    export(a, stick, ["Office server"])
    assert srv.ingest(stick)["changes_stored"] == 1
    # a forged re-numbering: a signs a different change 1 (a buggy or malicious device)
    other = canonical.dumpb({"c": 1, "d": {"v": 2}, "i": "r1", "k": "c", "o": a.id, "op": "put",
                             "t": 5, "v": {}})
    root = merkle.root([merkle.leaf_hash(other)])
    seg = body_mod.Segment(a.id, 1, 1, root,
                           body_mod.sign_segment(a.home.keys.sign_secret, a.id, 1, 1, root), [],
                           [other])
    b_ = body_mod.Body(sender=a.id, created=1, to=[srv.id], manifest={a.id: [[1, 1]]},
                       origins={a.id: a.home.card.encode()}, segments=[seg])
    data = packet.seal(a.home.keys, [srv.home.keys.enc_public], body_mod.encode(b_))
    o = ingest_packet(srv.home, srv.sstore, data)
    assert o.status == "rejected" and o.layer == "auth" and "two different" in o.error
    assert srv.sstore.totals()["rejected"] == 1 and srv.sstore.totals()["changes"] == 1


def test_unknown_sender_is_held_then_accepted_once(tmp_path: Path, make_device) -> None:
    from sneakersync.server.ingest import release

    srv, (a, _b), stick = setup(tmp_path, make_device)
    stranger = make_device("stranger", seed=77)
    from sneakersync.server.setup import use_server
    use_server(stranger.store, srv.home.card.encode())
    stranger.store.put("c", {"x": 1})
    export(stranger, stick)
    rep = srv.ingest(stick)
    assert rep["stored"] == 0 and rep["held"] == 1 and srv.sstore.totals()["changes"] == 0
    # the administrator accepts them once, knowingly: stored, recorded by the card
    got = release(srv.home, srv.sstore, rep["held_signers"][0], once=True).as_json()
    assert got["stored"] == 1 and stranger.id in got["senders"]
    devs = {d["device_id"]: d for d in srv.sstore.devices()}
    assert devs[stranger.id]["name"] == "stranger" and devs[stranger.id]["packets"] == 1
    assert peers.by_id(srv.core, stranger.id) is None  # recorded, not enrolled
    srv.ingest(stick)
    assert import_(stranger, stick).receipts == 1


_CHILD = r"""
import sys
from pathlib import Path
from sneakersync.store import home as H
from sneakersync.server.ingest import ingest_drive
from sneakersync.server.backends import open_server_db
h = H.load(Path(sys.argv[1]))
db = open_server_db(h)
print("READY", flush=True)
with db.session() as ss:
    ingest_drive(h, ss, Path(sys.argv[2]))
print("DONE")
"""


def _verify_receipts_are_backed(srv: Server, stick: Path, devs) -> None:
    """Every receipt on the stick covers only changes the server store holds."""
    db = open_server_db(srv.home, pool_size=1)
    try:
        with db.session() as ss:
            _check_backed(ss.core, srv, stick, devs)
    finally:
        db.close()


def _check_backed(core, srv: Server, stick: Path, devs) -> None:  # type: ignore[no-untyped-def]
    for name, data in receipt_files(stick).items():
        for d in devs:
            try:
                raw = codec.unwrap(data, d.home.keys.enc_secret)
            except Exception:
                continue
            rc = codec.verify(raw, server_key=srv.home.keys.sign_public, server_id=srv.id,
                              device_id=d.id)
            for origin, c in rc.body.covered.items():
                for lo, hi in c.ranges:
                    n = core.conn.execute(
                        "SELECT COUNT(*) FROM changes WHERE origin=? AND counter BETWEEN ? "
                        "AND ?", (origin, lo, hi)).fetchone()[0]
                    assert n == hi - lo + 1, f"receipt {name} covers unstored changes"


def test_kill_9_during_ingest_never_issues_unbacked_receipts(tmp_path: Path,
                                                             make_device) -> None:
    srv, devs, stick = setup(tmp_path, make_device, n=3)
    for i, d in enumerate(devs):
        d.store.write_many("c", [(f"{i}-{k}", {"k": k, "pad": "x" * 200}) for k in range(1500)])
        export(d, stick, ["Office server"])
    srv.close()
    clean = tmp_path / "clean"
    shutil.copytree(srv.home.path, clean)
    if srv.backend == "postgresql":  # the clean run gets a database (schema) of its own
        import server_support
        from pg_cluster import new_schema
        from sneakersync.server.backends import set_db_url

        assert server_support.PG_BASE is not None
        _, url = new_schema(server_support.PG_BASE)
        set_db_url(clean, url)
        from sneakersync.server.enroll import enroll
        from sneakersync.store import home as home_mod

        clean_home = home_mod.load(clean)
        clean_db = open_server_db(clean_home, pool_size=1)
        with clean_db.session() as ss:  # enrollment lives in the database too
            for d in devs:
                enroll(clean_home, ss, d.home.card.encode())
        clean_db.close()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(1234)
    for trial in range(4):
        p = subprocess.Popen([sys.executable, "-c", _CHILD, str(srv.home.path), str(stick)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert p.stdout is not None and p.stdout.readline().strip() == b"READY"
        time.sleep(rng.uniform(0.0, 0.6))  # ingest itself takes about 0.6 s here
        p.send_signal(signal.SIGKILL)
        p.wait()
        _verify_receipts_are_backed(srv, stick, devs)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(srv.home.path), str(stick)], env=env,
                         capture_output=True, text=True)
    assert "DONE" in out.stdout, out.stderr
    _verify_receipts_are_backed(srv, stick, devs)
    # the re-run completes to exactly the clean result
    clean_stick = tmp_path / "clean-stick"
    shutil.copytree(stick, clean_stick, ignore=shutil.ignore_patterns("*.rcpt"))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(clean), str(clean_stick)], env=env,
                         capture_output=True, text=True)
    assert "DONE" in out.stdout, out.stderr

    def state(home: Path) -> str:
        from sneakersync.store import home as H
        db = open_server_db(H.load(home), pool_size=1)
        try:
            with db.session() as ss:
                snap = ss.core.snapshot()
                snap["changes"] = ss.core.conn.execute(
                    "SELECT COUNT(*) FROM changes").fetchone()[0]
                return json.dumps(snap, sort_keys=True)
        finally:
            db.close()
    assert state(srv.home.path) == state(clean)
    assert receipt_files(stick) == receipt_files(clean_stick)
