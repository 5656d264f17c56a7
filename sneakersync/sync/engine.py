"""Building packets for peers and applying packets from them.

This module joins the sans-I/O codecs (body, packet, merkle) to the store.
It never touches a drive: transports hand it bytes and get bytes back.
"""

from __future__ import annotations

import gc
import json
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from sneakersync.wire import body as body_mod
from sneakersync.wire import canonical
from sneakersync.wire import crypto
from sneakersync.wire import merkle
from sneakersync.wire import packet
from sneakersync.store import peers as peers_mod
from sneakersync.store import binding as eden_binding
from sneakersync.wire import revocation
from sneakersync.store import revocations as revocation_store
from sneakersync.sync import selection
from sneakersync.errors import AuthError, NoMatchError, RevokedError, SneakersyncError, UsageError
from sneakersync.store.durable import write_durably
from sneakersync.store.home import Home
from sneakersync.wire.identity import Card
from sneakersync.store.peers import Peer
from sneakersync.wire.revocation import Revocation
from sneakersync.store.records import ApplyStats, Store, now_ms

Ranges = list[list[int]]


# --- knowledge ----------------------------------------------------------------------

def held_ranges(store: Store) -> dict[str, Ranges]:
    """Per origin, the counters this device holds, as [first, last] ranges (read from the
    store's ``held`` table, kept up to date on every insert: no scan of the change log)."""
    return store.held_ranges()


def union(a: Ranges, b: Ranges) -> Ranges:
    merged: Ranges = []
    for lo, hi in sorted([list(r) for r in a] + [list(r) for r in b]):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def subtract(a: Ranges, b: Ranges) -> Ranges:
    """Counters in ``a`` and not in ``b``."""
    out: Ranges = []
    b = union(b, [])
    for lo, hi in a:
        cur = lo
        for blo, bhi in b:
            if bhi < cur or blo > hi:
                continue
            if blo > cur:
                out.append([cur, blo - 1])
            cur = max(cur, bhi + 1)
            if cur > hi:
                break
        if cur <= hi:
            out.append([cur, hi])
    return out


def intersect(a: Ranges, b: Ranges) -> Ranges:
    """Counters in both ``a`` and ``b`` (each ascending and disjoint), in one linear pass."""
    out: Ranges = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append([lo, hi])
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def runs(counters: Sequence[int]) -> Ranges:
    """Ascending unique ``counters`` as [first, last] runs (one comparison when they
    have no gap, the common case of a full export)."""
    if counters and counters[-1] - counters[0] + 1 == len(counters):
        return [[counters[0], counters[-1]]]
    return body_mod.ranges_from(counters)


def peer_knowledge(store: Store, peer_id: str) -> dict[str, Ranges]:
    known: dict[str, Ranges] = {}
    for origin, ranges in store.conn.execute(
            "SELECT origin, ranges FROM knowledge WHERE peer=?", (peer_id,)):
        known[origin] = union(known.get(origin, []), json.loads(ranges))
    return known


def record_knowledge(store: Store, peer_id: str, source: str, ranges: dict[str, Ranges]) -> None:
    for origin, rs in ranges.items():
        row = store.conn.execute(
            "SELECT ranges FROM knowledge WHERE peer=? AND origin=? AND source=?",
            (peer_id, origin, source)).fetchone()
        merged = union(json.loads(row[0]) if row else [], rs)
        store.conn.execute(
            "INSERT INTO knowledge(peer, origin, source, ranges) VALUES(?,?,?,?) "
            "ON CONFLICT(peer, origin, source) DO UPDATE SET ranges=excluded.ranges",
            (peer_id, origin, source, canonical.dumps(merged)))


# --- export -------------------------------------------------------------------------

Selector = Callable[[Peer, str, bytes], bool]  # (peer, collection, raw change) -> share?


@dataclass
class Outgoing:
    data: bytes
    packet_id: str
    recipients: list[Peer]
    changes: int
    sent: dict[str, dict[str, Ranges]]  # peer id -> origin -> ranges
    revocations: list[Revocation] = field(default_factory=list)
    body_len: int = 0  # bytes of the body before compression (the envelope's U)

    def commit(self, store: Store) -> None:
        """Remember what each recipient now has (call once the packet is safely written)."""
        with store.transaction():
            for peer_id, ranges in self.sent.items():
                record_knowledge(store, peer_id, "sent", ranges)
            if self.revocations:
                revocation_store.mark_sent(store, self.sent, self.revocations)
            note_carried(store, self.packet_id, {p.device_id: self.sent.get(p.device_id, {})
                                                 for p in self.recipients})


def _needed_for(store: Store, peer: Peer, held: dict[str, Ranges], full: bool
                ) -> dict[str, Ranges]:
    known = {} if full else peer_knowledge(store, peer.device_id)
    out = {}
    for origin, rs in held.items():
        if origin == peer.device_id:
            continue  # never send a device its own changes
        need = subtract(rs, known.get(origin, []))
        if need:
            out[origin] = need
    return out


