"""Server ingest: verify, deduplicate and store packets; issue receipts.

The server accepts packets from any device whose signature verifies (it is the
team's destination): a sender it has never seen is recorded by the identity card
its packet carries.  Each packet is applied in one transaction together with the
delivery record, so a crash leaves it either wholly stored or not at all.
Receipts are computed only from committed state, after the transactions of a run,
so a receipt never covers something that is not durably stored.
"""

from __future__ import annotations

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
from sneakersync.store.records import ApplyStats
from sneakersync.store import revocations as revocation_store
from sneakersync.sync.engine import Ranges, mark, record_knowledge, seen_status, subtract
from sneakersync.sync.engine import adopt_policies, apply_segments, no_cyclic_gc, open_incoming, origin_keys
from sneakersync.server.store import ServerStore

MAX_PACKET_BODY = 1 << 30


@dataclass
class Outcome:
    status: str  # stored | duplicate | not_for_server | rejected
    packet_id: str
    sender: str | None = None
    changes: int = 0
    duplicates: int = 0
    conflicts: int = 0
    open_conflicts: int = 0
    layer: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        out = {"status": self.status, "packet_id": self.packet_id, "sender": self.sender,
               "changes": self.changes, "duplicate_changes": self.duplicates}
        if self.error:
            out.update(layer=self.layer, error=self.error)
        return out


@dataclass
class IngestReport:
    packets: int = 0
    stored: int = 0
    duplicates: int = 0
    not_for_server: int = 0
    changes_stored: int = 0
    changes_duplicate: int = 0
    conflicts: int = 0
    open_conflicts: int = 0
    receipts_written: int = 0
    receipts_removed: int = 0
    senders: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, o: Outcome) -> None:
        self.packets += 1
        if o.status == "stored":
            self.stored += 1
        elif o.status == "duplicate":
            self.duplicates += 1
        elif o.status == "not_for_server":
            self.not_for_server += 1
        else:
            self.rejected.append({"file": name, "layer": o.layer or "error",
                                  "error": o.error or ""})
        self.changes_stored += o.changes
        self.changes_duplicate += o.duplicates
        self.conflicts += o.conflicts
        self.open_conflicts += o.open_conflicts
        if o.sender and o.sender not in self.senders:
            self.senders.append(o.sender)

    def as_json(self) -> dict[str, Any]:
        return {"packets": self.packets, "stored": self.stored, "duplicates": self.duplicates,
                "not_for_server": self.not_for_server, "changes_stored": self.changes_stored,
                "changes_duplicate": self.changes_duplicate, "conflicts": self.conflicts,
                "open_conflicts": self.open_conflicts, "receipts_written": self.receipts_written,
                "receipts_removed": self.receipts_removed, "senders": self.senders,
                "rejected": self.rejected}


def ingest_packet(home: Home, sstore: ServerStore, data: bytes, *, via: str = "drive",
                  max_body: int = MAX_PACKET_BODY) -> Outcome:
    """Store one packet; never raises for a bad packet (the outcome says why)."""
    store = sstore.core
    pid = packet.packet_id(data)
    seen = seen_status(store, pid)
    if seen in ("imported", "duplicate"):
        row = store.conn.execute("SELECT sender FROM packets WHERE packet_id=?", (pid,)).fetchone()
        return Outcome("duplicate", pid, sender=row[0] if row else None)
    if seen == "not_for_me":
        return Outcome("not_for_server", pid)
    try:
        with no_cyclic_gc():
            return _ingest(home, sstore, data, pid, via, max_body)
    except NoMatchError:
        with store.transaction():
            mark(store, pid, "not_for_me")
        return Outcome("not_for_server", pid)
    except SneakersyncError as err:
        sstore.record_reject(pid, err.layer, str(err), via)
        return Outcome("rejected", pid, layer=err.layer, error=str(err))


def _ingest(home: Home, sstore: ServerStore, data: bytes, pid: str, via: str,
            max_body: int) -> Outcome:
    store = sstore.core
    inc = open_incoming(home, store, data, max_body=max_body)
    b = inc.body
    card_text = inc.sender_card_text
    name = inc.signer.name if inc.signer is not None else (inc.card.name if inc.card else "")
    verified = body_mod.verify_segments(b, origin_keys(home, store))
    stats = ApplyStats()
    with sstore.transaction():
        if seen_status(store, pid) in ("imported", "duplicate"):
            return Outcome("duplicate", pid, sender=b.sender)
        revocation_store.apply_incoming(home, store, inc.statements)
        apply_segments(home, store, b, verified, stats)
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
                   open_conflicts=stats.open_conflicts)


# --- receipts -------------------------------------------------------------------------

def intersect(a: Ranges, b: Ranges) -> Ranges:
    return subtract(a, subtract(a, b))


def issue_receipt(home: Home, sstore: ServerStore, device_id: str) -> tuple[int, bytes] | None:
    """The device's current receipt, wrapped for it: (seq, bytes); None if nothing is covered.

    It covers, per origin, the changes both stored here and known (from the
    manifests of its packets) to be held by the device, so the device can check
    every Merkle root against its own change hashes.
    """
    held = sstore.held()
    covered_ranges: dict[str, Ranges] = {}
    for origin, rs in sstore.device_knowledge(device_id).items():
        inter = intersect(held.get(origin, []), rs)
        if inter:
            covered_ranges[origin] = inter
    if not covered_ranges:
        return None
    seq = sum(hi - lo + 1 for rs in covered_ranges.values() for lo, hi in rs)
    last = sstore.last_issued(device_id)
    if last is not None and last[0] == seq:
        return last  # coverage only grows, so the same count is the same receipt
    row = sstore.core.conn.execute("SELECT card FROM cards WHERE device_id=?",
                                   (device_id,)).fetchone()
    if row is None:
        return None
    covered = {o: codec.Covered(rs, codec.root_of(sstore.hashes(o, rs)))
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
