"""The local record store: SQLite (the standard library's ``sqlite3``).

Tables (schema version in ``meta``):
- ``changes``: the change log, one row per (origin, counter), with the exact
  change bytes that were hashed (``raw``) so they can be shipped unchanged;
- ``records``: what users see, derived from each record's frontier;
- ``segments``: origin signatures over Merkle roots of change ranges, so
  relayed changes stay attributable to their origin;
- ``held``: per origin, the counters this device holds as merged ``[lo, hi]``
  ranges, kept up to date with every insert (the manifest is read from here,
  never by scanning the change log) and still claiming changes that compaction
  (:mod:`sneakersync.sync.compact`) removed from ``changes``;
- ``peers``, ``knowledge``, ``packets``, ``collections``: sync bookkeeping.

Every public write runs in one transaction: a crash leaves the store either
before or after it, never in between.
"""

from __future__ import annotations

import bisect
import json
import operator
import os
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from sneakersync.wire import canonical
from sneakersync.wire import merkle
from sneakersync.store import resolve
from sneakersync.wire import vclock
from sneakersync.errors import BodyError, NotFoundError, StoreError, UsageError
from sneakersync.wire.body import MAX_DEPTH, MAX_TIME, change_line, check_data
from sneakersync.wire.change import Version
from sneakersync.store import reading
from sneakersync.store.reading import SCHEMA_VERSION, Record