def build_export(home: Home, store: Store, recipients: Sequence[Peer], *,
                 selector: Selector | None = None, use_rules: bool = True, full: bool = False,
                 rng: crypto.Rng = crypto.system_rng, level: int | None = None, pad_to: int = 4096,
                 now: int | None = None, dictionary: bool = True,
                 only: dict[str, Ranges] | None = None) -> Outgoing | None:
    """One packet for ``recipients`` holding everything any of them lacks and *all*
    of them may see: ``selector`` (default: the store's share rules, see
    :mod:`sneakersync.sync.selection`, unless ``use_rules=False``).  Use
    :func:`build_exports` for recipients whose rules differ.  Every packet also
    carries the revocation statements this device holds.

    ``only`` limits the packet to those counters (one part of a split export).

    Returns None when no recipient lacks anything (and no statement is new to one).
    """
    if not recipients:
        raise UsageError("no recipients: add a peer first (sneakersync peer add CARD)")
    for p in recipients:
        if p.revoked:
            raise UsageError(f"peer {p.name!r} is revoked; packets are no longer made for it")
    if selector is None and use_rules:
        selector = selection.selector_for(store)
    held, per_peer, wanted = _wanted(store, recipients, full)
    if only is not None:
        wanted = {o: got for o, rs in wanted.items()
                  if (got := intersect(union(rs, []), union(only.get(o, []), [])))}
    # selection: a change goes only if every recipient may see it (all can decrypt the packet)
    segments: list[body_mod.Segment] = []
    sent: dict[str, dict[str, Ranges]] = {p.device_id: {} for p in recipients}
    total = 0
    origins_cards: dict[str, str] = {}
    for origin in sorted(wanted):
        whole = (_fetch_whole(store, origin, wanted[origin])
                 if origin == store.device_id and selector is None else None)
        if whole is not None:  # the common case, read with two columns a row
            counters, raws, span = whole
            segments.extend(_own_segment(home, store, counters, raws, span))
        else:
            held_rows = _fetch(store, origin, wanted[origin], collection=selector is not None)
            rows = [r for r in held_rows if r[2]]  # pruned: their hash counts, not their bytes
            if selector is not None:
                rows = [r for r in rows if all(selector(p, r[1], r[2]) for p in recipients)]
            if not rows:
                continue
            counters = [r[0] for r in rows]
            if origin == store.device_id:
                segments.extend(_own_segment(home, store, counters, [r[2] for r in rows],
                                             _span_hashes(held_rows, counters[0], counters[-1])))
            else:
                segments.extend(_relayed_segments(store, origin, rows))
        card = _card_of(store, origin, home)
        if card:
            origins_cards[origin] = card
        total += len(counters)
        mine = runs(counters)  # only what went into this packet
        for p in recipients:
            need = intersect(mine, per_peer[p.device_id].get(origin, []))
            if need:
                sent[p.device_id][origin] = need
    revocations, unsent = revocation_store.for_export(store, recipients, full=full)
    if total == 0 and not unsent:
        return None
    origins_cards.setdefault(store.device_id, home.card.encode())
    extra: dict[str, Any] = {}
    policies = explicit_policies(store)
    if policies:
        extra["policies"] = policies
    bindings = eden_binding.all_bindings(store)
    if bindings:
        extra["eden_bindings"] = bindings
    if revocations:
        extra["revocations"] = [r.to_json() for r in revocations]
    b = body_mod.Body(sender=store.device_id, created=now if now is not None else now_ms(),
                      to=[p.device_id for p in recipients], manifest=held,
                      origins=origins_cards, segments=segments, extra=extra)
    zd = None
    if dictionary:
        from sneakersync.wire.dictionary import builtin, default_id

        did = default_id()
        zd = builtin().get(did) if did is not None else None
    raw = body_mod.encode(b)
    data = packet.seal(home.keys, [p.enc_pub for p in recipients], raw, rng=rng,
                       level=level if level is not None else zstd_level(len(raw)),
                       pad_to=pad_to, dictionary=zd)
    return Outgoing(data, packet.packet_id(data), list(recipients), total, sent, revocations,
                    len(raw))


SMALL_BODY = 1 << 18


def zstd_level(body_len: int) -> int:
    """Compression level by body size, chosen by measurement (parts of 10,000 changes of
    100k households, CPU time of zstd alone): level 1 is 18% faster than level 3 for 4%
    more bytes; level 5 takes 2.7x the time for 12% fewer bytes, level 7 4x for 21%
    fewer. Small bodies (acks, deltas, QR streams, where every byte is a frame) take
    level 19, which costs milliseconds there; large ones level 3, where a stick has
    room and the user waits."""
    return 19 if body_len < SMALL_BODY else 3


