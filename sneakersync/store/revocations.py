"""Revocations kept in the store: issued here, learned from packets, sent on.

Tables (created on first use, outside the store's versioned schema):
- ``revocations``: one statement per (revoker, revoked), the stronger one kept
  (lower ``last``), so the outcome does not depend on the order packets came in;
- ``revocations_sent``: which statement went to which peer, so a statement is
  sent on even in a packet that has no changes, but only once per peer.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

from sneakersync.store import peers as peers_mod
from sneakersync.wire import merkle
from sneakersync.wire import revocation as rv
from sneakersync.errors import UsageError
from sneakersync.store.home import Home
from sneakersync.store.peers import Peer
from sneakersync.wire.revocation import Revocation
from sneakersync.store.records import Store, now_ms

_TABLES = (
    """CREATE TABLE IF NOT EXISTS revocations (
        revoker TEXT NOT NULL, revoked TEXT NOT NULL, card TEXT NOT NULL,
        last INTEGER NOT NULL, at INTEGER NOT NULL, sig BLOB NOT NULL,
        received_at INTEGER NOT NULL, root BLOB, PRIMARY KEY (revoker, revoked))""",
    """CREATE TABLE IF NOT EXISTS revocations_sent (
        peer TEXT NOT NULL, sig BLOB NOT NULL, PRIMARY KEY (peer, sig))""",
)
_READY = "_sneakersync_revocations_ready"


def ensure_tables(store: Store) -> None:
    if getattr(store, _READY, False):
        return
    for stmt in _TABLES:
        store.conn.execute(stmt)
    try:  # stores made before statements committed to a root
        store.conn.execute("SELECT root FROM revocations LIMIT 0")
    except sqlite3.OperationalError:
        store.conn.execute("ALTER TABLE revocations ADD COLUMN root BLOB")
    if not store.conn.in_transaction:  # a rolled-back transaction would drop the tables
        setattr(store, _READY, True)


def _row(r: tuple) -> Revocation:  # type: ignore[type-arg]
    return Revocation(r[0], r[1], r[2], int(r[3]), int(r[4]), bytes(r[5]),
                      bytes(r[6]) if r[6] is not None else rv.EMPTY_ROOT)


_COLS = "revoker, revoked, card, last, at, sig, root"


def statements(store: Store) -> list[Revocation]:
    ensure_tables(store)
    return [_row(r) for r in store.conn.execute(
        f"SELECT {_COLS} FROM revocations ORDER BY revoked, revoker")]


def limit_for(store: Store, origin: str) -> int | None:
    """Lowest ``last`` any remembered statement allows for ``origin`` (None: not revoked)."""
    if origin == store.device_id:
        return None
    ensure_tables(store)
    row = store.conn.execute("SELECT MIN(last) FROM revocations WHERE revoked=?",
                             (origin,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def remember(store: Store, r: Revocation) -> bool:
    """Keep ``r`` unless a stronger statement of the same pair is kept. True if it changed."""
    ensure_tables(store)
    old = store.conn.execute(f"SELECT {_COLS} FROM revocations WHERE revoker=? AND revoked=?",
                             (r.revoker, r.revoked)).fetchone()
    if old is not None and rv.stronger(_row(old), r) != r:
        return False
    if old is not None and _row(old) == r:
        return False
    store.conn.execute(
        f"INSERT OR REPLACE INTO revocations({_COLS}, received_at) VALUES(?,?,?,?,?,?,?,?)",
        (r.revoker, r.revoked, r.card, r.last, r.at, r.sig, r.root, now_ms()))
    return True


def revoke_peer(home: Home, store: Store, peer: Peer, *, last: int | None = None,
                now: int | None = None) -> Revocation:
    """Revoke ``peer`` here and issue the signed statement that tells the others.

    ``last`` defaults to the highest change counter of the peer this device holds:
    what it already accepted stays, anything the key signs later is refused.
    """
    if last is None:
        last = contiguous_max(store, peer.device_id)
    if last < 0:
        raise UsageError("the last accepted counter cannot be negative")
    root = root_of(store, peer.device_id, last)
    if root is None:
        raise UsageError(f"this device does not hold all of {peer.name!r}'s changes 1..{last}, "
                         "so it cannot vouch for them",
                         hints=(f"revoke after {contiguous_max(store, peer.device_id)} "
                                "(--last), the most it holds without a gap",))
    at = now if now is not None else now_ms()
    from sneakersync.wire.identity import decode_card

    r = rv.sign(home.keys, decode_card(peer.card), last, at, root)
    with store.transaction():
        remember(store, r)
        peers_mod.mark_revoked(store, peer.device_id, r.last, at)
    return r


def contiguous_max(store: Store, origin: str) -> int:
    """The highest N such that this device holds ``origin``'s changes 1..N (0: none)."""
    row = store.conn.execute(
        "SELECT COUNT(*), MAX(counter) FROM changes WHERE origin=? AND counter <= "
        "(SELECT COALESCE(MIN(c1.counter), 0) FROM changes c1 WHERE c1.origin=? AND NOT EXISTS"
        " (SELECT 1 FROM changes c2 WHERE c2.origin=? AND c2.counter = c1.counter + 1))",
        (origin, origin, origin)).fetchone()
    if not row or not row[0] or row[0] != row[1]:
        return 0
    return int(row[1])


