"""Device side of delivery receipts: pick them up, check them, remember coverage.

A receipt is accepted only if it decrypts with this device's key, is signed by
the destination server (``sneakersync server use CARD``; no other server-kind peer
counts), names this device,
is newer than the last one from that server and still covers everything the last
one did, and its Merkle roots match this device's own change hashes.  Anything
else is counted and ignored: a bad receipt never deletes anything.

Tables (created here, in the device's store file):

- ``rcpt_state``: per server, the last accepted receipt (exact bytes) and seq;
- ``rcpt_cover``: per server and origin, counter ranges newly covered by each
  accepted receipt, with the time it was accepted (for ``after-receipt-days``).
"""

from __future__ import annotations

import json
from typing import Any

from sneakersync.store import peers as peers_mod
from sneakersync.wire import receipt as codec
from sneakersync.errors import NoMatchError, SneakersyncError
from sneakersync.store.home import Home
from sneakersync.store.records import Store, now_ms
from sneakersync.sync.engine import ImportReport, record_knowledge, subtract, union
from sneakersync.sync.medium import DeadDrop

Ranges = list[list[int]]
DESTINATION_SETTING = "destination"

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS rcpt_state (
        server TEXT PRIMARY KEY, seq INTEGER NOT NULL, receipt BLOB NOT NULL,
        at INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS rcpt_cover (
        server TEXT NOT NULL, origin TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
        at INTEGER NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS rcpt_cover_origin ON rcpt_cover (origin, lo)""",
    # per server and origin, the last accepted receipt's leaf count, highest counter and
    # the hashes of merkle.blocks(n): later receipts that extend it are checked without
    # the leaf hashes compaction removed (sync/compact.py)
    """CREATE TABLE IF NOT EXISTS rcpt_peaks (
        server TEXT NOT NULL, origin TEXT NOT NULL, n INTEGER NOT NULL, last INTEGER NOT NULL,
        peaks TEXT NOT NULL, PRIMARY KEY (server, origin))""",
]


class ReportWithReceipts(ImportReport):
    """An import report that also counts the receipts picked up from the drive."""

    receipts: int = 0
    receipt_detail: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out = super().as_json()
        out["receipts"] = self.receipts
        return out


def ensure_schema(store: Store) -> None:
    with store.transaction():
        for stmt in _SCHEMA:
            store.conn.execute(stmt)


def servers(store: Store) -> list[peers_mod.Peer]:
    """Servers whose receipts this device accepts: only the destination chosen with
    ``sneakersync server use`` (a server card added as an ordinary peer does not count:
    its receipts would let ``prune`` delete what the real destination never had)."""
    p = destination(store)
    return [p] if p is not None and p.kind == "server" else []


def destination(store: Store) -> peers_mod.Peer | None:
    dest = store.get_setting(DESTINATION_SETTING)
    if dest:
        p = peers_mod.by_id(store, dest)
        if p is not None and not p.revoked:
            return p
    return None


def last_receipt(store: Store, server_id: str) -> codec.Receipt | None:
    row = store.conn.execute("SELECT receipt FROM rcpt_state WHERE server=?",
                             (server_id,)).fetchone()
    return None if row is None else codec.decode(bytes(row[0]))


def check_plain(home: Home, store: Store, raw: bytes) -> tuple[str, codec.Receipt]:
    """Verify a decrypted receipt against this device's servers and state.

    Returns (status, receipt) with status "accepted", "duplicate" or "stale";
    raises :class:`receipts_codec.ReceiptProblem` for anything to refuse.
    """
    status, rc, _ = _check(home, store, raw)
    return status, rc


Blocks = dict[str, tuple[int, int, dict[tuple[int, int], bytes]]]


def _check(home: Home, store: Store, raw: bytes) -> tuple[str, codec.Receipt, Blocks]:
    rc = codec.decode(raw)
    server = next((p for p in servers(store) if p.sign_pub == rc.body.server_key), None)
    if server is None:
        raise codec.ReceiptProblem("foreign-server", f"receipt is signed by {rc.body.server}, "
                                   "which is not this device's destination server")
    rc = codec.verify(raw, server_key=server.sign_pub, server_id=server.device_id,
                      device_id=home.device_id)
    status = codec.compare(rc, last_receipt(store, server.device_id))
    blocks: Blocks = {}
    if status == "accepted":
        blocks = check_roots(store, server.device_id, rc)
    return status, rc, blocks


def check_roots(store: Store, server_id: str, rc: codec.Receipt) -> Blocks:
    """Recompute each covered root from this device's hashes; returns, per origin, the
    new (leaf count, highest counter, block hashes) to remember.

    A receipt that extends the last accepted one (every newly covered counter is
    above everything covered before) is checked from the remembered block hashes
    plus the new leaves, so settled changes need keep no hash here.

    Memory does not grow with the receipt: the leaf hashes are read from the change
    log in counter order (one cursor per covered range) into a
    :class:`merkle.Accumulator`, which keeps O(log n) hashes.
    """
    from sneakersync.wire import crypto, merkle

    ensure_schema(store)
    out = {}
    for origin, c in rc.body.covered.items():
        total = sum(hi - lo + 1 for lo, hi in c.ranges)
        acc = merkle.Accumulator()
        after = None  # counters up to this one stand as remembered block hashes
        row = store.conn.execute("SELECT n, last, peaks FROM rcpt_peaks WHERE server=? AND "
                                 "origin=?", (server_id, origin)).fetchone()
        if row is not None:
            n_old, last_old = int(row[0]), int(row[1])
            # the receipt extends the last one: exactly n_old covered counters <= last_old
            if sum(max(0, min(hi, last_old) - lo + 1) for lo, hi in c.ranges) == n_old:
                known = {(int(k.split(",")[0]), int(k.split(",")[1])): bytes.fromhex(v)
                         for k, v in json.loads(row[2]).items()}
                acc = merkle.Accumulator(known, n_old)
                after = last_old
        for lo, hi in c.ranges:
            if after is not None:
                lo = max(lo, after + 1)
            want = lo
            for counter, h in store.conn.execute(
                    "SELECT counter, hash FROM changes WHERE origin=? AND counter BETWEEN ? "
                    "AND ? ORDER BY counter", (origin, lo, hi)):
                if counter != want:
                    break
                acc.add(bytes(h))
                want += 1
            if want <= hi:
                raise codec.ReceiptProblem(
                    "not-held", f"receipt covers change {origin}:{want}, which this "
                    "device does not hold")
        if not crypto.ct_equal(acc.root(), c.root):
            raise codec.ReceiptProblem("root-mismatch", f"receipt root for {origin} does not "
                                                        "match this device's changes")
        out[origin] = (total, c.ranges[-1][1], acc.blocks())
    return out


def _accept(store: Store, rc: codec.Receipt, peaks: Blocks) -> None:
    server = rc.body.server
    at = now_ms()
    prev = last_receipt(store, server)
    with store.transaction():
        for origin, (n, last, blocks) in peaks.items():
            store.conn.execute(
                "INSERT OR REPLACE INTO rcpt_peaks(server, origin, n, last, peaks) VALUES"
                "(?,?,?,?,?)", (server, origin, n, last, json.dumps(
                    {f"{lo},{hi}": h.hex() for (lo, hi), h in blocks.items()})))
        for origin, c in rc.body.covered.items():
            old = prev.body.covered[origin].ranges if prev and origin in prev.body.covered else []
            for lo, hi in subtract(c.ranges, old):
                store.conn.execute("INSERT INTO rcpt_cover(server, origin, lo, hi, at) "
                                   "VALUES(?,?,?,?,?)", (server, origin, lo, hi, at))
        store.conn.execute(
            "INSERT INTO rcpt_state(server, seq, receipt, at) VALUES(?,?,?,?) "
            "ON CONFLICT(server) DO UPDATE SET seq=excluded.seq, receipt=excluded.receipt, "
            "at=excluded.at", (server, rc.body.seq, rc.raw, at))
        # the server holds these: the next export to it is a delta (a receipt is an ack)
        record_knowledge(store, server, "receipt",
                         {o: c.ranges for o, c in rc.body.covered.items()})
        peers_mod.touch(store, server)


def apply_wrapped(home: Home, store: Store, data: bytes) -> dict[str, Any]:
    """Decrypt, check and (if newer) accept one wrapped receipt.

    Returns {"status": accepted|duplicate|stale|not_mine|rejected, ...}.
    """
    ensure_schema(store)
    try:
        raw = codec.unwrap(data, home.keys.enc_secret)
    except NoMatchError:
        return {"status": "not_mine"}
    except SneakersyncError as err:
        return {"status": "rejected", "reason": "wrapping", "error": f"{err.layer}: {err}"}
    try:
        status, rc, peaks = _check(home, store, raw)
    except codec.ReceiptProblem as err:
        return {"status": "rejected", "reason": err.reason, "error": f"{err.layer}: {err}"}
    if status == "accepted":
        _accept(store, rc, peaks)
    return {"status": status, "server": rc.body.server, "seq": rc.body.seq}


def import_receipts(home: Home, store: Store, drive: DeadDrop) -> dict[str, Any]:
    """Pick up this device's receipts from a dead drop (e.g. ``media.drive.Drive``).

    Returns counts: {"receipts": accepted, "duplicate", "stale", "not_mine",
    "rejected": [{"file", "reason", "error"}], "seq": {server: seq}}.
    """
    out: dict[str, Any] = {"receipts": 0, "duplicate": 0, "stale": 0, "not_mine": 0,
                           "rejected": [], "seq": {}}
    for path in drive.receipts():
        try:
            data = drive.read(path)
        except SneakersyncError as err:
            out["rejected"].append({"file": path.name, "reason": "damaged",
                                    "error": f"{err.layer}: {err}"})
            continue
        res = apply_wrapped(home, store, data)
        st = res["status"]
        if st == "accepted":
            out["receipts"] += 1
            out["seq"][res["server"]] = res["seq"]
        elif st == "rejected":
            out["rejected"].append({"file": path.name, "reason": res["reason"],
                                    "error": res["error"]})
        else:
            out[st] += 1
    return out


def covered_ranges(store: Store) -> dict[str, Ranges]:
    """Per origin, every counter an accepted receipt of the destination covers."""
    ensure_schema(store)
    ok = {p.device_id for p in servers(store)}
    out: dict[str, Ranges] = {}
    for server, origin, lo, hi in store.conn.execute(
            "SELECT server, origin, lo, hi FROM rcpt_cover ORDER BY origin, lo"):
        if server in ok:
            out[origin] = union(out.get(origin, []), [[lo, hi]])
    return out


def covered_since(store: Store, origin: str, counter: int) -> int | None:
    """When (ms) the destination's receipt first covered (origin, counter); None if never."""
    ok = {p.device_id for p in servers(store)}
    best: int | None = None
    for server, at in store.conn.execute(
            "SELECT server, at FROM rcpt_cover WHERE origin=? AND lo<=? AND hi>=?",
            (origin, counter, counter)):
        if server in ok and (best is None or at < best):
            best = int(at)
    return best


def compact(store: Store, older_than_ms: int) -> int:
    """Merge coverage rows accepted before ``older_than_ms`` (exact times no longer matter).

    Merged rows keep the latest of their times, so a retention period is never
    shortened.  Returns how many rows were removed.
    """
    ensure_schema(store)
    removed = 0
    with store.transaction():
        rows = store.conn.execute(
            "SELECT rowid, server, origin, lo, hi, at FROM rcpt_cover WHERE at < ? "
            "ORDER BY server, origin, lo", (older_than_ms,)).fetchall()
        groups: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
        for rowid, server, origin, lo, hi, at in rows:
            groups.setdefault((server, origin), []).append((rowid, lo, hi, at))
        for (server, origin), items in groups.items():
            if len(items) < 2:
                continue
            merged = union([[lo, hi] for _, lo, hi, _ in items], [])
            at = max(a for *_, a in items)
            store.conn.executemany("DELETE FROM rcpt_cover WHERE rowid=?",
                                   [(r,) for r, *_ in items])
            store.conn.executemany(
                "INSERT INTO rcpt_cover(server, origin, lo, hi, at) VALUES(?,?,?,?,?)",
                [(server, origin, lo, hi, at) for lo, hi in merged])
            removed += len(items) - len(merged)
    return removed


def status(store: Store) -> list[dict[str, Any]]:
    """Last accepted receipt per server, for display."""
    ensure_schema(store)
    out = []
    for server, seq, raw, at in store.conn.execute(
            "SELECT server, seq, receipt, at FROM rcpt_state ORDER BY server"):
        rc = codec.decode(bytes(raw))
        out.append({"server": server, "seq": seq, "accepted_at": at,
                    "covered": {o: c.ranges for o, c in rc.body.covered.items()}})
    return out