def _wanted(store: Store, recipients: Sequence[Peer], full: bool
            ) -> tuple[dict[str, Ranges], dict[str, dict[str, Ranges]], dict[str, Ranges]]:
    held = held_ranges(store)
    per_peer = {p.device_id: _needed_for(store, p, held, full) for p in recipients}
    wanted: dict[str, Ranges] = {}
    for need in per_peer.values():
        for origin, rs in need.items():
            wanted[origin] = union(wanted.get(origin, []), rs)
    return held, per_peer, wanted


MAX_PACKET_CHANGES = 10_000  # a larger export is split (formats/packet-v1.md, "Split exports")
# and a part whose body is larger is halved: what a sneakersync server takes in one packet
# (formats/server-http-v1.md 2.1) whatever the records' size
MAX_PACKET_BODY = 32 << 20


def split_ranges(wanted: dict[str, Ranges], size: int) -> list[dict[str, Ranges]]:
    """Cut per-origin counter ranges into parts of at most ``size`` counters each, in
    origin then counter order (counters a store no longer holds still count: parts
    are never larger than ``size`` changes)."""
    parts: list[dict[str, Ranges]] = []
    cur: dict[str, Ranges] = {}
    room = size
    for origin in sorted(wanted):
        for lo, hi in wanted[origin]:
            while lo <= hi:
                take = min(hi - lo + 1, room)
                cur.setdefault(origin, []).append([lo, lo + take - 1])
                lo += take
                room -= take
                if room == 0:
                    parts.append(cur)
                    cur, room = {}, size
    if cur:
        parts.append(cur)
    return parts


def build_exports(home: Home, store: Store, recipients: Sequence[Peer], *,
                  selector: Selector | None = None, use_rules: bool = True,
                  max_changes: int = MAX_PACKET_CHANGES, max_body: int = MAX_PACKET_BODY,
                  **kw: Any) -> list[Outgoing]:
    """Packets for ``recipients``: one per group of recipients that may see the same
    things under the share rules (one packet in all when no rules tell them apart),
    and a group's changes split into packets of at most ``max_changes`` changes and
    ``max_body`` bytes of body each, so memory on both sides stays bounded whatever the
    export's size."""
    if not recipients:
        raise UsageError("no recipients: add a peer first (sneakersync peer add CARD)")
    groups = ([list(recipients)] if selector is not None or not use_rules
              else selection.group_recipients(store, recipients))
    out = []
    with no_cyclic_gc():  # rows of the change log, no cycles among them
        for group in groups:
            for part in _parts(store, group, bool(kw.get("full")), max_changes):
                out.extend(_within(home, store, group, part, max_body, selector=selector,
                                   use_rules=use_rules, **kw))
    return out


