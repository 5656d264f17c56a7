"""Acknowledgements: a packet with no changes, carrying the receiver's manifest.

An ack is an ordinary packet (same format, same checks) whose body has no
segments; ``extra["ack"]`` lists the ids of packets just received.  Importing it
on the sender updates what the sender knows the receiver holds, so the next
export is a delta even over one-way media like a QR stream.
"""

from __future__ import annotations

from typing import Sequence

from sneakersync.wire import body as body_mod
from sneakersync.wire import packet
from sneakersync.store.home import Home
from sneakersync.store.peers import Peer
from sneakersync.store.records import Store, now_ms
from sneakersync.sync.engine import held_ranges


def build_ack(home: Home, store: Store, recipients: Sequence[Peer], received: Sequence[str],
              *, now: int | None = None) -> bytes:
    """A small signed, encrypted packet: our manifest and the packet ids we received."""
    b = body_mod.Body(sender=store.device_id, created=now if now is not None else now_ms(),
                      to=[p.device_id for p in recipients], manifest=held_ranges(store),
                      origins={store.device_id: home.card.encode()}, segments=[],
                      extra={"ack": sorted(received)})
    return packet.seal(home.keys, [p.enc_pub for p in recipients], body_mod.encode(b),
                       level=19, pad_to=0)


def ack_for_received(home: Home, store: Store, received: Sequence[str]) -> bytes | None:
    """The ack for packets just imported (by packet id), to their senders we know; else None."""
    from sneakersync.store import peers as peers_mod

    if not received:
        return None
    ids = list(received)
    senders = {r[0] for r in store.conn.execute(
        "SELECT sender FROM packets WHERE packet_id IN (%s)" % ",".join("?" * len(ids)), ids)
        if r[0]}
    recips = [p for p in (peers_mod.by_id(store, s) for s in sorted(senders)) if p is not None]
    return build_ack(home, store, recips, ids) if recips else None