MAX_ID_LEN = 200
MAX_COLLECTION_LEN = 64

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS changes (
        origin TEXT NOT NULL, counter INTEGER NOT NULL,
        collection TEXT NOT NULL, rid TEXT NOT NULL, op TEXT NOT NULL,
        ts INTEGER NOT NULL, raw BLOB NOT NULL, hash BLOB NOT NULL,
        segment INTEGER, received_at INTEGER NOT NULL,
        PRIMARY KEY (origin, counter))""",
    """CREATE INDEX IF NOT EXISTS changes_record ON changes (collection, rid)""",
    """CREATE TABLE IF NOT EXISTS records (
        collection TEXT NOT NULL, rid TEXT NOT NULL, data TEXT, deleted INTEGER NOT NULL,
        origin TEXT NOT NULL, counter INTEGER NOT NULL, vv TEXT NOT NULL,
        frontier TEXT, conflict TEXT, open INTEGER NOT NULL DEFAULT 0, fork_of TEXT,
        PRIMARY KEY (collection, rid))""",
    """CREATE INDEX IF NOT EXISTS records_fork ON records (collection, fork_of)
        WHERE fork_of IS NOT NULL""",
    """CREATE INDEX IF NOT EXISTS records_conflict ON records (conflict)
        WHERE conflict IS NOT NULL""",
    """CREATE TABLE IF NOT EXISTS segments (
        id INTEGER PRIMARY KEY, origin TEXT NOT NULL, first INTEGER NOT NULL,
        last INTEGER NOT NULL, root BLOB NOT NULL, sig BLOB NOT NULL, known TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY, policy TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS peers (
        device_id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        card TEXT NOT NULL, sign_pub BLOB NOT NULL, enc_pub BLOB NOT NULL,
        trust TEXT NOT NULL, verified INTEGER NOT NULL DEFAULT 0,
        added_at INTEGER NOT NULL, last_seen INTEGER, revoked_at INTEGER,
        revoked_counter INTEGER)""",
    """CREATE TABLE IF NOT EXISTS knowledge (
        peer TEXT NOT NULL, origin TEXT NOT NULL, source TEXT NOT NULL, ranges TEXT NOT NULL,
        PRIMARY KEY (peer, origin, source))""",
    """CREATE TABLE IF NOT EXISTS held (
        origin TEXT NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL, PRIMARY KEY (origin, lo))
        WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS cards (device_id TEXT PRIMARY KEY, card TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS packets (
        packet_id TEXT PRIMARY KEY, status TEXT NOT NULL, sender TEXT, at INTEGER NOT NULL,
        changes INTEGER NOT NULL DEFAULT 0, detail TEXT)""",
]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class ApplyStats:
    applied: int = 0
    duplicates: int = 0
    conflicts: int = 0
    open_conflicts: int = 0


def check_collection(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_COLLECTION_LEN:
        raise UsageError(f"collection name must be 1 to {MAX_COLLECTION_LEN} characters")
    if not _COLLECTION.fullmatch(name):
        raise UsageError(f"collection name {name!r} may use ASCII letters, digits, '-', '_' "
                         "and '.', and must not start with '_'")
    return name


_CONTROL = re.compile(r"[\x00-\x1f]")
_COLLECTION = re.compile(r"[A-Za-z0-9.-][A-Za-z0-9_.-]{0,63}")


def check_rid(rid: str) -> str:
    if not isinstance(rid, str) or not rid or len(rid) > MAX_ID_LEN:
        raise UsageError(f"record id must be 1 to {MAX_ID_LEN} characters")
    if _CONTROL.search(rid):
        raise UsageError("record id must not contain control characters")
    if _SURROGATE.search(rid):
        raise UsageError("record id holds a lone surrogate (not valid Unicode)")
    return rid


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_time(ts: int) -> int:
    if type(ts) is not int or not 0 <= ts <= MAX_TIME:
        raise UsageError(f"a time must be an integer from 0 to {MAX_TIME} ms")
    return ts


def record_json(data: Any) -> str:
    """Canonical JSON of record data, checked against the packet format's limits
    (nesting, integer range, valid Unicode) so every change this device writes can be read."""
    if not isinstance(data, dict):
        raise UsageError("a record must be a JSON object")
    text = canonical.dumps(data)
    if text.count("{") + text.count("[") > MAX_DEPTH or _LONG_NUMBER.search(text):
        try:
            check_data(data)
        except BodyError as exc:
            raise UsageError(str(exc)) from exc
    if _SURROGATE.search(text):
        raise UsageError("record data holds a lone surrogate (not valid Unicode)")
    return text


_LONG_NUMBER = re.compile(r"[0-9]{16}")


def encode_change(origin: str, counter: int, collection: str, rid: str, op: str,
                  data: dict[str, Any] | None, vv: dict[str, int], ts: int) -> bytes:
    """Exact change bytes that are hashed, signed (via Merkle roots) and shipped.

    ``v`` holds the version vector *without* the origin's own entry, which is
    always equal to the change counter ``c`` (so it is not repeated).
    """
    others = {k: n for k, n in vv.items() if k != origin}
    data_json = record_json(data) if data is not None else "null"
    return change_line(counter, data_json, rid, collection, origin, op, ts,
                       canonical.dumps_counts(others))


def _in_ranges(ranges: Sequence[tuple[int, int]], n: int) -> bool:
    i = bisect.bisect_right(ranges, (n, 1 << 62)) - 1
    return i >= 0 and ranges[i][0] <= n <= ranges[i][1]


def version_from_raw(raw: bytes | str) -> Version:
    obj = canonical.loads(raw)
    vv = dict(obj["v"])
    vv[obj["o"]] = obj["c"]
    return Version(origin=obj["o"], counter=obj["c"], op=obj["op"], data=obj["d"],
                   vv=dict(sorted(vv.items())), ts=obj["t"], collection=obj["k"], rid=obj["i"])


def connect(path: Path, key: bytes | None) -> tuple[sqlite3.Connection, tuple[type[Exception], ...]]:
    """Open the store file with the right driver, and the errors that driver raises.

    A plain store (a home without a passphrase) uses the standard library's
    sqlite3.  A sealed home's store is SQLCipher (AES-256 pages with an HMAC each,
    from the ``sqlcipher3`` wheel): the 32-byte key is given raw, so no second KDF
    runs, and the database, its WAL and its journal are all encrypted.  The file
    is created 0600 first: SQLite gives its WAL and shared-memory files the same
    mode, whatever the umask.
    """
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return reading.open_db(path, key)


class Store:
    """One device's records and sync state in one SQLite file."""

    def __init__(self, path: Path | str, device_id: str, *, key: bytes | None = None) -> None:
        self.path = Path(path)
        self.device_id = device_id
        self.errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)
        try:
            conn, self.errors = connect(self.path, key)
            self.conn = conn
            if not conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # compaction frees pages
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-32768")
            self._migrate()
        except self.errors as exc:
            raise StoreError(f"store {self.path} cannot be opened: {exc}") from exc
        self._policies: dict[str, str] = {}

    # --- schema ----------------------------------------------------------------------

    def _migrate(self) -> None:
        cur = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        version = 0
        if cur:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(f"store schema {version} is newer than this sneakersync "
                             f"understands ({SCHEMA_VERSION})", hints=("upgrade sneakersync",))
        if version < SCHEMA_VERSION:
            with self.transaction():
                for stmt in _SCHEMA:
                    self.conn.execute(stmt)
                self._set_meta("schema", str(SCHEMA_VERSION))
                if self._get_meta("counter") is None:
                    self._set_meta("counter", "0")
                self._set_meta("device_id", self.device_id)
        stored = self._get_meta("device_id")
        if stored != self.device_id:
            raise StoreError("store belongs to another device")
        if self._get_meta("held") is None:
            with self.transaction():
                self._build_held()

    def _build_held(self) -> None:
        """One scan of the change log, once (stores made before the ``held`` table)."""
        self.conn.execute("CREATE TABLE IF NOT EXISTS held (origin TEXT NOT NULL, lo INTEGER "
                          "NOT NULL, hi INTEGER NOT NULL, PRIMARY KEY (origin, lo)) WITHOUT ROWID")
        self.conn.execute("DELETE FROM held")
        self.conn.execute(
            "INSERT INTO held(origin, lo, hi) SELECT origin, MIN(counter), MAX(counter) FROM "
            "(SELECT origin, counter, counter - ROW_NUMBER() OVER (PARTITION BY origin ORDER BY "
            "counter) AS grp FROM changes) GROUP BY origin, grp")
        self._set_meta("held", "1")

    def held_ranges(self) -> dict[str, list[list[int]]]:
        """Per origin, the counters this device holds, as sorted [first, last] ranges."""
        out: dict[str, list[list[int]]] = {}
        for origin, lo, hi in self.conn.execute("SELECT origin, lo, hi FROM held "
                                                "ORDER BY origin, lo"):
            out.setdefault(origin, []).append([lo, hi])
        return out

    def hashes(self, origin: str, lo: int, hi: int) -> dict[int, bytes]:
        """Leaf hashes of ``origin``'s changes lo..hi still in the change log (compacted
        changes keep no hash: segments and receipts keep the subtree hashes they need)."""
        return {int(c): bytes(h) for c, h in self.conn.execute(
            "SELECT counter, hash FROM changes WHERE origin=? AND counter BETWEEN ? AND ?",
            (origin, lo, hi))}

    def holds(self, origin: str, counter: int) -> bool:
        row = self.conn.execute("SELECT hi FROM held WHERE origin=? AND lo<=? ORDER BY lo DESC "
                                "LIMIT 1", (origin, counter)).fetchone()
        return row is not None and row[0] >= counter

    def _note_held(self, origin: str, counters: Iterable[int]) -> None:
        """Add counters to ``held`` (inside the caller's transaction), merging ranges."""
        runs: list[list[int]] = []
        for c in sorted(set(counters)):
            if runs and c == runs[-1][1] + 1:
                runs[-1][1] = c
            else:
                runs.append([c, c])
        for lo, hi in runs:
            touching = self.conn.execute(
                "SELECT lo, hi FROM held WHERE origin=? AND lo<=? AND hi>=?",
                (origin, hi + 1, lo - 1)).fetchall()
            if touching:
                lo = min(lo, *(t[0] for t in touching))
                hi = max(hi, *(t[1] for t in touching))
                self.conn.executemany("DELETE FROM held WHERE origin=? AND lo=?",
                                      [(origin, t[0]) for t in touching])
            self.conn.execute("INSERT INTO held(origin, lo, hi) VALUES(?,?,?)", (origin, lo, hi))

    def close(self) -> None:
        self.conn.close()

    def transaction(self) -> "_Tx":
        return _Tx(self.conn, self.errors)

    def _get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) "
                          "DO UPDATE SET value=excluded.value", (key, value))

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        got = self._get_meta("setting:" + key)
        return default if got is None else got

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction():
            self._set_meta("setting:" + key, value)

    @property
    def counter(self) -> int:
        return int(self._get_meta("counter") or 0)

    # --- policies --------------------------------------------------------------------

    def policy(self, collection: str) -> str:
        got = self._policies.get(collection)
        if got is None:
            got = reading.policy(self.conn, collection)
            self._policies[collection] = got
        return str(got)

    def set_policy(self, collection: str, policy: str) -> None:
        check_collection(collection)
        resolve.check_policy(policy)
        with self.transaction():
            self.conn.execute("INSERT INTO collections(name, policy) VALUES(?, ?) ON CONFLICT(name)"
                              " DO UPDATE SET policy=excluded.policy", (collection, policy))
            self._policies.pop(collection, None)
            rids = [r[0] for r in self.conn.execute(
                "SELECT rid FROM records WHERE collection=? AND frontier IS NOT NULL",
                (collection,))]
            for rid in rids:
                history, frontier = self._state(collection, rid)
                if frontier:
                    self._rewrite(collection, rid, frontier, history)

    # --- reading ---------------------------------------------------------------------

    def get(self, collection: str, rid: str, *, include_deleted: bool = False) -> Record:
        return reading.get(self.conn, collection, rid, include_deleted=include_deleted)

    def rows(self, collection: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for rid, data in self.conn.execute(
                "SELECT rid, data FROM records WHERE collection=? AND deleted=0 ORDER BY rid",
                (collection,)):
            yield rid, json.loads(data)

    def collections(self) -> list[dict[str, Any]]:
        return reading.collections(self.conn, self.policy)

    def snapshot(self) -> dict[str, Any]:
        """Everything a user can see, for convergence comparisons in tests and demos.

        A plain deletion shows as nothing (compaction removes settled tombstones);
        a deletion in conflict shows."""
        recs = [list(r) for r in self.conn.execute(
            "SELECT collection, rid, data, deleted, conflict, open FROM records "
            "WHERE deleted=0 OR conflict IS NOT NULL ORDER BY collection, rid")]
        return {"records": recs}

    # --- local writes ----------------------------------------------------------------

    def put(self, collection: str, data: dict[str, Any], rid: str | None = None,
            *, ts: int | None = None) -> str:
        rid = rid if rid is not None else str(uuid.uuid4())
        self.write_many(collection, [(rid, data)], ts=ts)
        return rid

    def delete(self, collection: str, rid: str, *, ts: int | None = None) -> None:
        check_collection(collection)
        with self.transaction():
            row = self.conn.execute("SELECT deleted FROM records WHERE collection=? AND rid=?",
                                    (collection, rid)).fetchone()
            if row is None or row[0]:
                raise NotFoundError(f"no record {rid!r} in collection {collection!r}")
            self._local_change(collection, rid, "del", None,
                               check_time(ts) if ts is not None else now_ms())

    def write_many(self, collection: str, items: Iterable[tuple[str | None, dict[str, Any]]],
                   *, ts: int | None = None,
                   progress: Callable[[int], None] | None = None) -> list[str]:
        """Create or update many records in one transaction; returns their ids."""
        check_collection(collection)
        stamp = check_time(ts) if ts is not None else now_ms()
        ids: list[str] = []
        with self.transaction():
            # on an empty collection only ids written by this call can exist already
            written: set[str] | None = set() if self.conn.execute(
                "SELECT 1 FROM records WHERE collection=? LIMIT 1",
                (collection,)).fetchone() is None else None
            fresh: list[tuple[str, dict[str, Any], str]] = []
            for rid, data in items:
                rid = check_rid(rid) if rid is not None else str(uuid.uuid4())
                fresh.append((rid, data, record_json(data)))
                ids.append(rid)
                if len(fresh) >= 5000:
                    self._write_batch(collection, fresh, stamp, written)
                    if progress:
                        progress(len(fresh))
                    fresh = []
            if fresh:
                self._write_batch(collection, fresh, stamp, written)
                if progress:
                    progress(len(fresh))
        return ids

    def _write_batch(self, collection: str, items: list[tuple[str, dict[str, Any], str]],
                     ts: int, written: set[str] | None) -> None:
        if written is None:
            existing = self._existing(collection, [rid for rid, _, _ in items])
        else:
            existing = {rid for rid, _, _ in items if rid in written}
            written.update(rid for rid, _, _ in items)
        seen: set[str] = set()
        me = self.device_id
        counter = self.counter
        change_rows = []
        record_rows = []
        for rid, data, data_json in items:
            if rid in existing or rid in seen:
                # flush what we have, then take the careful path for an update
                if change_rows:
                    self._insert_fresh(change_rows, record_rows, counter)
                    change_rows, record_rows = [], []
                self._local_change(collection, rid, "put", data, ts)
                counter = self.counter
                seen.add(rid)
                existing.add(rid)
                continue
            seen.add(rid)
            counter += 1
            vv_json = f'{{"{me}":{counter}}}'
            raw = change_line(counter, data_json, rid, collection, me, "put", ts, "{}")
            change_rows.append((me, counter, collection, rid, "put", ts, raw,
                                merkle.leaf_hash(raw), ts))
            record_rows.append((collection, rid, data_json, me, counter, vv_json))
        if change_rows:
            self._insert_fresh(change_rows, record_rows, counter)

    def _insert_fresh(self, change_rows: list[tuple[Any, ...]], record_rows: list[tuple[Any, ...]],
                      counter: int) -> None:
        self.conn.executemany(
            "INSERT INTO changes(origin, counter, collection, rid, op, ts, raw, hash, received_at)"
            " VALUES(?,?,?,?,?,?,?,?,?)", change_rows)
        self.conn.executemany(
            "INSERT INTO records(collection, rid, data, deleted, origin, counter, vv)"
            " VALUES(?,?,?,0,?,?,?)", record_rows)
        self._note_held(self.device_id, (r[1] for r in change_rows))
        self._set_meta("counter", str(counter))

    def _existing(self, collection: str, rids: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(rids), 500):
            chunk = rids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(r[0] for r in self.conn.execute(
                f"SELECT rid FROM records WHERE collection=? AND rid IN ({marks})",
                (collection, *chunk)))
        return out

    def _local_change(self, collection: str, rid: str, op: str, data: dict[str, Any] | None,
                      ts: int, *, settle: bool = False) -> None:
        """Append one edit by this device and rewrite what users see.

        The new version descends from the whole frontier (the user saw the
        resolved value), except when editing the winner of a forked record,
        where the losers stay their own records; ``settle`` (a conflict decision)
        always descends from every version.
        """
        history, frontier = self._state(collection, rid)
        if not settle and len(frontier) > 1 and self.policy(collection) == "fork":
            base = resolve.resolve("fork", collection, rid, frontier).rows[0].winner.vv
        else:
            # effective vectors: the edit claims only what this device holds (section 10.2)
            base = vclock.merge(*(v.vv for v in frontier))
        counter = self.counter + 1
        vv = vclock.advance(base, self.device_id, counter)
        raw = encode_change(self.device_id, counter, collection, rid, op, data, vv, ts)
        self.conn.execute(
            "INSERT INTO changes(origin, counter, collection, rid, op, ts, raw, hash, received_at)"
            " VALUES(?,?,?,?,?,?,?,?,?)",
            (self.device_id, counter, collection, rid, op, ts, raw, merkle.leaf_hash(raw), ts))
        self._note_held(self.device_id, (counter,))
        self._set_meta("counter", str(counter))
        new = Version(self.device_id, counter, op, data, vv, ts, collection, rid)
        kept = resolve.frontier_of(frontier + [new])
        self._rewrite(collection, rid, kept, history + [new])

    # --- frontier and visible rows --------------------------------------------------

    def _state(self, collection: str, rid: str) -> tuple[list[Version], list[Version]]:
        """(history with effective vectors, frontier) of one record, from the changes held
        (a derived fork row has no changes of its own until someone edits it)."""
        history = self._history(collection, rid)
        return history, resolve.frontier_of(history)

    def _stored_frontier(self, collection: str, rid: str) -> list[tuple[str, int]]:
        row = self.conn.execute(
            "SELECT origin, counter, frontier, fork_of FROM records WHERE collection=? AND rid=?",
            (collection, rid)).fetchone()
        if row is None or row[3] is not None:
            return []
        return [(o, c) for o, c in (json.loads(row[2]) if row[2] else [[row[0], row[1]]])]

    def _version(self, origin: str, counter: int) -> Version:
        row = self.conn.execute("SELECT raw FROM changes WHERE origin=? AND counter=?",
                                (origin, counter)).fetchone()
        if row is None:
            raise StoreError(f"store is missing change {origin}:{counter}")
        return version_from_raw(row[0])

    def _history(self, collection: str, rid: str) -> list[Version]:
        """Every held version of a record, with effective vectors (resolve.effective)."""
        versions, pruned = [], []
        for origin, counter, raw in self.conn.execute(
                "SELECT origin, counter, raw FROM changes WHERE collection=? AND rid=?",
                (collection, rid)):
            if raw:
                versions.append(version_from_raw(raw))
            else:
                pruned.append((origin, counter))
        return resolve.effective(versions, pruned)

    def _rewrite(self, collection: str, rid: str, frontier: list[Version],
                 history: list[Version] | None = None) -> resolve.Resolution:
        policy = self.policy(collection)
        base = None
        if len(frontier) > 1 and policy in ("merge", "manual"):
            base = resolve.common_ancestor(
                history if history is not None else self._history(collection, rid), frontier)
        res = resolve.resolve(policy, collection, rid, frontier, base)
        fkeys = canonical.dumps([[v.origin, v.counter] for v in frontier]) \
            if len(frontier) > 1 else None
        self.conn.execute("DELETE FROM records WHERE collection=? AND fork_of=?", (collection, rid))
        for i, vis in enumerate(res.rows):
            w = vis.winner
            if i == 0:
                self.conn.execute(
                    "INSERT INTO records(collection, rid, data, deleted, origin, counter, vv,"
                    " frontier, conflict, open, fork_of) VALUES(?,?,?,?,?,?,?,?,?,?,NULL)"
                    " ON CONFLICT(collection, rid) DO UPDATE SET data=excluded.data,"
                    " deleted=excluded.deleted, origin=excluded.origin, counter=excluded.counter,"
                    " vv=excluded.vv, frontier=excluded.frontier, conflict=excluded.conflict,"
                    " open=excluded.open, fork_of=NULL",
                    (collection, rid, canonical.dumps(vis.data) if vis.data is not None else None,
                     1 if vis.data is None else 0, w.origin, w.counter, canonical.dumps(w.vv),
                     fkeys, res.conflict_id, 1 if res.open else 0))
            else:
                self.conn.execute(
                    "INSERT INTO records(collection, rid, data, deleted, origin, counter, vv,"
                    " frontier, conflict, open, fork_of) VALUES(?,?,?,0,?,?,?,NULL,?,0,?)"
                    " ON CONFLICT(collection, rid) DO NOTHING",
                    (collection, vis.rid, canonical.dumps(vis.data), w.origin, w.counter,
                     canonical.dumps(w.vv), res.conflict_id, rid))
        return res

    # --- applying changes from others ----------------------------------------------

    def apply_remote(self, changes: Sequence[tuple[bytes, Version, int | None, bytes]],
                     stats: ApplyStats) -> None:
        """Apply verified changes ``(raw, version, segment id, leaf hash)``.

        The caller holds the transaction.

        Changes already held are skipped (idempotence); the same (origin, counter)
        with different bytes is an equivocation and fails the whole packet.
        """
        stamp = now_ms()
        new = self._unheld_run(changes)
        if new is None:
            new = self._not_held(changes, stats)
        if not new:
            return
        self.conn.executemany(
            "INSERT INTO changes(origin, counter, collection, rid, op, ts, raw, hash, segment,"
            " received_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
            [(v.origin, v.counter, v.collection, v.rid, v.op, v.ts, raw, h, seg, stamp)
             for raw, v, seg, h in new])
        by_origin: dict[str, list[int]] = {}
        # records that exist already, or that get several versions in this batch, take the
        # careful path; the rest are new records with a single version
        targets: dict[tuple[str, str], int] = {}
        for _, v, _, _ in new:
            counters = by_origin.get(v.origin)
            if counters is None:
                counters = by_origin[v.origin] = []
            counters.append(v.counter)
            target = (v.collection, v.rid)
            targets[target] = targets.get(target, 0) + 1
        for origin, counters in by_origin.items():
            self._note_held(origin, counters)
        stats.applied += len(new)
        existing = self._existing_pairs(list(targets))
        fresh_rows = []
        careful: dict[tuple[str, str], None] = {}
        for _, v, _, _ in new:
            target = (v.collection, v.rid)
            if target in existing or targets[target] > 1 or (v.vv_json or "").count(":") > 1:
                careful[target] = None  # settled below, once per record, from its whole history
                continue
            data_json = v.data_json if v.data_json is not None or v.data is None \
                else canonical.dumps(v.data)
            fresh_rows.append((v.collection, v.rid, data_json, 1 if v.op == "del" else 0,
                               v.origin, v.counter, v.vv_json or canonical.dumps(v.vv)))
        if fresh_rows:
            self.conn.executemany(
                "INSERT INTO records(collection, rid, data, deleted, origin, counter, vv)"
                " VALUES(?,?,?,?,?,?,?)", fresh_rows)
        for collection, rid in careful:
            self._settle(collection, rid, stats)

    def _unheld_run(self, changes: Sequence[tuple[bytes, Version, int | None, bytes]]
                    ) -> list[tuple[bytes, Version, int | None, bytes]] | None:
        """``changes`` as they are when they are one origin's strictly ascending run of
        which this store holds nothing (the usual import: no per-change lookups); None
        when :meth:`_not_held` must sort them out."""
        if not changes:
            return None
        origin = changes[0][1].origin
        counters = [item[1].counter for item in changes]
        if (any(item[1].origin != origin for item in changes)
                or not all(map(operator.lt, counters, counters[1:]))):
            return None
        lo, hi = counters[0], counters[-1]
        if (self.conn.execute("SELECT 1 FROM changes WHERE origin=? AND counter BETWEEN ? AND ?"
                              " LIMIT 1", (origin, lo, hi)).fetchone()
                or self.conn.execute("SELECT 1 FROM held WHERE origin=? AND lo<=? AND hi>=?"
                                     " LIMIT 1", (origin, hi, lo)).fetchone()):
            return None
        return list(changes)

    def _not_held(self, changes: Sequence[tuple[bytes, Version, int | None, bytes]],
                  stats: ApplyStats) -> list[tuple[bytes, Version, int | None, bytes]]:
        """The changes not held yet, each once; raises for an equivocation."""
        known = self._known_hashes(changes)
        held_cache: dict[str, list[tuple[int, int]]] = {}
        new: list[tuple[bytes, Version, int | None, bytes]] = []
        batch_keys: set[tuple[str, int]] = set()
        for item in changes:
            v = item[1]
            key = (v.origin, v.counter)
            have = known.get(key) if known else None
            if have is not None:
                if have != item[3]:
                    from sneakersync.errors import AuthError
                    raise AuthError(f"device {v.origin} signed two different changes "
                                    f"numbered {v.counter}")
                stats.duplicates += 1
                continue
            if key in batch_keys:
                stats.duplicates += 1
                continue
            held = held_cache.get(v.origin)
            if held is None:
                held = held_cache[v.origin] = [(lo, hi) for lo, hi in self.conn.execute(
                    "SELECT lo, hi FROM held WHERE origin=? ORDER BY lo", (v.origin,))]
            if held and _in_ranges(held, v.counter):
                stats.duplicates += 1  # held once, since compacted away: still a duplicate
                continue
            batch_keys.add(key)
            new.append(item)
        return new

    def _settle(self, collection: str, rid: str, stats: ApplyStats) -> None:
        """Work out a record's frontier again after changes to it arrived."""
        before = self._stored_frontier(collection, rid)
        history, frontier = self._state(collection, rid)
        if not frontier:
            return
        if [v.key for v in frontier] == before:
            if len(frontier) > 1 and self.policy(collection) in ("merge", "manual"):
                # an older version arrived late: it may be the common ancestor the merge
                # uses, so what users see is worked out again (the same on every device)
                self._rewrite(collection, rid, frontier, history)
            return
        res = self._rewrite(collection, rid, frontier, history)
        if res.conflict:
            stats.conflicts += 1
            if res.open:
                stats.open_conflicts += 1

    def _known_hashes(self, changes: Sequence[tuple[bytes, Version, int | None, bytes]]
                      ) -> dict[tuple[str, int], bytes]:
        spans: dict[str, list[int]] = {}
        for _, v, _, _ in changes:
            span = spans.setdefault(v.origin, [v.counter, v.counter])
            span[0] = min(span[0], v.counter)
            span[1] = max(span[1], v.counter)
        out: dict[tuple[str, int], bytes] = {}
        for origin, (lo, hi) in spans.items():
            for c, h in self.conn.execute(
                    "SELECT counter, hash FROM changes WHERE origin=? AND counter BETWEEN ? AND ?",
                    (origin, lo, hi)):
                out[(origin, c)] = bytes(h)
        return out

    def _existing_pairs(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        by_coll: dict[str, list[str]] = {}
        for coll, rid in keys:
            by_coll.setdefault(coll, []).append(rid)
        out: set[tuple[str, str]] = set()
        for coll, rids in by_coll.items():
            if self.conn.execute("SELECT 1 FROM records WHERE collection=? LIMIT 1",
                                 (coll,)).fetchone() is None:
                continue
            out.update((coll, r) for r in self._existing(coll, rids))
        return out

    def add_segment(self, origin: str, first: int, last: int, root: bytes, sig: bytes,
                    known: dict[tuple[int, int], bytes]) -> int:
        row = self.conn.execute(
            "SELECT id FROM segments WHERE origin=? AND first=? AND last=? AND root=?",
            (origin, first, last, root)).fetchone()
        if row:
            return int(row[0])
        cur = self.conn.execute(
            "INSERT INTO segments(origin, first, last, root, sig, known) VALUES(?,?,?,?,?,?)",
            (origin, first, last, root, sig,
             canonical.dumps({f"{lo},{hi}": h.hex() for (lo, hi), h in known.items()})))
        return int(cur.lastrowid or 0)

    # --- conflicts --------------------------------------------------------------------

    def conflicts(self, *, include_settled: bool = False) -> list[dict[str, Any]]:
        """Open conflicts (and, with ``include_settled``, those a policy settled)."""
        out = []
        for collection, rid, cid, open_, frontier in self.conn.execute(
                "SELECT collection, rid, conflict, open, frontier FROM records WHERE "
                "conflict IS NOT NULL AND fork_of IS NULL AND frontier IS NOT NULL "
                + ("" if include_settled else "AND open=1 ") +
                "ORDER BY collection, rid"):
            versions = [self._version(o, c) for o, c in json.loads(frontier)]
            out.append({
                "conflict": cid, "collection": collection, "id": rid, "open": bool(open_),
                "policy": self.policy(collection),
                "versions": [{"origin": v.origin, "counter": v.counter, "op": v.op,
                              "data": v.data, "ts": v.ts} for v in
                             sorted(versions, key=resolve.lww_order, reverse=True)],
            })
        return out

    def resolve_conflict(self, cid: str, *, pick: int | None = None,
                         data: dict[str, Any] | None = None, ts: int | None = None) -> dict[str, Any]:
        found = [c for c in self.conflicts(include_settled=True) if c["conflict"] == cid or
                 f"{c['collection']}/{c['id']}" == cid]
        if not found:
            raise NotFoundError(f"no open conflict {cid!r}")
        c = found[0]
        if data is None:
            if pick is None or not 1 <= pick <= len(c["versions"]):
                raise UsageError(f"choose a version with --pick 1..{len(c['versions'])} "
                                 "or give --data JSON")
            chosen = c["versions"][pick - 1]
            data = chosen["data"]
        stamp = check_time(ts) if ts is not None else now_ms()
        if data is not None:
            record_json(data)
        with self.transaction():
            self._local_change(c["collection"], c["id"], "put" if data is not None else "del",
                               data, stamp, settle=True)
        return {"conflict": c["conflict"], "collection": c["collection"], "id": c["id"],
                "data": data}


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception. Nests (inner is a no-op)."""

    def __init__(self, conn: sqlite3.Connection,
                 errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError,)) -> None:
        self.conn = conn
        self.errors = errors
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.conn.in_transaction:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except self.errors as exc:
                raise StoreError(f"store is busy: {exc}",
                                 hints=("another sneakersync command may be running",)) from exc
            self.outer = True
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