def _within(home: Home, store: Store, group: Sequence[Peer], part: dict[str, Ranges] | None,
            max_body: int, **kw: Any) -> list[Outgoing]:
    """The packet of ``part``; if its body is larger than ``max_body`` (large records),
    the packets of its two halves instead, and so on down to single changes.  Only an
    oversized part is built twice: the common case costs nothing more."""
    o = build_export(home, store, group, only=part, **kw)
    if o is None or o.body_len <= max_body or o.changes <= 1:
        return [o] if o is not None else []
    if part is None:
        part = _wanted(store, group, bool(kw.get("full")))[2]
    count = sum(hi - lo + 1 for rs in part.values() for lo, hi in rs)
    return [x for half in split_ranges(part, (count + 1) // 2)
            for x in _within(home, store, group, half, max_body, **kw)]


def _parts(store: Store, group: Sequence[Peer], full: bool, max_changes: int
           ) -> list[dict[str, Ranges] | None]:
    """The counters of each packet for ``group``: None (one packet, everything) or
    consecutive parts of at most ``max_changes`` counters (formats/packet-v1.md)."""
    _, _, wanted = _wanted(store, group, full)
    total = sum(hi - lo + 1 for rs in wanted.values() for lo, hi in rs)
    return [None] if total <= max_changes else list(split_ranges(wanted, max_changes))


Row = tuple[int, str, bytes, "int | None", bytes]  # counter, collection, raw, segment, hash


def _fetch(store: Store, origin: str, ranges: Ranges, *, collection: bool = True
           ) -> list[Row]:
    """Every change of ``origin`` held within ``ranges``, pruned ones included (their
    ``raw`` is empty; their hash still counts for the Merkle tree), in counter order.

    Our own changes have no stored segment, and without share rules the collection
    is not read either (``''``): each column read costs a Python object per row."""
    kind = "collection" if collection else "''"
    seg = "NULL" if origin == store.device_id else "segment"
    cols = f"counter, {kind}, raw, {seg}, hash"
    rows: list[Row] = []
    for lo, hi in ranges:
        rows += store.conn.execute(
            f"SELECT {cols} FROM changes WHERE origin=? AND counter BETWEEN ? AND ? "
            "ORDER BY counter", (origin, lo, hi)).fetchall()
    return rows


def _fetch_whole(store: Store, origin: str, ranges: Ranges
                 ) -> tuple[list[int], list[bytes], list[bytes] | None] | None:
    """``(counters, raws, span)`` when every counter of ``ranges`` is held with its
    bytes (nothing pruned or compacted there; None otherwise): only ``raw`` and
    ``hash`` are read, the counters follow from the ranges. ``span`` holds the leaf
    hashes from the first to the last counter when ``ranges`` is one range."""
    raws: list[bytes] = []
    hashes: list[bytes] = []
    counters: list[int] = []
    for lo, hi in ranges:
        rows = store.conn.execute(
            "SELECT raw, hash FROM changes WHERE origin=? AND counter BETWEEN ? AND ? "
            "ORDER BY counter", (origin, lo, hi)).fetchall()
        if len(rows) != hi - lo + 1:
            return None  # compacted counters inside: no row for them
        got, leaf = zip(*rows)
        if not all(got):
            return None  # pruned changes inside: held as a hash only
        raws += got
        hashes += leaf
        counters += range(lo, hi + 1)
    if not counters:
        return None
    return counters, raws, hashes if len(ranges) == 1 else None


def _span_hashes(held_rows: Sequence[Row], first: int, last: int) -> list[bytes] | None:
    """The leaf hashes of counters first..last when ``held_rows`` hold every one of
    them (None: some are not among the rows, ask the store)."""
    i = bisect_left(held_rows, first, key=lambda r: r[0])
    j = i + last - first
    if j < len(held_rows) and held_rows[j][0] == last and held_rows[i][0] == first:
        return [r[4] for r in held_rows[i:j + 1]]  # ascending and unique: no gap between
    return None


def _own_segment(home: Home, store: Store, counters: list[int], raws: list[bytes],
                 span: list[bytes] | None = None) -> list[body_mod.Segment]:
    """Signed segments over our own changes: one per stretch of the change log with no
    compacted counter inside (compaction keeps no hash of settled changes).

    ``span``: the leaf hashes of every counter from the first to the last of
    ``counters`` when the caller already read them (then the span has no gap)."""
    first, last = counters[0], counters[-1]
    if span is not None:
        root = merkle.root(span)
        proof = merkle.prove(lambda lo, hi: merkle.root(span[lo - first:hi - first]),
                             first, last, counters) if len(counters) != len(span) else []
        sig = body_mod.sign_segment(home.keys.sign_secret, store.device_id, first, last, root)
        return [body_mod.Segment(store.device_id, first, last, root, sig, proof, raws)]
    by_counter = store.hashes(store.device_id, first, last)
    whole = len(by_counter) == last - first + 1  # no gap: one segment
    out: list[body_mod.Segment] = []
    start = 0
    for i in range(1, len(counters) + 1):
        if i < len(counters) and (whole or all(c in by_counter for c in
                                                range(counters[i - 1] + 1, counters[i]))):
            continue
        part, part_raws = counters[start:i], raws[start:i]
        lo_c, hi_c = part[0], part[-1]
        hashes = [by_counter[c] for c in range(lo_c, hi_c + 1)]
        seg_root = merkle.root(hashes)
        seg_proof = merkle.prove(lambda lo, hi, f=lo_c, h=hashes: merkle.root(h[lo - f:hi - f]),
                                 lo_c, hi_c, part) if len(part) != len(hashes) else []
        seg_sig = body_mod.sign_segment(home.keys.sign_secret, store.device_id, lo_c, hi_c,
                                        seg_root)
        out.append(body_mod.Segment(store.device_id, lo_c, hi_c, seg_root, seg_sig, seg_proof,
                                    part_raws))
        start = i
    return out


def _relayed_segments(store: Store, origin: str, rows: Sequence[Row]
                      ) -> list[body_mod.Segment]:
    by_seg: dict[int, list[tuple[int, bytes]]] = {}
    for c, _k, raw, seg, _h in rows:
        if seg is None:
            raise SneakersyncError(f"change {origin}:{c} has no origin signature on record")
        by_seg.setdefault(seg, []).append((c, raw))
    out = []
    for seg_id, items in sorted(by_seg.items()):
        first, last, root, sig, known_json = store.conn.execute(
            "SELECT first, last, root, sig, known FROM segments WHERE id=?", (seg_id,)).fetchone()
        counters = [c for c, _ in items]
        if len(counters) == last - first + 1:
            proof: list[bytes] = []  # the whole signed range is carried: no proof
        else:
            leaves = store.hashes(origin, first, last)
            known = {tuple(int(x) for x in k.split(",")): bytes.fromhex(v)
                     for k, v in json.loads(known_json).items()}
            sub = merkle.subtree_from(leaves, known)  # type: ignore[arg-type]
            proof = merkle.prove(sub, first, last, counters)
        out.append(body_mod.Segment(origin, first, last, bytes(root), bytes(sig), proof,
                                    [raw for _, raw in items]))
    return out


def _card_of(store: Store, device_id: str, home: Home) -> str | None:
    if device_id == store.device_id:
        return str(home.card.encode())
    row = store.conn.execute("SELECT card FROM peers WHERE device_id=?", (device_id,)).fetchone()
    if row:
        return str(row[0])
    row = store.conn.execute("SELECT card FROM cards WHERE device_id=?", (device_id,)).fetchone()
    return str(row[0]) if row else None


# --- import -------------------------------------------------------------------------

@dataclass
class ImportReport:
    packets: int = 0
    imported: int = 0
    duplicates: int = 0
    not_for_me: int = 0
    quarantined: int = 0
    changes_applied: int = 0
    changes_duplicate: int = 0
    revocations: int = 0
    conflicts: int = 0
    open_conflicts: int = 0
    stick_cleaned: int = 0  # packet files removed: every recipient confirmed them
    rejected: list[dict[str, str]] = field(default_factory=list)
    held: list[dict[str, str]] = field(default_factory=list)
    arrived: list[dict[str, Any]] = field(default_factory=list)  # per packet applied: sender, changes
    rejected_more: int = 0  # rejections beyond the first MAX_LISTED (counted, not listed)
    refused_before: int = 0  # files skipped unread: refused by an earlier import
    left_for_later: int = 0  # files not examined: over this import's work budget

    MAX_LISTED = 100

    def reject(self, name: str, err: SneakersyncError) -> None:
        if len(self.rejected) < self.MAX_LISTED:
            self.rejected.append({"file": name, "error": f"{err.layer}: {err}"})
        else:
            self.rejected_more += 1

    def as_json(self) -> dict[str, Any]:
        return {"packets": self.packets, "imported": self.imported,
                "duplicates": self.duplicates, "not_for_me": self.not_for_me,
                "quarantined": self.quarantined, "changes_applied": self.changes_applied,
                "conflicts": self.conflicts, "open_conflicts": self.open_conflicts,
                "revocations": self.revocations, "stick_cleaned": self.stick_cleaned,
                "rejected": self.rejected, "rejected_more": self.rejected_more, "refused_before": self.refused_before,
                "left_for_later": self.left_for_later,
                "quarantine": self.held, "arrived": self.arrived}


class Quarantine(Exception):
    """Internal signal: the packet is authentic but its sender is not accepted yet."""

    def __init__(self, sender: str, reason: str) -> None:
        super().__init__(reason)
        self.sender = sender
        self.reason = reason


# failures that depend on the packet's bytes alone (not on peers or keys this device may
# learn later): the same file is refused again without being decrypted
_BYTES_ALONE = frozenset({"header", "hmac", "payload", "envelope"})


def seen_status(store: Store, pid: str) -> str | None:
    row = store.conn.execute("SELECT status FROM packets WHERE packet_id=?", (pid,)).fetchone()
    return None if row is None else str(row[0])


def mark(store: Store, pid: str, status: str, sender: str | None = None, changes: int = 0,
         detail: str | None = None) -> None:
    store.conn.execute(
        "INSERT INTO packets(packet_id, status, sender, at, changes, detail) VALUES(?,?,?,?,?,?) "
        "ON CONFLICT(packet_id) DO UPDATE SET status=excluded.status, sender=excluded.sender, "
        "at=excluded.at, changes=excluded.changes, detail=excluded.detail",
        (pid, status, sender, now_ms(), changes, detail))


def ensure_held_table(store: Store) -> None:
    """Origins held out of applied packets: (packet, origin) pairs awaiting a decision."""
    store.conn.execute(
        "CREATE TABLE IF NOT EXISTS held_origins (packet_id TEXT NOT NULL, origin TEXT NOT NULL,"
        " sender TEXT, reason TEXT NOT NULL, at INTEGER NOT NULL,"
        " PRIMARY KEY (packet_id, origin))")


def import_packet(home: Home, store: Store, data: bytes, report: ImportReport, *,
                  name: str = "", allow_unknown: bool = False,
                  max_body: int | None = None, release_origin: str | None = None) -> str:
    """Apply one packet. Returns its status; never raises for a bad packet (it is reported).

    ``release_origin``: the packet was applied before with this origin's changes held
    out (its trust was not settled); apply them now.
    """
    report.packets += 1
    pid = packet.packet_id(data)
    status = seen_status(store, pid)
    if status in ("imported", "duplicate") and release_origin is None:
        report.duplicates += 1
        return "duplicate"
    if status == "not_for_me":
        report.not_for_me += 1
        return "not_for_me"
    try:
        with no_cyclic_gc():
            result = _apply(home, store, data, pid, report, allow_unknown, max_body,
                            release_origin, name)
    except NoMatchError:
        with store.transaction():
            mark(store, pid, "not_for_me")
        report.not_for_me += 1
        return "not_for_me"
    except Quarantine as q:
        qpath = home.quarantine_dir / f"{pid}.pkt"
        if not qpath.exists():
            write_durably(qpath, data)
        with store.transaction():
            mark(store, pid, "quarantined", q.sender, detail=q.reason)
        report.quarantined += 1
        report.held.append({"file": name or pid, "sender": q.sender, "reason": q.reason})
        return "quarantined"
    except SneakersyncError as err:
        report.reject(name or pid, err)
        if err.layer in _BYTES_ALONE:
            with store.transaction():
                mark(store, pid, "rejected", detail=f"{err.layer}: {err}")
        return "rejected"
    return result


@dataclass
class Incoming:
    """An opened, authenticated packet: who signed it and what its body says."""

    body: body_mod.Body
    signer: Peer | None  # the known peer whose key signed it, if any
    card: Card | None  # the sender's own card carried in the body
    statements: list[Any]  # revocation statements it carries

    @property
    def sender_card_text(self) -> str:
        if self.signer is not None:
            return self.signer.card
        assert self.card is not None
        return self.card.encode()


SenderPolicy = Callable[[Peer | None, bytes], None]


def open_incoming(home: Home, store: Store, data: bytes, *, max_body: int,
                  accept: SenderPolicy | None = None,
                  max_changes: int | None = None) -> Incoming:
    """Decrypt, verify the envelope and check the body names its signer and us.

    Raises for a revoked signer, a body that disagrees with its signature, an
    unknown signer without a matching card, or a body not addressed to us.
    ``accept(peer or None, signing key)`` decides on the sender once the envelope
    signature and header binding verify and *before* any byte of the body is
    hashed or decompressed (it raises to refuse or hold the packet).
    ``max_changes``: refuse a body with more changes (checked before any is parsed).
    """
    def accept_sender(sign_pub: bytes) -> None:
        p = peers_mod.by_sign_key(store, sign_pub)
        if p is not None and p.revoked:
            raise RevokedError(f"sender {p.name!r} is revoked")
        if accept is not None:
            accept(p, sign_pub)

    opened = packet.open_packet(data, home.keys.enc_secret, accept_sender=accept_sender,
                                max_body=max_body)
    b = (body_mod.decode(opened.body) if max_changes is None
         else body_mod.decode(opened.body, max_changes=max_changes))
    signer = peers_mod.by_sign_key(store, opened.envelope.sender_sign_public)
    card = body_mod.card_for(b, b.sender)
    if signer is not None:
        if signer.device_id != b.sender:
            raise AuthError("body names a different sender than the one who signed it")
    elif card is None or card.sign_public != opened.envelope.sender_sign_public:
        raise AuthError("packet signer is unknown and carries no matching identity card")
    if store.device_id not in b.to:
        raise AuthError("packet body does not list this device as a recipient")
    statements = revocation.decode_list(b.extra.get("revocations"))
    revocation_store.ensure_tables(store)
    return Incoming(b, signer, card, statements)


def key_sender(sign_pub: bytes) -> str:
    """How a held packet names a sender that is not a peer: its signing key (the body,
    which would carry its card, is not read before the sender is accepted)."""
    return "key:" + sign_pub.hex()


def device_policy(store: Store) -> SenderPolicy:
    """A device applies packets only from trusted peers; the rest are held unread."""
    def accept(p: Peer | None, sign_pub: bytes) -> None:
        if p is None:
            raise Quarantine(key_sender(sign_pub),
                             f"sender with signing key {sign_pub.hex()[:16]}... is not a peer")
        if p.trust != "trusted":
            raise Quarantine(p.device_id,
                             f"peer {p.name!r} is not trusted yet (sneakersync peer trust)")
    return accept


def apply_segments(home: Home, store: Store, b: body_mod.Body,
                   verified: Sequence[body_mod.Verified], stats: ApplyStats, *,
                   release_origin: str | None = None) -> dict[str, tuple[str, str]]:
    """Apply verified segments inside the caller's transaction: changes of revoked
    origins past their limit are dropped, relayed segments are kept for forwarding,
    and origin cards are remembered.

    A revoked origin's changes at or below its limit that this device does not hold
    yet are applied only when a revocation statement vouches for them (its root over
    the origin's changes 1..last matches what this device then holds); when no
    statement can be checked yet they are held, when one contradicts them they are
    refused.  Returns origin -> ("held" | "refused", reason) for the caller to report
    (``release_origin``: the user accepted that origin's held changes).
    """
    out: dict[str, tuple[str, str]] = {}
    for v in verified:
        origin = v.segment.origin
        limit = _revoked_limit(store, origin)
        items = [(raw, ver, h) for raw, ver, h in zip(v.segment.changes, v.versions, v.hashes)
                 if limit is None or ver.counter <= limit]
        if limit is not None and items and origin != release_origin:
            items, verdict = _vouched(store, origin, items)
            if verdict is not None and origin not in out:
                out[origin] = verdict
        if not items:
            continue
        seg_id = None
        if origin != store.device_id:
            seg_id = store.add_segment(origin, v.segment.first, v.segment.last, v.segment.root,
                                       v.segment.sig, v.known)
        store.apply_remote([(raw, ver, seg_id, h) for raw, ver, h in items], stats)
        card = b.origins.get(origin)
        if card and origin != store.device_id:
            store.conn.execute("INSERT OR IGNORE INTO cards(device_id, card) VALUES(?,?)",
                               (origin, card))
    return out


Item = tuple[bytes, Any, bytes]


def _vouched(store: Store, origin: str, items: list[Item]
             ) -> tuple[list[Item], tuple[str, str] | None]:
    """The items of a revoked origin a revocation statement vouches for (revocation-v1
    section 5, rule 5)."""
    held = dict(store.conn.execute(
        "SELECT counter, hash FROM changes WHERE origin=? AND counter BETWEEN ? AND ?",
        (origin, min(i[1].counter for i in items), max(i[1].counter for i in items))))
    new = [i for i in items if i[1].counter not in held]
    if not new:
        return items, None  # all held already: duplicates (or an equivocation, caught later)
    roots = revocation_store.roots_for(store, origin)
    top = max((last for last, _ in roots), default=0)
    leaves = {int(c): bytes(h) for c, h in store.conn.execute(
        "SELECT counter, hash FROM changes WHERE origin=? AND counter BETWEEN 1 AND ?",
        (origin, top))}
    for _, ver, h in new:
        leaves.setdefault(ver.counter, h)
    for last, root in sorted(roots):
        if last < max(i[1].counter for i in new):
            continue
        span = [leaves.get(c) for c in range(1, last + 1)]
        if any(x is None for x in span):
            continue
        if merkle.root([x for x in span if x is not None]) == root:
            return items, None
        return ([i for i in items if i[1].counter in held],
                ("refused", f"changes of revoked device {origin} do not match what its "
                            "revocation says it wrote (re-signed with a stolen key?)"))
    return ([i for i in items if i[1].counter in held],
            ("held", f"device {origin} is revoked and these changes of it cannot be checked "
                     "against its revocation yet"))


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Parsing a big packet makes millions of small objects and no cycles: the cyclic
    collector would walk the growing heap again and again for nothing."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _apply(home: Home, store: Store, data: bytes, pid: str, report: ImportReport,
           allow_unknown: bool, max_body: int | None, release_origin: str | None = None,
           name: str = "") -> str:
    inc = open_incoming(home, store, data, max_body=max_body or (1 << 31),
                        accept=None if allow_unknown else device_policy(store))
    b, p = inc.body, inc.signer
    verified = body_mod.verify_segments(b, origin_keys(home, store))
    # trust is per origin: changes a trusted peer relays from a held origin are held too
    held: dict[str, str] = {}
    for v in verified:
        o = v.segment.origin
        if o not in held and o != release_origin:
            why = origin_held(store, o)
            if why:
                held[o] = why
    if held:
        verified = [v for v in verified if v.segment.origin not in held]
        qpath = home.quarantine_dir / f"{pid}.pkt"
        if not qpath.exists():
            write_durably(qpath, data)
    stats = ApplyStats()
    with store.transaction():
        if release_origin is None and seen_status(store, pid) in ("imported", "duplicate"):
            report.duplicates += 1
            return "duplicate"
        ensure_held_table(store)
        for o, why in sorted(held.items()):
            store.conn.execute(
                "INSERT OR IGNORE INTO held_origins(packet_id, origin, sender, reason, at)"
                " VALUES(?,?,?,?,?)", (pid, o, b.sender, why, now_ms()))
        # statements first: a revocation in this packet already limits its own segments
        new_statements = revocation_store.apply_incoming(home, store, inc.statements)
        verdicts = apply_segments(home, store, b, verified, stats,
                                  release_origin=release_origin)
        for o, (kind, why) in sorted(verdicts.items()):
            if kind == "held":
                held[o] = why
                store.conn.execute(
                    "INSERT OR IGNORE INTO held_origins(packet_id, origin, sender, reason, at)"
                    " VALUES(?,?,?,?,?)", (pid, o, b.sender, why, now_ms()))
            else:
                report.reject(name or pid, AuthError(why))
        if held and not (home.quarantine_dir / f"{pid}.pkt").exists():
            write_durably(home.quarantine_dir / f"{pid}.pkt", data)
        if p is not None:
            record_knowledge(store, p.device_id, "acked", b.manifest)
            peers_mod.touch(store, p.device_id)
        else:
            store.conn.execute("INSERT OR IGNORE INTO cards(device_id, card) VALUES(?,?)",
                               (b.sender, inc.sender_card_text))
        _note_co_recipients(store, b, verified)
        carried = _carried_ranges(verified)
        note_carried(store, pid, {r: carried for r in b.to if r != b.sender})
        adopt_policies(store, b)
        mark(store, pid, "imported", b.sender, stats.applied)
    report.imported += 1
    for o, why in sorted(held.items()):
        report.held.append({"file": name or pid, "sender": o, "reason": why})
    report.arrived.append({"sender": b.sender, "changes": stats.applied,
                           "conflicts": stats.conflicts})
    report.revocations += new_statements
    report.changes_applied += stats.applied
    report.changes_duplicate += stats.duplicates
    report.conflicts += stats.conflicts
    report.open_conflicts += stats.open_conflicts
    return "imported"


