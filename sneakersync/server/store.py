"""Server storage behind a small interface, with SQLite and PostgreSQL backends.

:class:`ServerStore` is what the ingest, receipts, HTTP app and exporters use.
:class:`SqliteServerStore` implements it on the server's ordinary device store
(one SQLite file, WAL, ``synchronous=FULL``); ``sneakersync.server.pg`` implements it
on PostgreSQL (chosen by ``server init --db postgresql://...``).  Both add the
``srv_*`` tables, defined once in :data:`MIGRATIONS`:

- ``srv_devices``: every device that delivered, recorded by its identity card;
- ``srv_deliveries``: one row per stored packet (who, when, how many changes, via);
- ``srv_rejects``: packets refused, with the failing layer;
- ``srv_issued``: receipts issued per device (seq, exact bytes, file hash), so a
  re-issue is a lookup and superseded receipt files can be removed from drives;
- ``srv_exports``: what was exported, when, in which format;
- ``srv_roots``: Merkle frontiers ("peaks") of receipt ranges, so the next receipt's
  root hashes only the changes stored since, not the whole range again;
- ``srv_pending``: packets held for the administrator's decision (signer not
  enrolled, or enrolled in quarantine), by signing key; ``refused`` once rejected
  (see :mod:`sneakersync.server.enroll`).

Receipts read what is stored from the store's own ``held`` table (kept up to date by
every insert), never by scanning the change log.

``sneakersync.server.backends`` picks the backend a server home was set up with.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable, ContextManager, Iterable, Iterator, Protocol

from sneakersync.store.records import Store, now_ms
from sneakersync.wire import merkle
from sneakersync.sync.engine import Ranges, held_ranges, peer_knowledge

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS srv_devices (
        device_id TEXT PRIMARY KEY, name TEXT NOT NULL, card TEXT NOT NULL,
        first_seen INTEGER NOT NULL, last_delivery INTEGER NOT NULL,
        packets INTEGER NOT NULL DEFAULT 0, changes INTEGER NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS srv_deliveries (
        packet_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, at INTEGER NOT NULL,
        changes INTEGER NOT NULL, duplicates INTEGER NOT NULL, via TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS srv_rejects (
        packet_id TEXT PRIMARY KEY, at INTEGER NOT NULL, layer TEXT NOT NULL,
        error TEXT NOT NULL, via TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS srv_issued (
        device_id TEXT NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL,
        file_hash TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (device_id, seq))""",
    """CREATE TABLE IF NOT EXISTS srv_exports (
        id INTEGER PRIMARY KEY, at INTEGER NOT NULL, format TEXT NOT NULL,
        collection TEXT, records INTEGER NOT NULL, target TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS srv_pending (
        packet_id TEXT PRIMARY KEY, signer TEXT NOT NULL, bytes INTEGER NOT NULL,
        at INTEGER NOT NULL, via TEXT NOT NULL, reason TEXT NOT NULL,
        refused INTEGER NOT NULL DEFAULT 0)""",
    """CREATE INDEX IF NOT EXISTS srv_pending_signer ON srv_pending (signer)""",
    # (created_on looks a record's changes up through the store's changes_record index)
]

MAX_REJECT_ROWS = 1000  # srv_rejects keeps the newest this many (a neighbour can send junk)


# The one definition of the server schema, for both backends: numbered steps of statements
# in SQLite's dialect (the PostgreSQL backend translates them, see ``pg.translate``) and an
# optional function run after them.  The step reached is kept in meta key 'srv_schema'.
MIGRATIONS: list[tuple[int, list[str], Callable[[Store], None] | None]] = [
    (1, _SCHEMA, None),
    (2, ["""CREATE INDEX IF NOT EXISTS srv_deliveries_at ON srv_deliveries (at)"""], None),
    (3, ["""CREATE TABLE IF NOT EXISTS srv_roots (
            origin TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
            peaks BLOB NOT NULL, PRIMARY KEY (origin, lo, hi))"""], None),
]
KEEP_ROOTS = 8  # per (origin, first counter): the newest few Merkle frontiers
HASH_WINDOW = 20_000  # change hashes read per query while a receipt root is computed
SERVER_SCHEMA = MIGRATIONS[-1][0]


Peaks = list[tuple[int, bytes]]  # (leaves under it, subtree hash), left to right


def _push_peak(peaks: Peaks, leaf: bytes) -> Peaks:
    """Append one leaf to an RFC 6962 frontier: equal neighbours merge (a binary counter)."""
    peaks = peaks + [(1, leaf)]
    while len(peaks) > 1 and peaks[-1][0] == peaks[-2][0]:
        (n, left), (_, right) = peaks[-2], peaks[-1]
        peaks[-2:] = [(2 * n, merkle.node_hash(left, right))]
    return peaks


