"""Compaction: keep a device's store proportional to live data plus what peers still need.

API (one call, safe to run any time, any number of times)::

    from sneakersync.sync.compact import compact
    result = compact(store)            # -> dict of counts (see below)
    plan = stable_ranges(store)        # read-only: per origin, what every peer holds

What is *settled*: a change every unrevoked peer (devices and servers) has
confirmed it holds (their own packets' manifests, ``acked``, or a server's
receipt; optimistic ``sent`` knowledge does not count), or that a peer's share
rules never let it see.  A device that has not yet given us every change of its
own that it claimed to hold could still deliver an edit concurrent with old
versions; while any peer is in that state, no old value is erased (the merge
policy's common ancestor must stay the same on every device).

Steps, each in transactions of its own, one per page of :data:`BATCH` rows (a crash
between them leaves a consistent, merely less compact store; re-running completes the
work; memory does not grow with the store):

1. *Erase superseded values*: settled changes that are no longer any record's
   current version (and whose record is not in conflict) lose their bytes
   (``raw``), with ``secure_delete`` so the values do not linger in free pages.
   A deleted record keeps only its tombstone.
2. *Fold stubs away*: every change row without bytes (erased here, or pruned by
   :mod:`sneakersync.sync.prune`) leaves ``changes`` with its hash: relayed
   segments keep the few subtree hashes that still prove their other changes
   (``merkle.fold``), a destination server's receipts are checked from block
   hashes remembered with the last accepted receipt (``rcpt_peaks``; a change
   waits until that receipt covers it), and own changes are signed around the
   gap on later exports. The ``held`` table keeps claiming the change, so it is
   never asked for or applied again (a late copy is a duplicate; a conflicting
   copy of a removed change is no longer detected as equivocation).
3. *Drop unused segments*: relayed segment signatures no remaining change uses.
4. *Reuse space*: ``PRAGMA incremental_vacuum`` (stores made with
   ``auto_vacuum=INCREMENTAL``), or a full ``VACUUM`` once a quarter of the file
   is free pages (older stores).

The stick is cleaned separately, by :func:`clean_stick` (export and import call
it): a packet file every recipient has confirmed is removed; see
``formats/drive-layout-v1.md`` "Cleaning".

Result keys: ``values_erased``, ``rows_folded``, ``segments_dropped``,
``pages_freed``, ``blocked_by`` (peers not caught up, by name).
"""

from __future__ import annotations

import bisect
import json
from typing import Any, Callable

from sneakersync.store import peers as peers_mod
from sneakersync.store.records import Store
from sneakersync.wire import canonical, merkle
from sneakersync.sync import selection
from sneakersync.sync.engine import Ranges, ensure_carried_table, subtract, union
from sneakersync.sync.medium import DeadDrop

DAY_MS = 86_400_000
EMPTY_KEEP_DAYS = 30  # a packet that carried a recipient no change: kept this long for it
CARRIED_KEEP_DAYS = 180  # what a packet carried is forgotten after this (its file is gone)

_CONFIRMED = ("acked", "receipt")  # knowledge a peer itself gave us


def confirmed_knowledge(store: Store, peer_id: str) -> dict[str, Ranges]:
    out: dict[str, Ranges] = {}
    for origin, ranges in store.conn.execute(
            "SELECT origin, ranges FROM knowledge WHERE peer=? AND source IN (?, ?)",
            (peer_id, *_CONFIRMED)):
        out[origin] = union(out.get(origin, []), json.loads(ranges))
    return out


class _Settled:
    """Whether a change is held by every peer that may see it."""

    def __init__(self, store: Store) -> None:
        self.peers = peers_mod.all_peers(store, include_revoked=False)
        self.known = {p.device_id: {o: [tuple(r) for r in rs] for o, rs in
                                    confirmed_knowledge(store, p.device_id).items()}
                      for p in self.peers}
        self.select: Callable[..., bool] | None = selection.selector_for(store)
        held = store.held_ranges()
        # a peer that claimed own changes we do not hold yet may still send concurrent edits
        self.blocked_by = [p.name for p in self.peers if subtract(
            [list(r) for r in self.known[p.device_id].get(p.device_id, [])],
            held.get(p.device_id, []))]

    def settled(self, origin: str, counter: int, collection: str, raw: bytes) -> bool:
        for p in self.peers:
            if p.device_id == origin:
                continue
            if _within(self.known[p.device_id].get(origin, []), counter):
                continue
            if self.select is not None and raw and not self.select(p, collection, raw):
                continue  # share rules never let this peer see it
            return False
        return True


