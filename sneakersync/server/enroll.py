"""Enrollment: the server stores changes only from devices its administrator enrolled.

An enrolled device is a peer of the server (kind device), added from its identity
card like on any device: it has a safety number to compare in person
(``server verify``), a trust state (``trusted``: its packets are stored;
``quarantine``: held for a decision) and can be revoked, by the administrator or
by a revocation statement from another enrolled, trusted device.

A packet whose signer is not enrolled (or is enrolled in quarantine) is *held*:
its bytes are kept in the server's quarantine folder, unopened beyond the
signature check (nothing is decompressed), and listed by ``server held``.
The administrator then

- enrolls the device (``server enroll CARD``): its held packets are stored;
- accepts the held packets once (``server accept SIGNER``): stored knowingly,
  but the signer stays unenrolled, so its next packets are held again and its
  revocation statements count for nothing;
- or rejects them (``server reject SIGNER``): the copies are deleted and the
  packet ids remembered as refused, so the same stick does not hold them again.

Held space is bounded: per signer, and in total per way in (sticks and HTTP
have separate budgets, so a network neighbour cannot crowd out a courier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sneakersync.errors import NotFoundError, UsageError
from sneakersync.store import peers as peers_mod
from sneakersync.store.durable import write_durably
from sneakersync.store.home import Home
from sneakersync.wire.identity import KIND_SERVER, decode_card
from sneakersync.server.store import ServerStore

MAX_HELD_PER_SIGNER = 32
MAX_HELD_BYTES = {"drive": 1 << 30, "http": 128 << 20}  # per way in, all signers together


def signer_text(sign_public: bytes) -> str:
    """How a held packet's signer is named: its Ed25519 public key, hex."""
    return bytes(sign_public).hex()


def short_signer(signer: str) -> str:
    return "-".join(signer[i:i + 4] for i in range(0, 16, 4))


class Hold(Exception):
    """Internal signal from the ingest gate: the signer may not deliver (yet)."""

    def __init__(self, signer: str, reason: str) -> None:
        super().__init__(reason)
        self.signer = signer
        self.reason = reason


def gate_reason(store: Any, sign_public: bytes) -> str | None:
    """Why a packet signed by this key is held (None: its signer may deliver)."""
    p = peers_mod.by_sign_key(store, sign_public)
    if p is None:
        return "signer is not an enrolled device"
    if p.kind == "server":
        return f"signer {p.name!r} is a server, not an enrolled device"
    if p.trust != "trusted":
        return f"device {p.name!r} is enrolled in quarantine"
    return None


def room_for(sstore: ServerStore, signer: str, size: int, via: str) -> str | None:
    """None if a packet of ``size`` bytes may be held, else why not."""
    mine, used = sstore.pending_load(signer, via)
    if mine >= MAX_HELD_PER_SIGNER:
        return f"already {mine} packets held from this signer"
    budget = MAX_HELD_BYTES.get(via, MAX_HELD_BYTES["http"])
    if used + size > budget:
        return f"the space for held packets ({budget >> 20} MiB via {via}) is full"
    return None


def hold(home: Home, sstore: ServerStore, data: bytes, packet_id: str, signer: str,
         reason: str, via: str) -> None:
    """Keep the packet's bytes for a decision (durably, before the row says so)."""
    write_durably(home.quarantine_dir / f"{packet_id}.pkt", data)
    sstore.add_pending(packet_id, signer, len(data), via, reason)


# --- the administrator's commands ------------------------------------------------------

def enroll(home: Home, sstore: ServerStore, card_text: str, name: str | None = None, *,
           quarantine: bool = False) -> peers_mod.Peer:
    """Enroll a device from its identity card (does not apply held packets: see release)."""
    card = decode_card(card_text)
    if card.kind == KIND_SERVER:
        raise UsageError("that card belongs to a server, not a device",
                         hints=("enroll the cards of the devices that deliver here",))
    store = sstore.core
    existing = peers_mod.by_id(store, card.device_id)
    if existing is not None:
        if existing.revoked:
            raise UsageError(f"device {existing.name!r} is revoked here; it cannot be enrolled "
                             "again", hints=("a device that was lost starts over with a new "
                                             "identity (sneakersync init), then enroll that card",))
        if not quarantine and existing.trust != "trusted":
            peers_mod.set_trust(store, existing.device_id, "trusted")
        return peers_mod.get(store, existing.device_id)
    p = peers_mod.add(store, card.encode(), name, trust="quarantine" if quarantine else "trusted")
    from sneakersync.store.revocations import apply_remembered

    apply_remembered(store, p.device_id)
    return peers_mod.get(store, p.device_id)