def _fold_peaks(peaks: Peaks) -> bytes:
    """The root of an RFC 6962 frontier: its peaks hashed together from the right."""
    acc = peaks[-1][1]
    for _, h in reversed(peaks[:-1]):
        acc = merkle.node_hash(h, acc)
    return acc


def _pack_peaks(peaks: Peaks) -> bytes:
    return b"".join(n.to_bytes(8, "big") + h for n, h in peaks)


def _unpack_peaks(raw: bytes) -> Peaks:
    return [(int.from_bytes(raw[i:i + 8], "big"), raw[i + 8:i + 40])
            for i in range(0, len(raw), 40)]


def migrate(core: Store) -> None:
    """Bring the server tables to :data:`SERVER_SCHEMA` (the caller serialises openers)."""
    from sneakersync.errors import StoreError

    got = core._get_meta("srv_schema")
    version = int(got) if got else 0
    if version > SERVER_SCHEMA:
        raise StoreError(f"server schema {version} is newer than this sneakersync understands "
                         f"({SERVER_SCHEMA})", hints=("upgrade sneakersync",))
    for step, statements, fn in MIGRATIONS:
        if step <= version:
            continue
        with core.transaction():
            for stmt in statements:
                core.conn.execute(stmt)
            if fn is not None:
                fn(core)
            core._set_meta("srv_schema", str(step))


class ServerStore(Protocol):
    """What the server needs from storage (beyond the sync engine's own store)."""

    core: Store

    def transaction(self) -> ContextManager[Any]: ...
    def record_delivery(self, packet_id: str, device_id: str, name: str, card: str,
                        changes: int, duplicates: int, via: str) -> None: ...
    def record_reject(self, packet_id: str, layer: str, error: str, via: str) -> None: ...
    def device_ids(self) -> list[str]: ...
    def devices(self) -> list[dict[str, Any]]: ...
    def held(self, origins: Iterable[str] | None = None) -> dict[str, Ranges]: ...
    def device_knowledge(self, device_id: str) -> dict[str, Ranges]: ...
    def hashes(self, origin: str, ranges: Ranges) -> list[bytes]: ...
    def root(self, origin: str, ranges: Ranges) -> bytes: ...
    def last_issued(self, device_id: str) -> tuple[int, bytes] | None: ...
    def record_issued(self, device_id: str, seq: int, data: bytes) -> list[str]: ...
    def record_export(self, fmt: str, collection: str | None, records: int,
                      target: str) -> None: ...
    # enrollment: packets held for a decision (server.enroll)
    def add_pending(self, packet_id: str, signer: str, size: int, via: str,
                    reason: str) -> None: ...
    def pending(self, signer: str | None = None, *, refused: bool = False
                ) -> list[dict[str, Any]]: ...
    def pending_status(self, packet_id: str) -> tuple[str, str] | None: ...
    def pending_load(self, signer: str, via: str) -> tuple[int, int]: ...
    def set_pending_refused(self, packet_ids: list[str]) -> None: ...
    def drop_pending(self, packet_ids: list[str]) -> None: ...
    def exports(self, limit: int = 20) -> list[dict[str, Any]]: ...
    def totals(self) -> dict[str, Any]: ...
    def rejects(self, limit: int = 20) -> list[dict[str, Any]]: ...
    def activity(self) -> dict[str, Any]: ...
    def records(self, collection: str | None) -> Iterator[dict[str, Any]]: ...
    def open_conflicts(self, collection: str | None) -> list[dict[str, Any]]: ...


