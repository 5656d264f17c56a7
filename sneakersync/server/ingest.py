"""Server ingest: verify, deduplicate and store packets; issue receipts.

The server stores changes only from devices its administrator enrolled
(:mod:`sneakersync.server.enroll`).  The signer of a packet is checked as soon as
the envelope signature verifies, before anything is decompressed: a packet signed
by a key that is not an enrolled, trusted device is *held* for a decision (bounded),
one from a revoked device is rejected.  Inside an accepted packet, relayed changes
whose origin is not enrolled are not stored either (trust is per origin).  Each
packet is applied in one transaction together with the delivery record, so a crash
leaves it either wholly stored or not at all.  Receipts are computed only from
committed state, after the transactions of a run, so a receipt never covers
something that is not durably stored.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sneakersync.wire import body as body_mod
from sneakersync.wire import packet
from sneakersync.wire import receipt as codec
from sneakersync.media.drive import Drive
from sneakersync.errors import NoMatchError, SneakersyncError
from sneakersync.store.home import Home
from sneakersync.wire.identity import decode_card
from sneakersync.store.records import ApplyStats, Store
from sneakersync.store import revocations as revocation_store
from sneakersync.sync.engine import Ranges, mark, record_knowledge, seen_status, subtract
from sneakersync.sync.engine import adopt_policies, apply_segments, explicit_policies, no_cyclic_gc
from sneakersync.sync.engine import MAX_PACKET_BODY, MAX_PACKET_CHANGES, open_incoming
from sneakersync.sync.engine import origin_keys
from sneakersync.store import peers as peers_mod
from sneakersync.server import enroll
from sneakersync.server.store import ServerStore

# What the server takes in one packet, so that the memory of an ingest is bounded by
# these and not by what a sender chose (formats/server-http-v1.md §2.1): the
# uncompressed body (checked against the signed length before decompression) and the
# changes (checked against the segment counts of the meta line before any change line
# is parsed).  A sneakersync writer cuts exports into parts within both
# (sync.engine.build_exports).
MAX_INGEST_CHANGES = MAX_PACKET_CHANGES
COLLECT_AFTER = 256 << 10  # packets of at least this many bytes: a full collection after


@dataclass
class Outcome:
    status: str  # stored | duplicate | not_for_server | held | rejected
    packet_id: str
    sender: str | None = None
    changes: int = 0
    not_enrolled: int = 0  # relayed changes not stored: their origin is not enrolled
    signer: str | None = None  # for a held packet: the signing key (hex)
    duplicates: int = 0
    conflicts: int = 0
    open_conflicts: int = 0
    layer: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out = {"status": self.status, "packet_id": self.packet_id, "sender": self.sender,
               "changes": self.changes, "duplicate_changes": self.duplicates}
        if self.not_enrolled:
            out["not_enrolled_changes"] = self.not_enrolled
        if self.signer:
            out["signer"] = self.signer
        if self.error:
            out.update(layer=self.layer, error=self.error)
        return out


@dataclass
class IngestReport:
    packets: int = 0
    stored: int = 0
    duplicates: int = 0
    not_for_server: int = 0
    held: int = 0
    changes_stored: int = 0
    changes_not_enrolled: int = 0
    changes_duplicate: int = 0
    conflicts: int = 0
    open_conflicts: int = 0
    receipts_written: int = 0
    receipts_removed: int = 0
    senders: list[str] = field(default_factory=list)
    held_signers: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, o: Outcome) -> None:
        self.packets += 1
        if o.status == "stored":
            self.stored += 1
        elif o.status == "duplicate":
            self.duplicates += 1
        elif o.status == "not_for_server":
            self.not_for_server += 1
        elif o.status == "held":
            self.held += 1
            if o.signer and o.signer not in self.held_signers:
                self.held_signers.append(o.signer)
        else:
            self.rejected.append({"file": name, "layer": o.layer or "error",
                                  "error": o.error or ""})
        self.changes_stored += o.changes
        self.changes_duplicate += o.duplicates
        self.changes_not_enrolled += o.not_enrolled
        self.conflicts += o.conflicts
        self.open_conflicts += o.open_conflicts
        if o.sender and o.sender not in self.senders:
            self.senders.append(o.sender)

    def as_json(self) -> dict[str, Any]:
        return {"packets": self.packets, "stored": self.stored, "duplicates": self.duplicates,
                "not_for_server": self.not_for_server, "held": self.held,
                "held_signers": self.held_signers, "changes_stored": self.changes_stored,
                "changes_not_enrolled": self.changes_not_enrolled,
                "changes_duplicate": self.changes_duplicate, "conflicts": self.conflicts,
                "open_conflicts": self.open_conflicts, "receipts_written": self.receipts_written,
                "receipts_removed": self.receipts_removed, "senders": self.senders,
                "rejected": self.rejected}


Gate = Callable[[bytes], None]
SenderGate = Callable[[Any, bytes], None]


def ingest_packet(home: Home, sstore: ServerStore, data: bytes, *, via: str = "drive",
                  max_body: int = MAX_PACKET_BODY, allow_once: str | None = None,
                  check: Gate | None = None) -> Outcome:
    """Store one packet; never raises for a bad packet (the outcome says why).

    ``allow_once``: a signer (hex key) whose packet the administrator accepted
    without enrolling it.  ``check(sign_public)`` runs for an accepted signer before
    decompression (the HTTP app's quota); it raises a :class:`SneakersyncError`.
    """
    store = sstore.core
    pid = packet.packet_id(data)
    seen = seen_status(store, pid)
    if seen in ("imported", "duplicate"):
        row = store.conn.execute("SELECT sender FROM packets WHERE packet_id=?", (pid,)).fetchone()
        return Outcome("duplicate", pid, sender=row[0] if row else None)
    if seen == "not_for_me":
        return Outcome("not_for_server", pid)
    got = sstore.pending_status(pid)
    pending = got[0] if got else None
    if pending == "refused" and allow_once is None:
        return Outcome("rejected", pid, layer="untrusted",
                       error="refused by the administrator (server reject)")
    if got is not None and pending == "held" and allow_once is None:
        # held already: unless its signer was enrolled since, do not even decrypt it again
        why = enroll.gate_reason(store, bytes.fromhex(got[1]))
        if why is not None:
            return Outcome("held", pid, layer="untrusted", error=why, signer=got[1])

    def gate(_peer: Any, sign_public: bytes) -> None:
        signer = enroll.signer_text(sign_public)
        if signer != allow_once:
            why = enroll.gate_reason(store, sign_public)
            if why is not None:
                raise enroll.Hold(signer, why)
        if check is not None:
            check(sign_public)

    try:
        with no_cyclic_gc():
            try:
                out = _ingest(home, sstore, data, pid, via, max_body, gate, allow_once)
            finally:
                if len(data) >= COLLECT_AFTER:
                    # whatever reference cycles a packet's parse leaves (the Merkle
                    # check's recursive closures, which held its per-change maps, are gone)
                    # are freed now, not at the collector's next full pass many packets on
                    # (measured before that fix: RSS grew 1.6 MB a packet of 10,000
                    # changes, 0.3 with this)
                    gc.collect()
    except NoMatchError:
        with store.transaction():
            mark(store, pid, "not_for_me")
        return Outcome("not_for_server", pid)
    except enroll.Hold as h:
        if pending is None:
            why = enroll.room_for(sstore, h.signer, len(data), via)
            if why is not None:
                err = f"{h.reason}; not held: {why}"
                sstore.record_reject(pid, "untrusted", err, via)
                return Outcome("rejected", pid, layer="untrusted", error=err, signer=h.signer)
            enroll.hold(home, sstore, data, pid, h.signer, h.reason, via)
        return Outcome("held", pid, layer="untrusted", error=h.reason, signer=h.signer)
    except SneakersyncError as err:
        sstore.record_reject(pid, err.layer, str(err), via)
        return Outcome("rejected", pid, layer=err.layer, error=str(err))
    if pending is not None:  # held or refused before, stored now: forget the held copy
        sstore.drop_pending([pid])
        (home.quarantine_dir / f"{pid}.pkt").unlink(missing_ok=True)
    return out


def _may_store(store: Any, origin: str, once: str | None) -> bool:
    """Changes of ``origin`` are stored only if it is an enrolled device (trusted when
    enrolled; a revoked one keeps what its revocation allows) or accepted once."""
    p = peers_mod.by_id(store, origin)
    if p is None:
        return False
    if once is not None and enroll.signer_text(p.sign_pub) == once:
        return True
    return p.kind != "server" and p.trust == "trusted"


def _ingest(home: Home, sstore: ServerStore, data: bytes, pid: str, via: str,
            max_body: int, gate: SenderGate, once: str | None) -> Outcome:
    store = sstore.core
    inc = open_incoming(home, store, data, max_body=max_body, accept=gate,
                        max_changes=MAX_INGEST_CHANGES)
    b = inc.body
    card_text = inc.sender_card_text
    name = inc.signer.name if inc.signer is not None else (inc.card.name if inc.card else "")
    verified = body_mod.verify_segments(b, origin_keys(home, store))
    once_id = b.sender if inc.signer is None and once is not None else None
    keep = [v for v in verified
            if v.segment.origin == once_id or _may_store(store, v.segment.origin, once)]
    kept = {id(v) for v in keep}
    skipped = sum(len(v.versions) for v in verified if id(v) not in kept)
    stats = ApplyStats()
    keys, exclusive = _apply_scope(store, b, verified, bool(inc.statements))
    with sstore.transaction():
        sstore.lock_apply(keys, exclusive)
        if seen_status(store, pid) in ("imported", "duplicate"):
            return Outcome("duplicate", pid, sender=b.sender)
        revocation_store.apply_incoming(home, store, inc.statements)
        apply_segments(home, store, b, keep, stats)
        store.conn.execute("INSERT OR IGNORE INTO cards(device_id, card) VALUES(?,?)",
                           (b.sender, card_text))
        # what the sender holds: receipts cover only changes the device can check itself
        record_knowledge(store, b.sender, "acked", b.manifest)
        adopt_policies(store, b)
        sstore.record_delivery(pid, b.sender, name, card_text, stats.applied, stats.duplicates,
                               via)
        mark(store, pid, "imported", b.sender, stats.applied)
    return Outcome("stored", pid, sender=b.sender, changes=stats.applied,
                   duplicates=stats.duplicates, conflicts=stats.conflicts,
                   open_conflicts=stats.open_conflicts, not_enrolled=skipped)


def release(home: Home, sstore: ServerStore, what: str, *, once: bool = False) -> IngestReport:
    """Store held packets: those of a signer just enrolled, or (``once``) those the
    administrator accepts without enrolling their signer."""
    chosen = enroll._select(sstore, what) if once else sstore.pending(what)
    report = IngestReport()
    for p in chosen:
        data = enroll.held_bytes(home, p["packet_id"])
        o = ingest_packet(home, sstore, data, via=p["via"],
                          allow_once=p["signer"] if once else None)
        report.add(p["packet_id"], o)
    return report


def _apply_scope(store: Store, b: body_mod.Body, verified: list[body_mod.Verified],
                 has_statements: bool) -> tuple[list[str], bool]:
    """What applying a packet touches: lock names (its sender, the origins and records of
    its changes) and whether it needs the store to itself (revocations, a collection
    policy not adopted yet)."""
    keys = {f"o:{b.sender}"}
    for v in verified:
        if not v.versions:
            continue
        keys.add(f"o:{v.segment.origin}")
        keys.update(f"r:{x.collection}\0{x.rid}" for x in v.versions)
    policies = b.extra.get("policies")
    exclusive = has_statements or (isinstance(policies, dict) and bool(
        set(policies) - set(explicit_policies(store))))
    return sorted(keys), exclusive


# --- receipts -------------------------------------------------------------------------

def intersect(a: Ranges, b: Ranges) -> Ranges:
    return subtract(a, subtract(a, b))


def issue_receipt(home: Home, sstore: ServerStore, device_id: str) -> tuple[int, bytes] | None:
    """The device's current receipt, wrapped for it: (seq, bytes); None if nothing is covered.

    It covers, per origin, the changes both stored here and known (from the
    manifests of its packets) to be held by the device, so the device can check
    every Merkle root against its own change hashes.
    """
    row = sstore.core.conn.execute("SELECT card FROM cards WHERE device_id=?",
                                   (device_id,)).fetchone()
    if row is None:
        return None  # a device that never delivered here: answered without a scan
    knowledge = sstore.device_knowledge(device_id)
    held = sstore.held(knowledge)
    covered_ranges: dict[str, Ranges] = {}
    for origin, rs in knowledge.items():
        inter = intersect(held.get(origin, []), rs)
        if inter:
            covered_ranges[origin] = inter
    if not covered_ranges:
        return None
    seq = sum(hi - lo + 1 for rs in covered_ranges.values() for lo, hi in rs)
    last = sstore.last_issued(device_id)
    if last is not None and last[0] == seq:
        return last  # coverage only grows, so the same count is the same receipt
    covered = {o: codec.Covered(rs, sstore.root(o, rs))
               for o, rs in sorted(covered_ranges.items())}
    body = codec.ReceiptBody(server=home.device_id, server_key=home.keys.sign_public,
                             device=device_id, covered=covered)
    raw = codec.encode(body, home.keys.sign_secret)
    wrapped = codec.wrap(raw, decode_card(row[0]).enc_public, home.keys.enc_secret)
    sstore.record_issued(device_id, seq, wrapped)
    return seq, wrapped


def superseded(sstore: ServerStore, device_id: str, seq: int) -> list[str]:
    """File hashes of earlier receipts issued to a device (to clear off drives)."""
    return [r[0] for r in sstore.core.conn.execute(
        "SELECT file_hash FROM srv_issued WHERE device_id=? AND seq<?", (device_id, seq))]


def write_receipts(home: Home, sstore: ServerStore, drive: Drive,
                   devices: list[str] | None = None) -> tuple[int, int]:
    """Write every device's current receipt to a drive; remove superseded ones.

    Returns (written, removed).  Writing an unchanged receipt is a no-op.
    """
    written = removed = 0
    for dev in devices if devices is not None else sstore.device_ids():
        got = issue_receipt(home, sstore, dev)
        if got is None:
            continue
        seq, data = got
        drive.write_receipt(data)
        written += 1
        for h in superseded(sstore, dev, seq):
            old = drive.root / "receipts" / f"{h}.rcpt"
            if old.exists():
                drive.remove(old)
                removed += 1
    return written, removed


def ingest_drive(home: Home, sstore: ServerStore, drive_path: Path, *,
                 progress: Callable[[int], None] | None = None) -> IngestReport:
    """Ingest every packet on a drive, then write receipts for every known device."""
    drive = Drive(drive_path, create=True)
    report = IngestReport()
    for path in drive.packets():
        try:
            data = drive.read(path)
        except SneakersyncError as err:
            report.add(path.name, Outcome("rejected", path.stem, layer=err.layer, error=str(err)))
            continue
        report.add(path.name, ingest_packet(home, sstore, data, via="drive"))
        if progress:
            progress(1)
    report.receipts_written, report.receipts_removed = write_receipts(home, sstore, drive)
    return report