def _within(ranges: list[Any], n: int) -> bool:
    i = bisect.bisect_right(ranges, (n, 1 << 62)) - 1
    return i >= 0 and ranges[i][0] <= n <= ranges[i][1]


def stable_ranges(store: Store) -> dict[str, Ranges]:
    """Per origin, the held counters every unrevoked peer has confirmed (read-only)."""
    s = _Settled(store)
    out: dict[str, Ranges] = {}
    for origin, rs in store.held_ranges().items():
        cur = rs
        for p in s.peers:
            if p.device_id != origin:
                cur = subtract(cur, subtract(cur, [list(r) for r in
                                                   s.known[p.device_id].get(origin, [])]))
        if cur:
            out[origin] = cur
    return out


BATCH = 10_000  # rows per page (and per transaction): memory is bounded by this


class Pager:
    """The rows of ``sql`` page by page, by keyset (``next()``; ``done`` after the last).

    ``sql`` has ``{after}`` among its WHERE terms, orders by the ``key`` columns (the
    first ``key`` columns of each row) and ends with ``LIMIT ?``; ``{after}`` becomes a
    row-value comparison after the first page.  Rows already passed are never read
    again, so the caller may write (and commit) between pages.
    """

    def __init__(self, store: Store, sql: str, args: tuple[Any, ...], key: int,
                 batch: int | None = None) -> None:
        self.store, self.sql, self.args, self.key = store, sql, args, key
        self.batch = batch or BATCH
        self.cols = sql.split("ORDER BY")[1].split("LIMIT")[0].strip()
        self.last: tuple[Any, ...] | None = None
        self.done = False

    def next(self) -> list[Any]:
        if self.last is None:
            q, extra = self.sql.replace("{after}", "1"), ()
        else:
            q = self.sql.replace("{after}", f"({self.cols}) > ({','.join('?' * self.key)})")
            extra = self.last
        rows = self.store.conn.execute(q, (*self.args, *extra, self.batch)).fetchall()
        if len(rows) < self.batch:
            self.done = True
        else:
            self.last = tuple(rows[-1][:self.key])
        return rows


# Why a transaction per page, not one for the whole step: a transaction that rewrites
# rows all over a large file cannot be checkpointed until it ends, so its WAL grows to
# the size of the store (1.7 GB at 1M records), and every page read inside it searches
# a WAL index that grows with it (one hash table per 4,096 frames).  Committed pages
# let the WAL be checkpointed and reused.  Each page is read and written in one
# transaction.


def erase_superseded(store: Store, settled: _Settled) -> int:
    """Step 1: erase the values of settled changes no record shows any more.

    Page by page, one transaction each (a crash between pages leaves some values
    erased, each rightly; a re-run erases the rest).  The tombstones are read after
    the superseded changes are erased: the two sets are disjoint (a tombstone is its
    record's current version), so the result is the same as reading both first.
    """
    if settled.blocked_by:
        return 0
    done = 0
    superseded = Pager(store, (
        "SELECT c.origin, c.counter, c.collection, c.raw FROM changes c WHERE "
        "length(c.raw) > 0 AND NOT EXISTS (SELECT 1 FROM records r WHERE "
        "r.collection=c.collection AND r.rid=c.rid AND (r.frontier IS NOT NULL OR "
        "(r.origin=c.origin AND r.counter=c.counter))) AND NOT EXISTS (SELECT 1 "
        "FROM records f WHERE f.collection=c.collection AND f.fork_of=c.rid AND "
        "f.fork_of IS NOT NULL) AND {after} ORDER BY c.origin, c.counter LIMIT ?"), (), 2)
    # settled deletions: the tombstone and its record row go too (no peer can send an
    # edit concurrent with it any more; a late copy of any old change is a duplicate)
    graves = Pager(store, (
        "SELECT r.collection, r.rid, r.origin, r.counter, c.raw FROM records r "
        "JOIN changes c ON c.origin=r.origin AND c.counter=r.counter WHERE "
        "r.deleted=1 AND r.frontier IS NULL AND r.fork_of IS NULL AND r.conflict "
        "IS NULL AND {after} ORDER BY r.collection, r.rid LIMIT ?"), (), 2)
    store.conn.execute("PRAGMA secure_delete=ON")
    try:
        while not superseded.done:
            with store.transaction():
                keys = [(o, n) for o, n, k, raw in superseded.next()
                        if settled.settled(o, n, k, bytes(raw))]
                store.conn.executemany("UPDATE changes SET raw=x'' WHERE origin=? AND "
                                       "counter=?", keys)
            done += len(keys)
        while not graves.done:
            with store.transaction():
                dead = [(k, rid, o, n) for k, rid, o, n, raw in graves.next()
                        if settled.settled(o, n, k, bytes(raw))]
                store.conn.executemany("UPDATE changes SET raw=x'' WHERE origin=? AND "
                                       "counter=?", [(o, n) for _, _, o, n in dead])
                store.conn.executemany("DELETE FROM records WHERE collection=? AND rid=?",
                                       [(k, rid) for k, rid, _, _ in dead])
            done += len(dead)
    finally:
        store.conn.execute("PRAGMA secure_delete=OFF")
    return done


