"""Exchanges over a dead drop: export to it, import from it, inspect, quarantine.

The drop is any :class:`~sneakersync.sync.medium.DeadDrop` (the drive folder in
``sneakersync.media.drive`` is the one we ship); this module never opens a path itself.
"""

from __future__ import annotations

import stat
from typing import Any

from sneakersync.wire import age
from sneakersync.wire import packet
from sneakersync.wire import body as body_mod
from sneakersync.store import peers as peers_mod
from sneakersync.wire.identity import decode_card
from sneakersync.errors import (FormatError, NotFoundError, PayloadError, SneakersyncError,
                                UsageError)
from sneakersync.store.home import Home
from sneakersync.store.records import Store
from sneakersync.sync.engine import (ImportReport, build_exports, ensure_held_table, import_packet,
                                     seen_status)
from sneakersync.sync.medium import DeadDrop

MIN_PACKET = 256  # no age file holding a 185-byte envelope is smaller (drive-layout-v1 3)


def fingerprint(packet_id: str) -> str:
    """Short, human-comparable form of a packet id: the one fingerprint format of
    qr-frame-v1 section 6 (12 hex digits in 3 groups), so `export`, `inspect` and the
    QR sender and receiver show the same text for the same packet."""
    from sneakersync.wire.qr_frame import fingerprint_from_id

    return fingerprint_from_id(bytes.fromhex(packet_id[:16]))


def pick_recipients(store: Store, names: list[str]) -> list[peers_mod.Peer]:
    if names:
        return [peers_mod.get(store, n) for n in names]
    ps = [p for p in peers_mod.all_peers(store) if not p.revoked]
    if not ps:
        raise UsageError("no peers to export for",
                         hints=("add one: sneakersync peer add CARD (their `whoami` shows it)",))
    return ps


def export_to(home: Home, store: Store, drive: DeadDrop, recipients: list[peers_mod.Peer], *,
              full: bool = False, **kw: Any) -> dict[str, Any]:
    """Write packets for peers: one, or one per group of peers whose share rules differ.

    ``packets``/``changes``/``bytes``/``files`` are totals over the packets written;
    ``fingerprint``/``packet_id`` are the first packet's; ``written`` lists each packet.
    """
    drive.clean_tmp()  # partial writes left by a pulled stick or a crash, over an hour old
    outs = build_exports(home, store, recipients, full=full, **kw)
    res: dict[str, Any] = {"packets": 0, "changes": 0, "bytes": 0,
                           "recipients": [p.name for p in recipients], "files": []}
    if not outs:
        res["stick_cleaned"] = _clean(store, drive)
        return res
    written = []
    for out in outs:
        path = drive.write_packet(out.data)
        out.commit(store)
        written.append({"file": str(path), "packet_id": out.packet_id,
                        "fingerprint": fingerprint(out.packet_id), "bytes": len(out.data),
                        "changes": out.changes, "recipients": [p.name for p in out.recipients]})
    res.update(packets=len(written), changes=sum(w["changes"] for w in written),
               bytes=sum(w["bytes"] for w in written), files=[w["file"] for w in written],
               packet_id=written[0]["packet_id"], fingerprint=written[0]["fingerprint"],
               written=written)
    res["stick_cleaned"] = _clean(store, drive)
    return res


def _clean(store: Store, drive: DeadDrop) -> int:
    from sneakersync.sync.compact import clean_stick

    return clean_stick(store, drive)


MAX_READS = 20_000  # files opened and read per import; the rest wait for the next one
MAX_READ_BYTES = 8 << 30


def _tiny(stamp: str) -> bool:
    size, _, _, mode = stamp.split(":")
    return stat.S_ISREG(int(mode)) and int(size) < MIN_PACKET


def ensure_refusal_table(store: Store) -> None:
    store.conn.execute("CREATE TABLE IF NOT EXISTS drop_refusals (name TEXT PRIMARY KEY,"
                       " stamp TEXT NOT NULL, error TEXT NOT NULL, at INTEGER NOT NULL)")


