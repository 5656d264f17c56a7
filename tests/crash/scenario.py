"""Crash-consistency trials: kill -9 a CLI command, then check and re-run.

A *template* holds three devices (alice, bob, carol, all peers of each other) and
a stick with packets for bob; alice also holds records nobody has yet.  Each trial
copies the template, runs one command in a child process under
``run_with_crash.py`` and kills it (at the k-th fsync/rename/COMMIT, before or
after it, or after a random delay), then checks:

* ``PRAGMA integrity_check`` is ``ok`` for every store touched;
* (export) the exporter recorded knowledge as *sent* only if a complete, verifying
  packet for it is on the stick; the stick holds no partial packet;
* a clean re-run reaches exactly the state of a run that was never killed
  (records, change log, knowledge, packet statuses, counters).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WRAPPER = HERE / "run_with_crash.py"
REPO = HERE.parents[1]

def _server_available() -> bool:
    try:
        import sneakersync.cli.server  # noqa: F401
        import sneakersync.sync.prune  # noqa: F401
        from sneakersync.server.ingest import ingest_drive  # noqa: F401
    except ImportError:
        return False
    return True


SERVER = _server_available()
OPS: tuple[str, ...] = ("import", "export") + (("ingest", "prune") if SERVER else ())
# whose state a clean re-run must reproduce, per op
CHECK_HOME = {"import": "bob", "export": "bob", "ingest": "server", "prune": "alice"}


def _rng(seed: int):  # type: ignore[no-untyped-def]
    r = random.Random(seed)
    return r.randbytes


def make_template(root: Path, *, records: int = 600, packets: int = 4) -> Path:
    """Build the template in ``root`` (devices + stick); returns ``root``."""
    from sneakersync.store import home as home_mod
    from sneakersync.store import peers
    from sneakersync.media.drive import export_to_drive

    root.mkdir(parents=True, exist_ok=True)
    homes = {n: home_mod.create(root / n, f"{n.title()} device", rng=_rng(i))
             for i, n in enumerate(("alice", "bob", "carol"), 1)}
    stores = {n: h.open_store() for n, h in homes.items()}
    for n, st in stores.items():
        for m, h in homes.items():
            if m != n:
                peers.add(st, h.card.encode())
    recipients = ["Bob device"]
    if SERVER:
        from sneakersync.wire.identity import KIND_SERVER
        from sneakersync.server.setup import use_server

        srv = home_mod.create(root / "server", "Office server", kind=KIND_SERVER, rng=_rng(9))
        for st in stores.values():
            use_server(st, srv.card.encode())
        srv_store = srv.open_store()  # the coordinator enrolls every device
        for h in homes.values():
            peers.add(srv_store, h.card.encode())
        srv_store.close()
        recipients.append("Office server")
    stick = root / "stick"
    stick.mkdir()
    per = max(1, records // packets)
    for i in range(packets):
        src = "alice" if i % 2 == 0 else "carol"
        st = stores[src]
        st.write_many("shelters", [(f"{src}-{i}-{j}", {"name": f"Shelter {i}.{j}",
                                                         "beds": j, "note": "x" * (j % 50)})
                                    for j in range(per)])
        if i:
            st.put("shelters", {"name": "edited", "by": src}, f"alice-0-{i}")
        export_to_drive(homes[src], st, stick, recipients)
    # alice holds fresh records nobody has: the export trials send them
    stores["alice"].write_many("households", [(f"h{j}", {"size": j % 9, "head": f"H{j}"})
                                              for j in range(per)])
    for st in stores.values():
        st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        st.close()
    if SERVER:
        _make_prune_template(root)
    return root


def _make_prune_template(root: Path) -> None:
    """``root/prune``: the server ingested the stick, alice took her receipt back and
    allows pruning of delivered shelters: ``prune`` has work to do."""
    from sneakersync.store import home as home_mod
    from sneakersync.media.drive import import_from_drive
    from sneakersync.sync.prune import set_retention

    dst = root / "prune"
    dst.mkdir()
    for n in ("alice", "bob", "carol", "server", "stick"):
        shutil.copytree(root / n, dst / n)
    _ingest(dst)
    h = home_mod.load(dst / "alice")
    st = h.open_store()
    try:
        import_from_drive(h, st, dst / "stick")
        set_retention(st, "shelters", "after-receipt")
        st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        st.close()


def _ingest(work: Path) -> None:
    from sneakersync.store import home as home_mod
    from sneakersync.server.ingest import ingest_drive
    from sneakersync.server.store import SqliteServerStore

    srv = home_mod.load(work / "server")
    core = srv.open_store()
    try:
        ingest_drive(srv, SqliteServerStore(core), work / "stick")
    finally:
        core.close()


def template_for(template: Path, op: str) -> Path:
    return template / "prune" if op == "prune" else template


def clone(template: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(template, dst)
    return dst


def cli_args(op: str, work: Path) -> list[str]:
    if op == "import":
        return ["--home", str(work / "bob"), "import", str(work / "stick"), "--json"]
    if op == "export":
        return ["--home", str(work / "alice"), "export", str(work / "stick"), "--json"]
    if op == "ingest":
        return ["--home", str(work / "server"), "server", "ingest", str(work / "stick"),
                "--json"]
    if op == "prune":
        return ["--home", str(work / "alice"), "prune", "--json", "--yes"]
    raise ValueError(op)


def run_child(op: str, work: Path, *, kill_at: int = 0, phase: str = "before",
              delay: float | None = None, count_to: Path | None = None,
              timeout: float = 120) -> int:
    """Run ``op`` in a child; returns its exit status (-9 when killed)."""
    cmd = [sys.executable, str(WRAPPER)]
    if kill_at:
        cmd += ["--kill-at", str(kill_at), "--phase", phase]
    if count_to:
        cmd += ["--count-to", str(count_to)]
    cmd += ["--"] + cli_args(op, work)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if delay is not None:
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    if proc.returncode not in (0, 1, -9):
        raise RuntimeError(f"child failed ({proc.returncode}): {err.decode()[-800:]}")
    return proc.returncode


def count_points(op: str, template: Path, work: Path) -> tuple[int, list[str], float]:
    """Durability points of a clean run of ``op`` (and its wall time)."""
    clone(template_for(template, op), work)
    out = work.parent / f"{work.name}.count"
    t0 = time.perf_counter()
    run_child(op, work, count_to=out)
    wall = time.perf_counter() - t0
    n, trace = out.read_text().split("\n")[:2]
    return int(n), trace.split(","), wall


def integrity(db: Path) -> str:
    conn = sqlite3.connect(str(db))
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def state(home_dir: Path, *, packets: bool = True) -> dict[str, Any]:
    """What a re-run must reproduce exactly (timestamps excluded)."""
    from sneakersync.store import home as home_mod

    h = home_mod.load(home_dir)
    st = h.open_store()
    try:
        q = st.conn.execute
        out: dict[str, Any] = {
            "snapshot": st.snapshot(),
            "changes": [list(r) for r in q("SELECT origin, counter, hex(hash), segment IS NULL "
                                           "FROM changes ORDER BY origin, counter")],
            "counter": st.counter,
            "knowledge": [list(r) for r in q("SELECT peer, origin, source, ranges FROM knowledge"
                                             " ORDER BY 1, 2, 3")],
        }
        if packets:
            out["packets"] = [list(r) for r in q("SELECT packet_id, status, changes FROM packets"
                                                 " ORDER BY 1")]
        return out
    finally:
        st.close()


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def rerun(op: str, work: Path) -> None:
    """The clean re-run after a crash, in-process."""
    from sneakersync.store import home as home_mod
    from sneakersync.media.drive import export_to_drive, import_from_drive

    if op == "import":
        h = home_mod.load(work / "bob")
        st = h.open_store()
        try:
            import_from_drive(h, st, work / "stick")
        finally:
            st.close()
    elif op == "ingest":
        _ingest(work)
    elif op == "prune":
        from sneakersync.sync.prune import prune

        h = home_mod.load(work / "alice")
        st = h.open_store()
        try:
            prune(h, st)
        finally:
            st.close()
    else:
        h = home_mod.load(work / "alice")
        st = h.open_store()
        try:
            export_to_drive(h, st, work / "stick", [])
        finally:
            st.close()
        rerun("import", work)  # bob takes what alice wrote


def stick_packets(work: Path) -> dict[str, bool]:
    """Packet files on the stick -> whether each verifies against its name."""
    d = work / "stick" / "sneakersync" / "v1" / "packets"
    out = {}
    for p in sorted(d.iterdir()) if d.is_dir() else []:
        out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest() + ".pkt" == p.name
    return out


def receipts_on_stick(work: Path) -> dict[str, bytes]:
    d = work / "stick" / "sneakersync" / "v1" / "receipts"
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())} if d.is_dir() else {}


def receipts_cover_only_stored(work: Path) -> list[str]:
    """Every receipt on the stick covers only changes the server's store holds."""
    from sneakersync.store import home as home_mod
    from sneakersync.wire import receipt as codec
    from sneakersync.errors import SneakersyncError

    problems = []
    devs = [home_mod.load(work / n) for n in ("alice", "bob", "carol")]
    conn = sqlite3.connect(str(work / "server" / "store.db"))
    try:
        for name, data in receipts_on_stick(work).items():
            rc = None
            for h in devs:
                try:
                    rc = codec.decode(codec.unwrap(data, h.keys.enc_secret))
                    break
                except SneakersyncError:
                    continue
            if rc is None:
                problems.append(f"receipt {name[:12]} opens for no device")
                continue
            for origin, cov in rc.body.covered.items():
                for lo, hi in cov.ranges:
                    n = conn.execute("SELECT COUNT(*) FROM changes WHERE origin=? AND counter "
                                     "BETWEEN ? AND ?", (origin, lo, hi)).fetchone()[0]
                    if n != hi - lo + 1:
                        problems.append(f"receipt {name[:12]} covers {origin}:{lo}-{hi} but the "
                                        f"server holds {n} of them")
    finally:
        conn.close()
    return problems


