"""Pruning: delete the local copy of records the destination server holds.

Semantics (also in ``docs``/``formats/receipt-v1.md``):

- ``prune`` is *local* deletion of delivered data.  It writes no change and no
  tombstone, so nothing propagates: other devices and the server keep their copies.
- A record is pruned only if its collection's retention policy allows it and its
  *current* version (the single version it shows; never a record in conflict) is
  covered by an accepted receipt from a server this device uses.  A record edited
  since the receipt shows a newer, uncovered version and is kept.
- ``after-receipt-days:N`` waits N days after the first receipt that covered the
  current version.  ``keep`` (the default) never prunes.
- The record's changes stay in the change log as *stubs*: (origin, counter, hash)
  kept, field values (``raw``) erased, when every peer that may receive them is
  already known to hold them.  The stubs keep our manifest (knowledge) claiming
  those changes, so no peer sends them back and a pruned record does not come
  back; their hashes keep Merkle proofs for relayed segments working.  Changes
  some peer may still need from us keep their bytes until a later prune.
- A later edit of a pruned record by anyone arrives as a normal change and makes
  the record visible again (it has no local history to conflict with; the server,
  which holds all versions, still detects real conflicts).

Storage: table ``retention`` (collection, policy, days) in the device's store file.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator

from sneakersync.store import peers as peers_mod
from sneakersync.sync import receipts
from sneakersync.sync import selection
from sneakersync.errors import UsageError
from sneakersync.store.home import Home
from sneakersync.store.records import Store, check_collection, now_ms
from sneakersync.sync.engine import Ranges, peer_knowledge

DAY_MS = 86_400_000
POLICIES = ("keep", "after-receipt", "after-receipt-days")

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS retention (
        collection TEXT PRIMARY KEY, policy TEXT NOT NULL, days INTEGER)""",
]


def ensure_schema(store: Store) -> None:
    with store.transaction():
        for stmt in _SCHEMA:
            store.conn.execute(stmt)


def parse_policy(text: str) -> tuple[str, int | None]:
    """``keep`` | ``after-receipt`` | ``days:N`` | ``after-receipt-days:N``."""
    t = text.strip().lower()
    if t in ("keep", "after-receipt"):
        return t, None
    for prefix in ("after-receipt-days:", "after-receipt-days=", "days:", "days="):
        if t.startswith(prefix):
            try:
                days = int(t[len(prefix):])
            except ValueError:
                break
            if days < 0:
                break
            return "after-receipt-days", days
    raise UsageError(f"retention policy {text!r} is not one of: keep, after-receipt, days:N",
                     hints=("example: sneakersync collection retention households days:30",))


def set_retention(store: Store, collection: str, text: str) -> dict[str, Any]:
    check_collection(collection)
    policy, days = parse_policy(text)
    ensure_schema(store)
    with store.transaction():
        store.conn.execute("INSERT INTO retention(collection, policy, days) VALUES(?,?,?) "
                           "ON CONFLICT(collection) DO UPDATE SET policy=excluded.policy, "
                           "days=excluded.days", (collection, policy, days))
    return {"collection": collection, "retention": policy, "days": days}


def retention(store: Store) -> dict[str, tuple[str, int | None]]:
    ensure_schema(store)
    return {c: (p, d) for c, p, d in store.conn.execute(
        "SELECT collection, policy, days FROM retention ORDER BY collection")}


def _contains(ranges: Ranges, n: int) -> bool:
    return any(lo <= n <= hi for lo, hi in ranges)


BATCH = 10_000  # records (or changes) per page and transaction: memory is bounded by this


@dataclass
class Plan:
    records: list[tuple[str, str]] = field(default_factory=list)
    by_collection: dict[str, int] = field(default_factory=dict)
    edited_since: int = 0
    not_delivered: int = 0
    in_conflict: int = 0
    waiting: int = 0
    count: int = 0  # records that may go (``records`` lists them unless ``keep=False``)


def _record_pager(store: Store, collection: str) -> Any:
    from sneakersync.sync.compact import Pager

    return Pager(store, "SELECT rid, origin, counter, frontier, conflict, fork_of FROM "
                 "records WHERE collection=? AND {after} ORDER BY rid LIMIT ?",
                 (collection,), 1, BATCH)