def import_from(home: Home, store: Store, drive: DeadDrop, **kw: Any) -> ImportReport:
    """Apply every packet on the drop that is for this device, then pick up its receipts.

    The work per import is bounded: files refused before (same name, size, time and
    inode) are skipped unread, packets settled before are skipped by name, files too
    small to be a packet cost one ``lstat``, and at most MAX_READS files (MAX_READ_BYTES)
    are read; what is left is counted and read by the next import."""
    from sneakersync.sync.receipts import ReportWithReceipts, import_receipts
    from sneakersync.store.records import now_ms

    report = ReportWithReceipts()
    ensure_refusal_table(store)
    settled = {pid: st for pid, st in store.conn.execute(
        "SELECT packet_id, status FROM packets WHERE status IN "
        "('imported', 'duplicate', 'not_for_me', 'rejected')")}
    refused = dict(store.conn.execute("SELECT name, stamp FROM drop_refusals"))
    stamp_of = getattr(drive, "stamp", None)
    reads = read_bytes = 0
    refusals: list[tuple[str, str, str, int]] = []
    for path in drive.packets():
        # a file is named by the hash of its bytes: one already settled here is not read again
        status = settled.get(path.name.split(".")[0])
        if status is not None:
            report.packets += 1
            if status == "not_for_me":
                report.not_for_me += 1
            elif status == "rejected":
                report.refused_before += 1
            else:
                report.duplicates += 1
            continue
        stamp = stamp_of(path) if stamp_of is not None else None
        if stamp is not None and refused.get(path.name) == stamp:
            report.refused_before += 1
            continue
        report.packets += 1
        if stamp is not None and _tiny(stamp):
            # one lstat: too small to be a packet, not worth opening nor remembering
            if len(report.rejected) < report.MAX_LISTED:
                report.reject(path.name, PayloadError(f"{path.name} is too small to be a packet"))
            else:
                report.rejected_more += 1
            continue
        if reads >= MAX_READS or read_bytes >= MAX_READ_BYTES:
            report.packets -= 1
            report.left_for_later += 1
            continue
        reads += 1
        try:
            data = drive.read(path)
        except SneakersyncError as err:
            report.reject(path.name, err)
            if stamp is not None and err.layer in ("payload", "drive"):
                refusals.append((path.name, stamp, f"{err.layer}: {err}", now_ms()))
            continue
        read_bytes += len(data)
        report.packets -= 1  # import_packet counts it
        import_packet(home, store, data, report, name=path.name, **kw)
    if refusals:
        with store.transaction():
            store.conn.executemany(
                "INSERT INTO drop_refusals(name, stamp, error, at) VALUES(?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET stamp=excluded.stamp, "
                "error=excluded.error, at=excluded.at", refusals)
    report.receipt_detail = import_receipts(home, store, drive)  # receipts from the server
    report.receipts = report.receipt_detail["receipts"]
    report.stick_cleaned = _clean(store, drive)  # packets every recipient confirmed
    return report


def inspect_packet(home: Home | None, store: Store | None, data: bytes) -> dict[str, Any]:
    pid = packet.packet_id(data)
    info: dict[str, Any] = {"packet_id": pid, "fingerprint": fingerprint(pid), "bytes": len(data)}
    try:
        header, _ = age.parse_header(data)
    except FormatError as err:
        info["readable"] = f"no: {err.layer}: {err}"
        return info
    info["format"] = "age v1 (sneakersync packet)"
    info["recipients"] = len(header.stanzas)
    if home is None or store is None:
        info["for_this_device"] = "unknown (no device here)"
        return info
    try:
        opened = packet.open_packet(data, home.keys.enc_secret, accept_sender=lambda k: None)
    except FormatError as err:
        info["for_this_device"] = "no" if err.layer == "no-match" else f"error: {err.layer}: {err}"
        return info
    info["for_this_device"] = "yes"
    b = body_mod.decode(opened.body)
    p = peers_mod.by_sign_key(store, opened.envelope.sender_sign_public)
    card = body_mod.card_for(b, b.sender)
    info["sender"] = {"device_id": b.sender, "peer": p.name if p else None,
                      "card_name": card.name if card else None,
                      "signature": "valid"}
    info["created_ms"] = b.created
    info["to"] = b.to
    info["compressed_body"] = opened.envelope.compressed_len
    info["body"] = opened.envelope.body_len
    info["segments"] = [{"origin": s.origin, "first": s.first, "last": s.last,
                         "changes": len(s.changes)} for s in b.segments]
    info["changes"] = sum(len(s.changes) for s in b.segments)
    info["manifest"] = b.manifest
    return info