def origin_held(store: Store, origin: str) -> str | None:
    """Why changes of ``origin`` are held rather than applied (None: apply them).

    A peer set to quarantine is held however its changes arrive; an origin that is
    not a peer takes the device's default trust (``settings default-trust``)."""
    if origin == store.device_id:
        return None
    q = peers_mod.by_id(store, origin)
    if q is None:
        if store.get_setting("default_trust", "trusted") == "quarantine":
            return f"origin {origin} is not a peer (default trust is quarantine)"
        return None
    if q.revoked or q.trust == "trusted":
        return None  # a revoked origin is limited by its watermark instead
    return f"origin {q.name!r} is not trusted yet (relayed; sneakersync peer trust)"


def explicit_policies(store: Store) -> dict[str, str]:
    return {name: policy for name, policy in store.conn.execute(
        "SELECT name, policy FROM collections ORDER BY name")}


def adopt_policies(store: Store, b: body_mod.Body) -> None:
    """Collections with no local policy take the one their senders use.

    Every device must settle conflicts the same way to converge; a policy set
    on one device travels with its packets to devices that have not chosen one.
    """
    eden_binding.adopt(store, b.extra.get("eden_bindings"))
    got = b.extra.get("policies")
    if not isinstance(got, dict):
        return
    mine = explicit_policies(store)
    for name, policy in sorted(got.items()):
        if name in mine or policy not in ("lww", "merge", "fork", "manual"):
            continue
        try:
            store.set_policy(name, policy)
        except SneakersyncError:
            continue