def _verdict(store: Store, covered: dict[str, Ranges], collection: str, policy: str,
             days: int | None, now: int, row: Any) -> str:
    """Why a record stays (``in_conflict``, ``edited_since``, ``not_delivered``,
    ``waiting``), or ``go``."""
    rid, origin, counter, frontier, conflict, fork_of = row
    if frontier is not None or conflict is not None or fork_of is not None:
        return "in_conflict"
    if not _contains(covered.get(origin, []), counter):
        older = store.conn.execute(
            "SELECT origin, counter FROM changes WHERE collection=? AND rid=?",
            (collection, rid)).fetchall()
        if any(_contains(covered.get(o, []), c) for o, c in older):
            return "edited_since"
        return "not_delivered"
    if policy == "after-receipt-days":
        since = receipts.covered_since(store, origin, counter)
        if since is None or now - since < (days or 0) * DAY_MS:
            return "waiting"
    return "go"


def _candidates(store: Store, covered: dict[str, Ranges], now: int, *, write: bool = False
                ) -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """Per page of records whose collection may prune: (collection, [(verdict, row)]).
    With ``write``, each page is read, and the caller's writes for it made, in one
    transaction (committed when the caller asks for the next page)."""
    for collection, (policy, days) in retention(store).items():
        if policy == "keep":
            continue
        pager = _record_pager(store, collection)
        while not pager.done:
            with store.transaction() if write else contextlib.nullcontext():
                rows = pager.next()
                yield collection, [(_verdict(store, covered, collection, policy, days, now,
                                             r), r) for r in rows]


def plan(store: Store, *, now: int | None = None, keep: bool = True) -> Plan:
    """Which records may go now (read-only; ``keep=False`` only counts them)."""
    now = now if now is not None else now_ms()
    out = Plan()
    covered = receipts.covered_ranges(store)
    for collection, page in _candidates(store, covered, now):
        for verdict, row in page:
            if verdict != "go":
                setattr(out, verdict, getattr(out, verdict) + 1)
                continue
            if keep:
                out.records.append((collection, row[0]))
            out.count += 1
            out.by_collection[collection] = out.by_collection.get(collection, 0) + 1
    return out


class _Needs:
    """Whether some unrevoked peer may still need a change from us."""

    def __init__(self, store: Store) -> None:
        self.peers = peers_mod.all_peers(store, include_revoked=False)
        self.known = {p.device_id: peer_knowledge(store, p.device_id) for p in self.peers}
        self.select = selection.selector_for(store)

    def needed(self, origin: str, counter: int, collection: str, raw: bytes) -> bool:
        for p in self.peers:
            if p.device_id == origin:
                continue
            if self.select is not None and not self.select(p, collection, raw):
                continue
            if not _contains(self.known[p.device_id].get(origin, []), counter):
                return True
        return False


def prune(home: Home, store: Store, *, dry_run: bool = False,
          now: int | None = None) -> dict[str, Any]:
    """Delete the local copy of delivered records; see the module docstring.

    No list of records or changes is held in memory: a first read-only pass counts
    the plan, then a second walks the records again page by page (:data:`BATCH`
    records), each page read and pruned in one transaction: its records, their forks
    and the bytes of their changes go together, so a crash between pages leaves every
    record either whole or fully pruned, and a re-run prunes the rest (the same store
    as one uninterrupted run).  Deleting a record touches only that record, its forks
    (never pruned themselves: the first pass counted them in ``in_conflict``) and its
    own changes, so the second pass decides exactly as the first.  Stubs left by
    earlier prunes are erased first, page by page too (their records are gone, so they
    share no change with the records pruned now).
    """
    now = now if now is not None else now_ms()
    ensure_schema(store)
    p = plan(store, now=now, keep=False)
    covered = receipts.covered_ranges(store)
    needs = _Needs(store)
    result: dict[str, Any] = {
        "dry_run": dry_run, "records": p.count, "by_collection": p.by_collection,
        "edited_since": p.edited_since, "not_delivered": p.not_delivered,
        "in_conflict": p.in_conflict, "waiting": p.waiting,
        "changes_erased": 0, "changes_kept_for_peers": 0,
        "packets_removed": 0, "bookkeeping_rows_merged": 0,
        "receipts": [{"server": r["server"], "seq": r["seq"]} for r in receipts.status(store)],
    }
    if dry_run:
        stubbed, kept, _ = _walk(store, covered, needs, now, write=False)
        result["changes_erased"], result["changes_kept_for_peers"] = stubbed, kept
        return result
    result["seen_packets_forgotten"] = compact_seen(store, now)
    store.conn.execute("PRAGMA secure_delete=ON")  # erased values do not linger in free pages
    try:
        # stubs left from earlier prunes whose peers have since caught up
        late = _late_stubs(store, covered, needs)
        stubbed, kept, gone = _walk(store, covered, needs, now, write=True)
    finally:
        store.conn.execute("PRAGMA secure_delete=OFF")
    result["changes_erased"], result["changes_kept_for_peers"] = stubbed + late, kept
    if not gone and not late:
        _compact(store, result)
        return result
    longest = max([d or 0 for _, d in retention(store).values()] + [0])
    result["bookkeeping_rows_merged"] = receipts.compact(store, now - (longest + 1) * DAY_MS)
    _compact(store, result)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return result