def fold_stubs(store: Store) -> int:
    """Step 2: delete change rows without bytes; keep only the hashes others still need.

    Relayed changes: each segment still in use gets, in its ``known`` map, the hashes
    of its maximal subtrees that hold no remaining change (so it still proves the
    rest). Receipts: a change is removed only once every destination server's
    last accepted receipt covers it (its block hashes stand for it from then on).
    Own changes: later exports sign segments around the removed counters.

    Page by page, one transaction each: a page's rows go together with the segment
    hashes that stand for them, so a crash between pages leaves every segment
    provable; a re-run folds the rest.  Folding a segment page by page ends in the
    same hashes as folding it at once (each page keeps hashes for everything removed
    so far; the last one keeps the maximal subtrees).
    """
    from sneakersync.sync import receipts

    origins = [o for (o,) in store.conn.execute(
        "SELECT DISTINCT origin FROM changes WHERE length(raw)=0 ORDER BY origin")]
    if not origins:
        return 0
    servers = [p.device_id for p in receipts.servers(store)]
    limits: dict[str, int] = {}
    if servers:
        receipts.ensure_schema(store)
        for origin in origins:
            lasts = [store.conn.execute("SELECT last FROM rcpt_peaks WHERE server=? AND "
                                        "origin=?", (s, origin)).fetchone() for s in servers]
            limits[origin] = min((int(x[0]) if x else 0) for x in lasts)
    done = 0
    for origin in origins:
        limit = limits.get(origin, 0) if servers else 1 << 62
        stubs = Pager(store, "SELECT counter FROM changes WHERE origin=? AND length(raw)=0 "
                      "AND counter<=? AND {after} ORDER BY counter LIMIT ?", (origin, limit), 1)
        while not stubs.done:
            with store.transaction():
                counters = [int(c) for (c,) in stubs.next()]
                if counters and origin != store.device_id:
                    _fold_segments(store, origin, counters)
                store.conn.executemany("DELETE FROM changes WHERE origin=? AND counter=?",
                                       [(origin, c) for c in counters])
            done += len(counters)
    return done


def _fold_segments(store: Store, origin: str, removed: list[int]) -> None:
    lo, hi = removed[0], removed[-1]
    drop = set(removed)
    for seg_id, first, last, known_json in store.conn.execute(
            "SELECT id, first, last, known FROM segments WHERE origin=? AND first<=? AND last>=?",
            (origin, hi, lo)).fetchall():
        if not any(first <= c <= last for c in drop):
            continue
        leaves = store.hashes(origin, first, last)
        known = {(int(k.split(",")[0]), int(k.split(",")[1])): bytes.fromhex(v)
                 for k, v in json.loads(known_json).items()}
        present = [c for c in leaves if c not in drop]
        if not present:
            continue  # nothing left to prove: the segment is dropped in step 3
        sub = merkle.subtree_from(leaves, known)
        folded = merkle.fold(first, last, present, sub)
        store.conn.execute("UPDATE segments SET known=? WHERE id=?", (canonical.dumps(
            {f"{a},{b}": h.hex() for (a, b), h in sorted(folded.items())}), seg_id))