def root_of(store: Store, origin: str, last: int) -> bytes | None:
    """Merkle root over ``origin``'s changes 1..last as held here (hashes survive
    pruning); None if one of them is missing."""
    if last == 0:
        return rv.EMPTY_ROOT
    hashes = [bytes(h) for (h,) in store.conn.execute(
        "SELECT hash FROM changes WHERE origin=? AND counter BETWEEN 1 AND ? ORDER BY counter",
        (origin, last))]
    if len(hashes) != last:
        return None
    return merkle.root(hashes)


def roots_for(store: Store, origin: str) -> list[tuple[int, bytes]]:
    """(last, root) of every kept statement about ``origin``."""
    ensure_tables(store)
    return [(int(last), bytes(root) if root is not None else rv.EMPTY_ROOT)
            for last, root in store.conn.execute(
                "SELECT last, root FROM revocations WHERE revoked=?", (origin,))]


def apply_remembered(store: Store, device_id: str) -> int | None:
    """After adding a peer: if a remembered statement revokes it, revoke the peer too."""
    limit = limit_for(store, device_id)
    if limit is not None:
        with store.transaction():
            peers_mod.mark_revoked(store, device_id, limit)
    return limit


def _revoker_key(home: Home, store: Store, revoker: str) -> bytes | None:
    """The signing key of a revoker whose statements count here, else None."""
    if revoker == store.device_id:
        return home.keys.sign_public
    p = peers_mod.by_id(store, revoker)
    if p is None or p.revoked or p.trust != "trusted":
        return None
    return p.sign_pub


def apply_incoming(home: Home, store: Store, items: Iterable[Revocation]) -> int:
    """Apply statements from a packet; the caller holds the transaction.

    Statements by devices that are not trusted, unrevoked peers here are ignored
    (packets carry every statement, so they come again once the revoker is trusted).
    A statement a trusted revoker did not sign raises :class:`AuthError`: the
    whole packet is then rejected.  Returns how many statements were new.
    """
    new = 0
    for r in items:
        key = _revoker_key(home, store, r.revoker)
        if key is None:
            continue
        rv.verify(r, key)
        if remember(store, r):
            new += 1
        if r.revoked != store.device_id and peers_mod.by_id(store, r.revoked) is not None:
            peers_mod.mark_revoked(store, r.revoked, r.last)
    return new


def for_export(store: Store, recipients: Iterable[Peer], *, full: bool = False
               ) -> tuple[list[Revocation], bool]:
    """Every statement (they are small), and whether some recipient has not had one yet."""
    items = statements(store)
    if not items:
        return [], False
    if full:
        return items, True
    ids = [p.device_id for p in recipients]
    unsent = False
    for pid in ids:
        got = {bytes(s) for (s,) in store.conn.execute(
            "SELECT sig FROM revocations_sent WHERE peer=?", (pid,))}
        if any(r.sig not in got and r.revoked != pid for r in items):
            unsent = True
            break
    return items, unsent


def mark_sent(store: Store, peer_ids: Iterable[str], items: Iterable[Revocation]) -> None:
    ensure_tables(store)
    sigs = [r.sig for r in items]
    for pid in peer_ids:
        store.conn.executemany("INSERT OR IGNORE INTO revocations_sent(peer, sig) VALUES(?,?)",
                               [(pid, s) for s in sigs])