def _walk(store: Store, covered: dict[str, Ranges], needs: _Needs, now: int, *,
          write: bool) -> tuple[int, int, int]:
    """Go through the records that may go; with ``write``, delete them (and their forks)
    and erase the bytes of their changes no peer needs, one transaction per page.
    Returns (changes erased, changes kept for peers, records deleted)."""
    stubbed = kept_for_peers = gone = 0
    # closing(): an error inside a page rolls its transaction back at once
    with contextlib.closing(_candidates(store, covered, now, write=write)) as pages:
        for collection, page in pages:
            rids = [(collection, row[0]) for verdict, row in page if verdict == "go"]
            stub_keys: list[tuple[str, int]] = []
            for _, rid in rids:
                for origin, counter, raw in store.conn.execute(
                        "SELECT origin, counter, raw FROM changes WHERE collection=? AND "
                        "rid=?", (collection, rid)).fetchall():
                    raw = bytes(raw)
                    if not raw:
                        continue  # already a stub
                    if not _contains(covered.get(origin, []), counter):
                        kept_for_peers += 1  # an older version the server never got
                    elif needs.needed(origin, counter, collection, raw):
                        kept_for_peers += 1
                    else:
                        stub_keys.append((origin, counter))
                        stubbed += 1
            gone += len(rids)
            if write and rids:
                # two statements, each on its index (an OR of the two scans the collection)
                store.conn.executemany("DELETE FROM records WHERE collection=? AND rid=?",
                                       rids)
                store.conn.executemany("DELETE FROM records WHERE collection=? AND "
                                       "fork_of=?", rids)
                store.conn.executemany("UPDATE changes SET raw=x'' WHERE origin=? AND "
                                       "counter=?", stub_keys)
    return stubbed, kept_for_peers, gone


def _compact(store: Store, result: dict[str, Any]) -> None:
    from sneakersync.sync import compact

    got = compact.compact(store)
    result["changes_erased"] += got["values_erased"]
    result["compaction"] = got


SEEN_KEEP_DAYS = 90


def compact_seen(store: Store, now: int, keep_days: int = SEEN_KEEP_DAYS) -> int:
    """Forget packets settled more than ``keep_days`` ago (the seen-set stays small).

    Safe because import is idempotent: if such a packet shows up again it is simply
    opened once more and every change in it is a duplicate.
    """
    with store.transaction():
        cur = store.conn.execute(
            "DELETE FROM packets WHERE at < ? AND status IN ('imported', 'duplicate', "
            "'not_for_me', 'rejected')", (now - keep_days * DAY_MS,))
        n = int(cur.rowcount or 0)
        if store.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                              "name='drop_refusals'").fetchone():
            n += int(store.conn.execute("DELETE FROM drop_refusals WHERE at < ?",
                                        (now - keep_days * DAY_MS,)).rowcount or 0)
    return n


def _late_stubs(store: Store, covered: dict[str, Ranges], needs: _Needs) -> int:
    """Erase changes of already-pruned records that kept their bytes for a peer that
    now has them, one transaction per page; returns how many."""
    from sneakersync.sync.compact import Pager

    pager = Pager(store, (
        "SELECT c.origin, c.counter, c.collection, c.rid, c.raw FROM changes c WHERE "
        "length(c.raw) > 0 AND NOT EXISTS (SELECT 1 FROM records r WHERE "
        "r.collection=c.collection AND r.rid=c.rid) AND EXISTS (SELECT 1 FROM rcpt_cover k "
        "WHERE k.origin=c.origin AND k.lo<=c.counter AND k.hi>=c.counter) AND {after} "
        "ORDER BY c.origin, c.counter LIMIT ?"), (), 2, BATCH)
    done = 0
    while not pager.done:
        with store.transaction():
            keys = [(origin, counter) for origin, counter, collection, rid, raw in pager.next()
                    if _contains(covered.get(origin, []), counter)
                    and not needs.needed(origin, counter, collection, bytes(raw))]
            store.conn.executemany("UPDATE changes SET raw=x'' WHERE origin=? AND counter=?",
                                   keys)
        done += len(keys)
    return done