def drop_unused_segments(store: Store) -> int:
    """Step 3: relayed segment signatures that no remaining change needs."""
    with store.transaction():
        cur = store.conn.execute(
            "DELETE FROM segments WHERE id NOT IN (SELECT DISTINCT segment FROM changes "
            "WHERE segment IS NOT NULL)")
    return int(cur.rowcount or 0)


def reuse_space(store: Store) -> int:
    """Step 4: give free pages back: ``VACUUM`` once a quarter of the file is free, else
    (stores made with ``auto_vacuum=INCREMENTAL``) an incremental vacuum.

    An incremental vacuum takes each free page at the end of the file off the free
    list by searching the list, so over a file that is mostly free (a prune of a
    million records frees 400,000 pages) it runs for many minutes; ``VACUUM`` copies
    only what is live (0.08 s against 3 s at 100k records, peak memory unchanged).
    """
    free = int(store.conn.execute("PRAGMA freelist_count").fetchone()[0])
    if free == 0:
        return 0
    mode = int(store.conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    pages = int(store.conn.execute("PRAGMA page_count").fetchone()[0])
    if free * 4 >= pages:
        store.conn.execute("VACUUM")
    elif mode == 2:
        store.conn.executescript("PRAGMA incremental_vacuum;")  # runs every step (execute: one)
    else:
        return 0
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return free


def compact(store: Store) -> dict[str, Any]:
    """Run every step; see the module docstring."""
    settled = _Settled(store)
    out: dict[str, Any] = {"values_erased": erase_superseded(store, settled)}
    out["rows_folded"] = fold_stubs(store)
    out["segments_dropped"] = drop_unused_segments(store)
    out["pages_freed"] = reuse_space(store)
    out["blocked_by"] = settled.blocked_by
    return out


class _Acks:
    """What each live peer confirmed it holds, read once per cleaning."""

    def __init__(self, store: Store) -> None:
        ensure_carried_table(store)
        self.store = store
        self.live = {p.device_id for p in peers_mod.all_peers(store, include_revoked=False)}
        self._known: dict[str, dict[str, Ranges]] = {}

    def known(self, peer_id: str) -> dict[str, Ranges]:
        got = self._known.get(peer_id)
        if got is None:
            got = self._known[peer_id] = confirmed_knowledge(self.store, peer_id)
        return got


def acknowledged(store: Store, pid: str, now: int, acks: _Acks | None = None) -> bool:
    """Whether every recipient of a packet this device wrote or imported has confirmed
    holding what it carried for them (this device, as a recipient, holds it)."""
    acks = acks or _Acks(store)
    row = store.conn.execute("SELECT at, ranges FROM carried WHERE packet_id=?",
                             (pid,)).fetchone()
    if row is None:
        return False  # a packet this device never opened: not its call
    at, per = int(row[0]), json.loads(row[1])
    for recipient, ranges in per.items():
        if recipient == store.device_id or recipient not in acks.live:
            continue  # us (imported it), or a revoked / forgotten peer: nobody waits for it
        if not ranges:
            if now - at < EMPTY_KEEP_DAYS * DAY_MS:
                return False
            continue
        known = acks.known(recipient)
        for origin, rs in ranges.items():
            if subtract(rs, known.get(origin, [])):
                return False
    return True


def clean_stick(store: Store, drop: DeadDrop, *, now: int | None = None) -> int:
    """Remove from the stick every packet all its recipients have confirmed.

    Crash-safe in any order: the file goes first (a packet re-read later is a
    duplicate anyway), then this device's note of it.  Returns files removed.
    """
    from sneakersync.store.records import now_ms

    now = now if now is not None else now_ms()
    acks = _Acks(store)
    removed: list[str] = []
    for path in drop.packets():
        pid = path.name.split(".")[0]
        if acknowledged(store, pid, now, acks):
            drop.remove(path)
            removed.append(pid)
    # packets acknowledged by now but not on this stick (another device cleaned them, or
    # they travel on another stick, where a device that knows them will clean them)
    settled = removed + [pid for (pid,) in store.conn.execute(
        "SELECT packet_id FROM carried").fetchall()
        if pid not in removed and acknowledged(store, pid, now, acks)]
    with store.transaction():
        store.conn.executemany("DELETE FROM carried WHERE packet_id=?", [(p,) for p in settled])
        store.conn.execute("DELETE FROM carried WHERE at < ?", (now - CARRIED_KEEP_DAYS * DAY_MS,))
    return len(removed)
