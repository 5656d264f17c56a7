"""Helpers for the attack tests: forge packets as a stranger or a bad peer would."""

from __future__ import annotations

from typing import Any, Sequence

from sneakersync.store.home import Home
from sneakersync.wire import body as body_mod
from sneakersync.wire import canonical, merkle, packet
from sneakersync.wire.body import change_line


def forged_packet(home: Home, recipients: Sequence[bytes], to: Sequence[str],
                  changes: Sequence[tuple[str, str, dict[str, Any], dict[str, int]]], *,
                  first: int = 1, ts: int = 1_700_000_000_000,
                  extra: dict[str, Any] | None = None) -> bytes:
    """A self-consistently signed packet from ``home``'s keys carrying ``changes``
    ``(collection, record id, data, version vector of the others)`` as counters
    ``first, first+1, ...`` of its own origin: exactly what a throw-away identity can make."""
    me = home.device_id
    raws = [change_line(first + i, canonical.dumps(data), rid, coll, me, "put", ts,
                        canonical.dumps(vv)) for i, (coll, rid, data, vv) in enumerate(changes)]
    last = first + len(raws) - 1
    segments = []
    if raws:
        root = merkle.root([merkle.leaf_hash(r) for r in raws])
        sig = body_mod.sign_segment(home.keys.sign_secret, me, first, last, root)
        segments.append(body_mod.Segment(me, first, last, root, sig, [], raws))
    b = body_mod.Body(sender=me, created=ts, to=list(to),
                      manifest={me: [[first, last]]} if raws else {},
                      origins={me: home.card.encode()}, segments=segments, extra=extra or {})
    return packet.seal(home.keys, list(recipients), body_mod.encode(b))


def plant(stick: Any, data: bytes) -> Any:
    """Put a packet on a stick as a courier would: under its hash name, no tools."""
    d = stick / "sneakersync" / "v1" / "packets"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{packet.packet_id(data)}.pkt"
    path.write_bytes(data)
    return path