class SqliteServerStore:
    """:class:`ServerStore` on the server's SQLite store file.

    Its SQL is shared with the PostgreSQL backend, which runs the same statements
    through a translating connection (``sneakersync.server.pg``).
    """

    backend = "sqlite"

    def __init__(self, core: Store, *, migrated: bool = False) -> None:
        self.core = core
        self._new_roots: list[tuple[str, int, int, bytes]] = []  # saved by record_issued
        if not migrated:
            migrate(core)

    def lock_apply(self, keys: list[str], exclusive: bool) -> None:
        """Serialise packets that touch the same origins or records (SQLite: the
        transaction already holds the one write lock, so nothing to do)."""

    def transaction(self) -> ContextManager[Any]:
        return self.core.transaction()

    # --- ingest bookkeeping (caller holds the transaction) ---------------------------

    def record_delivery(self, packet_id: str, device_id: str, name: str, card: str,
                        changes: int, duplicates: int, via: str) -> None:
        at = now_ms()
        c = self.core.conn
        c.execute("INSERT OR IGNORE INTO srv_deliveries(packet_id, device_id, at, changes, "
                  "duplicates, via) VALUES(?,?,?,?,?,?)",
                  (packet_id, device_id, at, changes, duplicates, via))
        c.execute("INSERT INTO srv_devices(device_id, name, card, first_seen, last_delivery, "
                  "packets, changes) VALUES(?,?,?,?,?,1,?) ON CONFLICT(device_id) DO UPDATE SET "
                  "last_delivery=excluded.last_delivery, packets=srv_devices.packets+1, "
                  "changes=srv_devices.changes+excluded.changes, name=excluded.name, card=excluded.card",
                  (device_id, name, card, at, at, changes))

    def record_reject(self, packet_id: str, layer: str, error: str, via: str) -> None:
        """Remember a refused packet; only the newest MAX_REJECT_ROWS are kept."""
        with self.transaction():
            c = self.core.conn
            c.execute(
                "INSERT INTO srv_rejects(packet_id, at, layer, error, via) VALUES(?,?,?,?,?) "
                "ON CONFLICT(packet_id) DO UPDATE SET at=excluded.at, layer=excluded.layer, "
                "error=excluded.error", (packet_id, now_ms(), layer, error[:500], via))
            c.execute("DELETE FROM srv_rejects WHERE packet_id IN (SELECT packet_id FROM "
                      "srv_rejects ORDER BY at DESC, packet_id LIMIT -1 OFFSET ?)",
                      (MAX_REJECT_ROWS,))

    # --- enrollment: packets held for the administrator's decision ---------------------

    def add_pending(self, packet_id: str, signer: str, size: int, via: str,
                    reason: str) -> None:
        with self.transaction():
            self.core.conn.execute(
                "INSERT INTO srv_pending(packet_id, signer, bytes, at, via, reason) "
                "VALUES(?,?,?,?,?,?) ON CONFLICT(packet_id) DO NOTHING",
                (packet_id, signer, size, now_ms(), via, reason))

    def pending(self, signer: str | None = None, *, refused: bool = False
                ) -> list[dict[str, Any]]:
        sql = ("SELECT packet_id, signer, bytes, at, via, reason FROM srv_pending "
               "WHERE refused=?")
        args: tuple[Any, ...] = (int(refused),)
        if signer is not None:
            sql += " AND signer=?"
            args += (signer,)
        return [{"packet_id": r[0], "signer": r[1], "bytes": r[2], "at": r[3], "via": r[4],
                 "reason": r[5]} for r in self.core.conn.execute(sql + " ORDER BY at, packet_id",
                                                                 args)]

    def pending_status(self, packet_id: str) -> tuple[str, str] | None:
        """('held' or 'refused', signer), or None when the packet is not pending."""
        row = self.core.conn.execute("SELECT refused, signer FROM srv_pending "
                                     "WHERE packet_id=?", (packet_id,)).fetchone()
        return None if row is None else ("refused" if row[0] else "held", str(row[1]))

    def pending_load(self, signer: str, via: str) -> tuple[int, int]:
        """(packets held from ``signer``, bytes held from ``via`` in all): two aggregates."""
        c = self.core.conn
        n = c.execute("SELECT COUNT(*) FROM srv_pending WHERE signer=? AND refused=0",
                      (signer,)).fetchone()[0]
        size = c.execute("SELECT SUM(bytes) FROM srv_pending WHERE via=? AND refused=0",
                         (via,)).fetchone()[0]
        return int(n or 0), int(size or 0)

    def set_pending_refused(self, packet_ids: list[str]) -> None:
        with self.transaction():
            self.core.conn.executemany("UPDATE srv_pending SET refused=1 WHERE packet_id=?",
                                       [(p,) for p in packet_ids])

    def drop_pending(self, packet_ids: list[str]) -> None:
        with self.transaction():
            self.core.conn.executemany("DELETE FROM srv_pending WHERE packet_id=?",
                                       [(p,) for p in packet_ids])

    # --- what is stored -----------------------------------------------------------------

    def device_ids(self) -> list[str]:
        return [r[0] for r in self.core.conn.execute(
            "SELECT device_id FROM srv_devices ORDER BY device_id")]

    def devices(self) -> list[dict[str, Any]]:
        rows = self.core.conn.execute(
            "SELECT d.device_id, d.name, d.first_seen, d.last_delivery, d.packets, d.changes, "
            "(SELECT MAX(seq) FROM srv_issued i WHERE i.device_id=d.device_id) "
            "FROM srv_devices d ORDER BY d.last_delivery DESC, d.device_id")
        return [{"device_id": r[0], "name": r[1], "first_seen": r[2], "last_delivery": r[3],
                 "packets": r[4], "changes": r[5], "receipt_seq": r[6]} for r in rows]

    def held(self, origins: Iterable[str] | None = None) -> dict[str, Ranges]:
        """Per origin, the counters stored here (the store's ``held`` table, no log scan)."""
        if origins is None:
            return held_ranges(self.core)
        c = self.core.conn
        wanted = sorted(set(origins))
        out: dict[str, Ranges] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            for o, lo, hi in c.execute("SELECT origin, lo, hi FROM held WHERE origin IN ("
                                       + ",".join("?" * len(chunk)) + ") ORDER BY origin, lo",
                                       chunk):
                out.setdefault(str(o), []).append([int(lo), int(hi)])
        return out

    def device_knowledge(self, device_id: str) -> dict[str, Ranges]:
        return peer_knowledge(self.core, device_id)

    def hashes(self, origin: str, ranges: Ranges) -> list[bytes]:
        return list(self.iter_hashes(origin, ranges))

    def iter_hashes(self, origin: str, ranges: Ranges) -> Iterator[bytes]:
        """The change hashes of ``ranges`` in counter order, read HASH_WINDOW counters at a
        time: memory stays bounded however many changes a receipt covers (a driver may
        fetch a whole result before the first row)."""
        c = self.core.conn
        for lo, hi in ranges:
            for start in range(lo, hi + 1, HASH_WINDOW):
                end = min(hi, start + HASH_WINDOW - 1)
                for (h,) in c.execute("SELECT hash FROM changes WHERE origin=? AND counter "
                                      "BETWEEN ? AND ? ORDER BY counter", (origin, start, end)):
                    yield bytes(h)

    def root(self, origin: str, ranges: Ranges) -> bytes:
        """Merkle root over the hashes of ``ranges`` (as ``merkle.root(self.hashes(...))``),
        folded into a frontier as the hashes stream in (a few dozen hashes in memory).

        The first range ``[lo, hi]`` starts from the frontier kept for the longest
        ``[lo, h]`` with ``h <= hi`` and hashes in only the changes ``h+1..hi``: a device's
        next receipt costs what it delivered since, not everything it ever delivered
        (with a gap, e.g. a lost packet, only the ranges after the first are hashed
        again).
        """
        if not ranges:
            return merkle.root([])  # (refuses: a tree needs a leaf)
        lo, hi = ranges[0]
        c = self.core.conn
        row = c.execute("SELECT hi, peaks FROM srv_roots WHERE origin=? AND lo=? AND hi<=? "
                        "ORDER BY hi DESC LIMIT 1", (origin, lo, hi)).fetchone()
        done, peaks = (lo - 1, []) if row is None else (int(row[0]), _unpack_peaks(bytes(row[1])))
        if done < hi:
            for h in self.iter_hashes(origin, [[done + 1, hi]]):
                peaks = _push_peak(peaks, h)
            # kept with the receipt it was made for (one commit: see record_issued)
            self._new_roots.append((origin, lo, hi, _pack_peaks(peaks)))
        if len(ranges) > 1:
            for h in self.iter_hashes(origin, ranges[1:]):
                peaks = _push_peak(peaks, h)
        if not peaks:
            return merkle.root([])
        return _fold_peaks(peaks)

    # --- receipts issued --------------------------------------------------------------

    def last_issued(self, device_id: str) -> tuple[int, bytes] | None:
        row = self.core.conn.execute(
            "SELECT seq, data FROM srv_issued WHERE device_id=? ORDER BY seq DESC LIMIT 1",
            (device_id,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def record_issued(self, device_id: str, seq: int, data: bytes) -> list[str]:
        """Remember a receipt; returns file hashes of the superseded ones (now dropped)."""
        with self.transaction():
            c = self.core.conn
            old = [r[0] for r in c.execute(
                "SELECT file_hash FROM srv_issued WHERE device_id=? AND seq<?", (device_id, seq))]
            c.execute("INSERT OR IGNORE INTO srv_issued(device_id, seq, data, file_hash, at) "
                      "VALUES(?,?,?,?,?)",
                      (device_id, seq, data, hashlib.sha256(data).hexdigest(), now_ms()))
            # keep the last few hashes so stale files on sticks can still be recognised
            c.execute("DELETE FROM srv_issued WHERE device_id=? AND seq NOT IN (SELECT seq FROM "
                      "srv_issued WHERE device_id=? ORDER BY seq DESC LIMIT 8)",
                      (device_id, device_id))
            roots, self._new_roots = self._new_roots, []
            for origin, lo, hi, peaks in roots:
                c.execute("INSERT INTO srv_roots(origin, lo, hi, peaks) VALUES(?,?,?,?) "
                          "ON CONFLICT DO NOTHING", (origin, lo, hi, peaks))
                c.execute("DELETE FROM srv_roots WHERE origin=? AND lo=? AND hi NOT IN (SELECT "
                          "hi FROM srv_roots WHERE origin=? AND lo=? ORDER BY hi DESC LIMIT ?)",
                          (origin, lo, origin, lo, KEEP_ROOTS))
        return old

    # --- exports and dashboard ---------------------------------------------------------

    def record_export(self, fmt: str, collection: str | None, records: int,
                      target: str) -> None:
        with self.transaction():
            self.core.conn.execute(
                "INSERT INTO srv_exports(at, format, collection, records, target) "
                "VALUES(?,?,?,?,?)", (now_ms(), fmt, collection, records, target))

    def exports(self, limit: int = 20) -> list[dict[str, Any]]:
        return [{"at": r[0], "format": r[1], "collection": r[2], "records": r[3],
                 "target": r[4]} for r in self.core.conn.execute(
            "SELECT at, format, collection, records, target FROM srv_exports "
            "ORDER BY id DESC LIMIT ?", (limit,))]

    def totals(self) -> dict[str, Any]:
        c = self.core.conn
        one = lambda sql: c.execute(sql).fetchone()[0] or 0  # noqa: E731
        return {"devices": one("SELECT COUNT(*) FROM srv_devices"),
                "packets": one("SELECT COUNT(*) FROM srv_deliveries"),
                "changes": one("SELECT COUNT(*) FROM changes"),
                "records": one("SELECT COUNT(*) FROM records WHERE deleted=0"),
                "conflicts": one("SELECT COUNT(*) FROM records WHERE conflict IS NOT NULL "
                                 "AND fork_of IS NULL"),
                "open_conflicts": one("SELECT COUNT(*) FROM records WHERE open=1"),
                "rejected": one("SELECT COUNT(*) FROM srv_rejects"),
                "exports": one("SELECT COUNT(*) FROM srv_exports")}

    def activity(self) -> dict[str, Any]:
        """Packets stored in the last minute and five minutes (every worker counts)."""
        now = now_ms()
        c = self.core.conn
        last1 = c.execute("SELECT COUNT(*) FROM srv_deliveries WHERE at>=?",
                          (now - 60_000,)).fetchone()[0] or 0
        last5 = c.execute("SELECT COUNT(*) FROM srv_deliveries WHERE at>=?",
                          (now - 300_000,)).fetchone()[0] or 0
        return {"packets_last_minute": int(last1), "packets_per_second_1m": round(last1 / 60, 2),
                "packets_per_second_5m": round(last5 / 300, 2)}

    def rejects(self, limit: int = 20) -> list[dict[str, Any]]:
        return [{"packet_id": r[0], "at": r[1], "layer": r[2], "error": r[3], "via": r[4]}
                for r in self.core.conn.execute(
                    "SELECT packet_id, at, layer, error, via FROM srv_rejects ORDER BY at DESC "
                    "LIMIT ?", (limit,))]

    def records(self, collection: str | None) -> Iterator[dict[str, Any]]:
        """Visible records with their first and latest change times (ms)."""
        sql = ("SELECT r.collection, r.rid, r.data, r.deleted, r.conflict, r.open, r.fork_of, "
               "(SELECT ts FROM changes w WHERE w.origin=r.origin AND w.counter=r.counter), "
               "(SELECT MIN(ts) FROM changes f WHERE f.collection=r.collection AND f.rid=r.rid) "
               "FROM records r")
        args: tuple[Any, ...] = ()
        if collection is not None:
            sql += " WHERE r.collection=?"
            args = (collection,)
        for row in self.core.conn.execute(sql + " ORDER BY r.collection, r.rid", args):
            modified = int(row[7] or 0)
            yield {"collection": row[0], "id": row[1],
                   "data": json.loads(row[2]) if row[2] else None, "deleted": bool(row[3]),
                   "conflict": row[4], "open": bool(row[5]), "fork_of": row[6],
                   "modified_ms": modified, "created_ms": int(row[8] or modified)}

    def open_conflicts(self, collection: str | None) -> list[dict[str, Any]]:
        return [{"collection": c["collection"], "id": c["id"], "conflict": c["conflict"]}
                for c in self.core.conflicts()
                if c["open"] and (collection is None or c["collection"] == collection)]


def redact(url: str) -> str:
    """A database URL without its password (for status output and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