def origin_keys(home: Home, store: Store) -> Callable[[str], bytes | None]:
    """Ed25519 key of an origin device: ours, a peer's, or from a card seen before."""
    def key_for(origin: str) -> bytes | None:
        if origin == store.device_id:
            return home.keys.sign_public
        q = peers_mod.by_id(store, origin)
        if q is not None:
            return q.sign_pub
        row = store.conn.execute("SELECT card FROM cards WHERE device_id=?", (origin,)).fetchone()
        if row:
            from sneakersync.wire.identity import decode_card
            return decode_card(row[0]).sign_public
        return None

    return key_for


def _note_co_recipients(store: Store, b: body_mod.Body,
                        verified: Sequence[body_mod.Verified]) -> None:
    """A packet on a shared stick went to every device in ``to``: assume they get it too.

    Recorded as 'sent' knowledge (optimistic, like our own exports), so this
    device does not forward the same changes to them again.
    """
    ranges: dict[str, Ranges] = {}
    for v in verified:
        if v.versions:
            ranges[v.segment.origin] = union(ranges.get(v.segment.origin, []),
                                             body_mod.ranges_from([x.counter for x in v.versions]))
    if not ranges:
        return
    for other in b.to:
        if other != store.device_id and other != b.sender and peers_mod.by_id(store, other):
            record_knowledge(store, other, "sent", ranges)


