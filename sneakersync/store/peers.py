"""Peers: devices we exchange packets with, stored in the device's store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sneakersync.errors import AlreadyExistsError, NotFoundError, UsageError
from sneakersync.wire.identity import Card, decode_card, normalise_name
from sneakersync.store.records import Store, now_ms

TRUST_STATES = ("trusted", "quarantine")


@dataclass
class Peer:
    device_id: str
    name: str
    kind: str
    card: str
    sign_pub: bytes
    enc_pub: bytes
    trust: str
    verified: bool
    added_at: int
    last_seen: int | None
    revoked_at: int | None
    revoked_counter: int | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "device_id": self.device_id, "kind": self.kind,
                "trust": self.trust, "verified": self.verified, "revoked": self.revoked,
                "added_at": self.added_at, "last_seen": self.last_seen, "card": self.card}


_COLS = ("device_id, name, kind, card, sign_pub, enc_pub, trust, verified, added_at, last_seen,"
         " revoked_at, revoked_counter")


def _row(r: Any) -> Peer:
    return Peer(r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5]), r[6], bool(r[7]), r[8], r[9],
                r[10], r[11])


def add(store: Store, card_text: str, name: str | None = None, *,
        trust: str | None = None) -> Peer:
    card: Card = decode_card(card_text)
    if card.device_id == store.device_id:
        raise UsageError("that is this device's own card")
    display = normalise_name(name) if name else card.name
    trust = trust or store.get_setting("default_trust", "trusted") or "trusted"
    if trust not in TRUST_STATES:
        raise UsageError(f"trust must be one of {', '.join(TRUST_STATES)}")
    with store.transaction():
        existing = store.conn.execute("SELECT name, revoked_at FROM peers WHERE device_id=?",
                                      (card.device_id,)).fetchone()
        if existing:
            raise AlreadyExistsError(f"device {card.device_id} is already a peer, "
                                     f"named {existing[0]!r}")
        clash = store.conn.execute("SELECT device_id FROM peers WHERE name=?",
                                   (display,)).fetchone()
        if clash:
            raise AlreadyExistsError(f"a peer named {display!r} already exists",
                                     hints=("give another name with --name",))
        store.conn.execute(
            f"INSERT INTO peers({_COLS}) VALUES(?,?,?,?,?,?,?,?,?,?,NULL,NULL)",
            (card.device_id, display, card.kind_name, card.encode(), card.sign_public,
             card.enc_public, trust, 0, now_ms(), None))
    return get(store, display)


def all_peers(store: Store, *, include_revoked: bool = True) -> list[Peer]:
    rows = [_row(r) for r in store.conn.execute(f"SELECT {_COLS} FROM peers ORDER BY name")]
    return [p for p in rows if include_revoked or not p.revoked]


def get(store: Store, name: str) -> Peer:
    """A peer by its name (exact, else ignoring case and extra spaces) or device id."""
    r = store.conn.execute(f"SELECT {_COLS} FROM peers WHERE name=? OR device_id=?",
                           (name, name)).fetchone()
    if r is not None:
        return _row(r)
    folded = " ".join(name.split()).casefold()
    rows = [x for x in store.conn.execute(f"SELECT {_COLS} FROM peers")
            if " ".join(x[1].split()).casefold() == folded or x[0] == name.strip().lower()]
    if len(rows) == 1:
        return _row(rows[0])
    import difflib

    names = [x[0] for x in store.conn.execute("SELECT name FROM peers ORDER BY name")]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5) or \
        [n for n in names if folded and folded in n.casefold()][:3]
    hints = [f"did you mean {' or '.join(repr(n) for n in close)}?"] if close else []
    hints.append("see: sneakersync peer list")
    raise NotFoundError(f"no peer named {name!r}", hints=hints)


def by_sign_key(store: Store, sign_pub: bytes) -> Peer | None:
    r = store.conn.execute(f"SELECT {_COLS} FROM peers WHERE sign_pub=?", (sign_pub,)).fetchone()
    return None if r is None else _row(r)


def by_id(store: Store, device_id: str) -> Peer | None:
    r = store.conn.execute(f"SELECT {_COLS} FROM peers WHERE device_id=?",
                           (device_id,)).fetchone()
    return None if r is None else _row(r)


def touch(store: Store, device_id: str) -> None:
    store.conn.execute("UPDATE peers SET last_seen=? WHERE device_id=?", (now_ms(), device_id))


# --- changes to one peer (each one transaction) ---------------------------------------

def set_trust(store: Store, device_id: str, trust: str) -> None:
    if trust not in TRUST_STATES:
        raise UsageError(f"trust must be one of {', '.join(TRUST_STATES)}")
    with store.transaction():
        store.conn.execute("UPDATE peers SET trust=? WHERE device_id=?", (trust, device_id))


def set_verified(store: Store, device_id: str, verified: bool = True) -> None:
    with store.transaction():
        store.conn.execute("UPDATE peers SET verified=? WHERE device_id=?",
                           (int(verified), device_id))


def rename(store: Store, device_id: str, new_name: str) -> Peer:
    display = normalise_name(new_name)
    with store.transaction():
        clash = store.conn.execute("SELECT device_id FROM peers WHERE name=? AND device_id<>?",
                                   (display, device_id)).fetchone()
        if clash:
            raise AlreadyExistsError(f"a peer named {display!r} already exists")
        store.conn.execute("UPDATE peers SET name=? WHERE device_id=?", (display, device_id))
    return get(store, device_id)


def remove(store: Store, device_id: str) -> None:
    """Forget a peer: its row and what we knew it held.  Its changes stay, and its card
    is kept in ``cards`` so changes it signed can still be verified and relayed."""
    with store.transaction():
        row = store.conn.execute("SELECT card FROM peers WHERE device_id=?",
                                 (device_id,)).fetchone()
        if row is None:
            return
        store.conn.execute("INSERT OR IGNORE INTO cards(device_id, card) VALUES(?,?)",
                           (device_id, row[0]))
        store.conn.execute("DELETE FROM knowledge WHERE peer=?", (device_id,))
        store.conn.execute("DELETE FROM peers WHERE device_id=?", (device_id,))


def mark_revoked(store: Store, device_id: str, last_counter: int, at: int | None = None) -> None:
    """Revoke (or lower the limit of) a peer; the caller holds the transaction.

    Changes of the peer with a counter above the lowest limit are refused from now on.
    """
    store.conn.execute(
        "UPDATE peers SET revoked_at=COALESCE(revoked_at, ?), revoked_counter="
        "CASE WHEN revoked_counter IS NULL OR revoked_at IS NULL THEN ? "
        "ELSE MIN(revoked_counter, ?) END WHERE device_id=?",
        (at if at is not None else now_ms(), last_counter, last_counter, device_id))