def record_keys(home_dir: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(str(home_dir / "store.db"))
    try:
        return {(c, r) for c, r in conn.execute(
            "SELECT collection, rid FROM records WHERE deleted=0")}
    finally:
        conn.close()


def sent_knowledge(home_dir: Path) -> list[list[Any]]:
    conn = sqlite3.connect(str(home_dir / "store.db"))
    try:
        return [list(r) for r in conn.execute(
            "SELECT peer, origin, ranges FROM knowledge WHERE source='sent' ORDER BY 1, 2")]
    finally:
        conn.close()


class Reference:
    """Clean results for each op, computed once per template."""

    def __init__(self, template: Path, scratch: Path) -> None:
        self.template = template
        self.scratch = scratch
        self.clean: dict[str, dict[str, Any]] = {}
        self.points: dict[str, tuple[int, list[str], float]] = {}
        self.before_sent = sent_knowledge(template / "alice")
        self.before_packets = stick_packets(template)
        self.receipts: dict[str, bytes] = {}
        self.prune_before: set[tuple[str, str]] = set()
        self.prune_after: set[tuple[str, str]] = set()
        for op in OPS:
            work = scratch / f"clean-{op}"
            self.points[op] = count_points(op, template, work)  # a clean run, counted
            if op == "export":
                rerun("import", work)
            if op == "ingest":
                self.receipts = receipts_on_stick(work)
            if op == "prune":
                self.prune_before = record_keys(template_for(template, op) / "alice")
                self.prune_after = record_keys(work / "alice")
            self.clean[op] = state(work / CHECK_HOME[op], packets=(op != "export"))


def trial(ref: Reference, op: str, work: Path, *, kill_at: int = 0, phase: str = "before",
          delay: float | None = None) -> dict[str, Any]:
    """One killed run and its checks; returns a result row (``ok`` False on a violation)."""
    clone(template_for(ref.template, op), work)
    code = run_child(op, work, kill_at=kill_at, phase=phase, delay=delay)
    problems: list[str] = []
    checked = ("alice", "bob", "server") if SERVER else ("alice", "bob")
    for dev in checked:
        got = integrity(work / dev / "store.db")
        if got != "ok":
            problems.append(f"{dev} integrity: {got}")
    if op == "export":
        pk = stick_packets(work)
        if not all(pk.values()):
            problems.append("a packet on the stick does not verify")
        new_packets = [n for n in pk if n not in ref.before_packets]
        if sent_knowledge(work / "alice") != ref.before_sent and not new_packets:
            problems.append("knowledge recorded as sent, but no new packet on the stick")
    if op == "ingest":
        problems += receipts_cover_only_stored(work)
    if op == "prune":
        left = record_keys(work / "alice")
        if not ref.prune_after <= left <= ref.prune_before:
            problems.append("prune deleted a record the clean run keeps (or resurrected one)")
    try:
        rerun(op, work)
        got_state = state(work / CHECK_HOME[op], packets=(op != "export"))
        if got_state != ref.clean[op]:
            problems.append(f"re-run state {digest(got_state)} != clean {digest(ref.clean[op])}")
        if op == "ingest" and receipts_on_stick(work) != ref.receipts:
            problems.append("re-run receipts differ from a clean run's (not byte-identical)")
        for dev in checked:
            if integrity(work / dev / "store.db") != "ok":
                problems.append(f"{dev} integrity after re-run")
    except Exception as exc:  # noqa: BLE001 - a failed re-run is a finding
        problems.append(f"re-run failed: {type(exc).__name__}: {exc}")
    return {"op": op, "kill_at": kill_at, "phase": phase, "delay": delay, "exit": code,
            "killed": code == -9, "ok": not problems, "problems": problems}