def quarantine_list(home: Home, store: Store) -> list[dict[str, Any]]:
    """Held packets, and origins held out of applied packets (relayed by a trusted peer).

    A packet from a sender that is not a peer is held unread, named by the sender's
    signing key (``key:HEX``); once that key belongs to a peer, the peer's id is shown.
    """
    ensure_held_table(store)
    out = []
    for pid, sender, detail, at in store.conn.execute(
            "SELECT packet_id, sender, detail, at FROM packets WHERE status='quarantined' "
            "ORDER BY at"):
        if isinstance(sender, str) and sender.startswith("key:"):
            try:
                p = peers_mod.by_sign_key(store, bytes.fromhex(sender[4:]))
            except ValueError:
                p = None
            if p is not None:
                sender = p.device_id
        out.append({"packet": pid, "sender": sender, "reason": detail, "at": at})
    for pid, origin, detail, at in store.conn.execute(
            "SELECT packet_id, origin, reason, at FROM held_origins ORDER BY at"):
        out.append({"packet": pid, "sender": origin, "reason": detail, "at": at,
                    "origin_only": True})
    return out


def _held(home: Home, pid: str) -> bytes:
    try:
        return (home.quarantine_dir / f"{pid}.pkt").read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(f"the held copy of packet {pid[:16]} is missing",
                            hints=("import the stick again to hold it anew",)) from exc


def _matches(q: dict[str, Any], sender: str) -> bool:
    got = str(q["sender"])
    if got == sender:
        return True
    # a signing key may be given by a prefix of at least 16 hex digits
    return got.startswith("key:") and sender.startswith("key:") and len(sender) >= 20 \
        and got.startswith(sender)


def quarantine_accept(home: Home, store: Store, sender: str, *, add_peer: bool = False
                      ) -> ImportReport:
    items = [q for q in quarantine_list(home, store) if _matches(q, sender)]
    if not items:
        raise NotFoundError(f"no held packets from {sender!r}")
    report = ImportReport()
    card = _sender_card(home, store, items) if add_peer else None
    for q in items:
        pid = q["packet"]
        path = home.quarantine_dir / f"{pid}.pkt"
        data = _held(home, pid)
        if q.get("origin_only"):
            # the packet was applied; only this origin's changes were held out of it
            status = import_packet(home, store, data, report, name=pid, allow_unknown=True,
                                   release_origin=str(q["sender"]))
            if status == "imported":
                with store.transaction():
                    store.conn.execute("DELETE FROM held_origins WHERE packet_id=? AND "
                                       "origin=?", (pid, q["sender"]))
        else:
            with store.transaction():
                store.conn.execute("DELETE FROM packets WHERE packet_id=?", (pid,))
            status = import_packet(home, store, data, report, name=pid, allow_unknown=True)
        if status == "imported" and seen_status(store, pid) != "quarantined" and \
                store.conn.execute("SELECT 1 FROM held_origins WHERE packet_id=?",
                                   (pid,)).fetchone() is None:
            path.unlink(missing_ok=True)
    if card is not None and peers_mod.by_sign_key(store, decode_card(card).sign_public) is None:
        # added after its packets were applied, and not trusted: its next packets are
        # held again and its revocation statements count for nothing until `peer verify`
        # and `peer trust` say so (a released stranger is not a trusted peer)
        peers_mod.add(store, card, trust="quarantine")
    return report


def _sender_card(home: Home, store: Store, items: list[dict[str, Any]]) -> str | None:
    """The card of the sender of held packets (None: it is a peer already).

    This is the user's decision to accept it, so the body is opened now."""
    q = items[0]
    sender = str(q["sender"])
    if q.get("origin_only") or not sender.startswith("key:"):
        if peers_mod.by_id(store, sender) is not None:
            return None
        row = store.conn.execute("SELECT card FROM cards WHERE device_id=?", (sender,)).fetchone()
        if row is not None:
            return str(row[0])
    opened = packet.open_packet(_held(home, q["packet"]), home.keys.enc_secret,
                                accept_sender=lambda k: None)
    b = body_mod.decode(opened.body)
    card = body_mod.card_for(b, b.sender)
    if card is None or card.sign_public != opened.envelope.sender_sign_public:
        raise FormatError("the held packet carries no identity card of its signer",
                          hints=("add the sender with `sneakersync peer add CARD`, then "
                                 "`sneakersync peer trust NAME`",))
    return None if peers_mod.by_id(store, card.device_id) is not None else card.encode()