def devices(sstore: ServerStore) -> list[dict[str, Any]]:
    """Enrolled devices with their state and delivery figures."""
    stats = {d["device_id"]: d for d in sstore.devices()}
    out = []
    for p in peers_mod.all_peers(sstore.core):
        if p.kind == "server":
            continue
        d = stats.get(p.device_id, {})
        out.append({"name": p.name, "device_id": p.device_id, "trust": p.trust,
                    "verified": p.verified, "revoked": p.revoked,
                    "revoked_after": p.revoked_counter if p.revoked else None,
                    "enrolled_at": p.added_at, "packets": d.get("packets", 0),
                    "changes": d.get("changes", 0), "last_delivery": d.get("last_delivery")})
    return out


@dataclass
class HeldSigner:
    signer: str
    packets: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self, store: Any) -> dict[str, Any]:
        p = peers_mod.by_sign_key(store, bytes.fromhex(self.signer))
        return {"signer": self.signer, "short": short_signer(self.signer),
                "device": p.name if p is not None else None,
                "device_id": p.device_id if p is not None else None,
                "packets": len(self.packets), "bytes": sum(x["bytes"] for x in self.packets),
                "first": min(x["at"] for x in self.packets),
                "last": max(x["at"] for x in self.packets),
                "via": sorted({x["via"] for x in self.packets}),
                "reason": self.packets[-1]["reason"],
                "packet_ids": [x["packet_id"] for x in self.packets]}


def held(sstore: ServerStore) -> list[dict[str, Any]]:
    """Held packets grouped by signer, oldest first."""
    groups: dict[str, HeldSigner] = {}
    for p in sstore.pending():
        groups.setdefault(p["signer"], HeldSigner(p["signer"])).packets.append(p)
    return [g.as_json(sstore.core) for g in groups.values()]


def _select(sstore: ServerStore, what: str) -> list[dict[str, Any]]:
    """Held packets named by a signer (full hex, or its first 16 digits with or without
    dashes), an enrolled device's name or id, or a packet id (or its first 16 digits)."""
    key = what.strip().lower().replace("-", "")
    items = sstore.pending()
    p = peers_mod.by_id(sstore.core, what) if what else None
    if p is None and what:
        try:
            p = peers_mod.get(sstore.core, what)
        except NotFoundError:
            p = None
    if p is not None:
        key = signer_text(p.sign_pub)
    if len(key) < 16 or any(ch not in "0123456789abcdef" for ch in key):
        raise UsageError(f"{what!r} names no held packet",
                         hints=("give a signer or packet as `server held` lists it",))
    chosen = [x for x in items if x["signer"].startswith(key) or x["packet_id"].startswith(key)]
    if not chosen:
        raise NotFoundError(f"no held packets match {what!r}",
                            hints=("see: sneakersync server held",))
    signers = {x["signer"] for x in chosen}
    if len(signers) > 1:
        raise UsageError(f"{what!r} matches packets of {len(signers)} signers; give more digits")
    return chosen


def held_bytes(home: Home, packet_id: str) -> bytes:
    try:
        return (home.quarantine_dir / f"{packet_id}.pkt").read_bytes()
    except FileNotFoundError as exc:
        raise NotFoundError(f"the held copy of packet {packet_id[:16]} is missing",
                            hints=("ingest the stick again to hold it anew",)) from exc


def reject(home: Home, sstore: ServerStore, what: str) -> dict[str, Any]:
    """Refuse held packets: delete their copies, remember the ids as refused."""
    chosen = _select(sstore, what)
    ids = [x["packet_id"] for x in chosen]
    sstore.set_pending_refused(ids)
    for pid in ids:
        (home.quarantine_dir / f"{pid}.pkt").unlink(missing_ok=True)
    return {"signer": chosen[0]["signer"], "refused": len(ids), "packet_ids": ids}


def forget_refusals(sstore: ServerStore, signer: str) -> int:
    """After enrolling a signer: its refused packets may be ingested again."""
    ids = [p["packet_id"] for p in sstore.pending(signer, refused=True)]
    if ids:
        sstore.drop_pending(ids)
    return len(ids)