def _carried_ranges(verified: Sequence[body_mod.Verified]) -> dict[str, Ranges]:
    ranges: dict[str, Ranges] = {}
    for v in verified:
        if v.versions:
            ranges[v.segment.origin] = union(ranges.get(v.segment.origin, []),
                                             body_mod.ranges_from([x.counter for x in v.versions]))
    return ranges


def ensure_carried_table(store: Store) -> None:
    store.conn.execute(
        "CREATE TABLE IF NOT EXISTS carried (packet_id TEXT PRIMARY KEY, at INTEGER NOT NULL, "
        "ranges TEXT NOT NULL)")


def note_carried(store: Store, pid: str, per_recipient: dict[str, dict[str, Ranges]]) -> None:
    """Remember what a packet on a stick carried for each of its recipients (inside the
    caller's transaction), so the stick can be cleaned once every one of them confirmed
    it holds that (:func:`sneakersync.sync.compact.clean_stick`)."""
    ensure_carried_table(store)
    store.conn.execute("INSERT OR REPLACE INTO carried(packet_id, at, ranges) VALUES(?,?,?)",
                       (pid, now_ms(), canonical.dumps(per_recipient)))


def _revoked_limit(store: Store, origin: str) -> int | None:
    """Highest counter of ``origin`` still accepted: the lowest of the peer's own
    revocation here and every remembered statement about it (None: not revoked)."""
    limits = []
    row = store.conn.execute("SELECT revoked_at, revoked_counter FROM peers WHERE device_id=?",
                             (origin,)).fetchone()
    if row is not None and row[0] is not None:
        limits.append(int(row[1] or 0))
    remembered = revocation_store.limit_for(store, origin)
    if remembered is not None:
        limits.append(remembered)
    return min(limits) if limits else None


