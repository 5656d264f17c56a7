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

from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class Plan:
    records: list[tuple[str, str]] = field(default_factory=list)
    by_collection: dict[str, int] = field(default_factory=dict)
    edited_since: int = 0
    not_delivered: int = 0
    in_conflict: int = 0
    waiting: int = 0


def plan(store: Store, *, now: int | None = None) -> Plan:
    """Which records may go now (read-only)."""
    now = now if now is not None else now_ms()
    out = Plan()
    covered = receipts.covered_ranges(store)
    for collection, (policy, days) in retention(store).items():
        if policy == "keep":
            continue
        rows = store.conn.execute(
            "SELECT rid, origin, counter, frontier, conflict, fork_of FROM records "
            "WHERE collection=?", (collection,)).fetchall()
        for rid, origin, counter, frontier, conflict, fork_of in rows:
            if frontier is not None or conflict is not None or fork_of is not None:
                out.in_conflict += 1
                continue
            if not _contains(covered.get(origin, []), counter):
                older = store.conn.execute(
                    "SELECT origin, counter FROM changes WHERE collection=? AND rid=?",
                    (collection, rid)).fetchall()
                if any(_contains(covered.get(o, []), c) for o, c in older):
                    out.edited_since += 1
                else:
                    out.not_delivered += 1
                continue
            if policy == "after-receipt-days":
                since = receipts.covered_since(store, origin, counter)
                if since is None or now - since < (days or 0) * DAY_MS:
                    out.waiting += 1
                    continue
            out.records.append((collection, rid))
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
    """Delete the local copy of delivered records; see the module docstring."""
    now = now if now is not None else now_ms()
    ensure_schema(store)
    p = plan(store, now=now)
    covered = receipts.covered_ranges(store)
    needs = _Needs(store)
    stubbed = kept_for_peers = 0
    stub_keys: list[tuple[str, int]] = []
    for collection, rid in p.records:
        for origin, counter, raw in store.conn.execute(
                "SELECT origin, counter, raw FROM changes WHERE collection=? AND rid=?",
                (collection, rid)):
            raw = bytes(raw)
            if not raw:
                continue  # already a stub
            if not _contains(covered.get(origin, []), counter):
                kept_for_peers += 1  # an older version the server never got: keep its bytes
            elif needs.needed(origin, counter, collection, raw):
                kept_for_peers += 1
            else:
                stub_keys.append((origin, counter))
                stubbed += 1
    # stubs left from earlier prunes whose peers have since caught up
    late = _late_stubs(store, covered, needs) if not dry_run else []
    result: dict[str, Any] = {
        "dry_run": dry_run, "records": len(p.records), "by_collection": p.by_collection,
        "edited_since": p.edited_since, "not_delivered": p.not_delivered,
        "in_conflict": p.in_conflict, "waiting": p.waiting,
        "changes_erased": stubbed + len(late), "changes_kept_for_peers": kept_for_peers,
        "packets_removed": 0, "bookkeeping_rows_merged": 0,
        "receipts": [{"server": r["server"], "seq": r["seq"]} for r in receipts.status(store)],
    }
    if not dry_run:
        result["seen_packets_forgotten"] = compact_seen(store, now)
    if dry_run:
        return result
    if not p.records and not late:
        _compact(store, result)
        return result
    store.conn.execute("PRAGMA secure_delete=ON")  # erased values do not linger in free pages
    try:
        with store.transaction():
            # two statements, each on its index (an OR of the two scans the collection)
            store.conn.executemany("DELETE FROM records WHERE collection=? AND rid=?",
                                   p.records)
            store.conn.executemany("DELETE FROM records WHERE collection=? AND fork_of=?",
                                   p.records)
            store.conn.executemany("UPDATE changes SET raw=x'' WHERE origin=? AND counter=?",
                                   stub_keys + late)
    finally:
        store.conn.execute("PRAGMA secure_delete=OFF")
    longest = max([d or 0 for _, d in retention(store).values()] + [0])
    result["bookkeeping_rows_merged"] = receipts.compact(store, now - (longest + 1) * DAY_MS)
    _compact(store, result)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return result


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


def _late_stubs(store: Store, covered: dict[str, Ranges], needs: _Needs
                ) -> list[tuple[str, int]]:
    """Changes of already-pruned records that kept their bytes for a peer that now has them."""
    out = []
    for origin, counter, collection, rid, raw in store.conn.execute(
            "SELECT c.origin, c.counter, c.collection, c.rid, c.raw FROM changes c WHERE "
            "length(c.raw) > 0 AND NOT EXISTS (SELECT 1 FROM records r WHERE "
            "r.collection=c.collection AND r.rid=c.rid) AND EXISTS (SELECT 1 FROM "
            "rcpt_cover k WHERE k.origin=c.origin AND k.lo<=c.counter AND k.hi>=c.counter)"
    ).fetchall():
        raw = bytes(raw)
        if _contains(covered.get(origin, []), counter) and \
                not needs.needed(origin, counter, collection, raw):
            out.append((origin, counter))
    return out
