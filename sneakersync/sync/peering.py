"""Meeting peers: add one from its card, compare safety numbers, trust or hold its packets.

The steps every shell (command line, browser) takes in the same order, so they behave
the same: a card added after a trusted peer revoked it comes in revoked; trusting a
peer applies the packets held for it so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sneakersync.errors import UsageError
from sneakersync.store import peers as peers_mod
from sneakersync.store.home import Home
from sneakersync.store.records import Store
from sneakersync.store.revocations import apply_remembered
from sneakersync.wire import safety
from sneakersync.wire.identity import decode_card


@dataclass
class Added:
    peer: peers_mod.Peer
    revoked_by_team: bool  # a trusted peer had already revoked this device


def add_peer(store: Store, card_text: str, name: str | None = None, *,
             trust: str | None = None) -> Added:
    """Add a peer from its card text; applies a revocation already heard of."""
    p = peers_mod.add(store, card_text.strip(), name, trust=trust)
    if apply_remembered(store, p.device_id) is not None:
        return Added(peers_mod.get(store, p.device_id), True)
    return Added(p, False)


def safety_number(home: Home, peer: peers_mod.Peer) -> str:
    """The 60 digits both devices show only if neither card was swapped."""
    return safety.safety_number(home.card, decode_card(peer.card))


def verify(home: Home, store: Store, peer: peers_mod.Peer, typed: str | None = None) -> str:
    """Mark ``peer`` verified; with ``typed``, only if it equals our safety number."""
    number = safety_number(home, peer)
    if typed is not None and not safety.matches(number, typed):
        raise UsageError(f"the number given does not match the safety number with {peer.name!r}",
                         hints=("do not confirm: a card may have been swapped",
                                "exchange cards again, in person"))
    peers_mod.set_verified(store, peer.device_id, True)
    return number


@dataclass
class Trusted:
    name: str
    trust: str
    held_applied: int = 0
    changes: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "trust": self.trust, "held_applied": self.held_applied,
                "changes": self.changes, "rejected": self.rejected}


def set_trust(home: Home, store: Store, peer: peers_mod.Peer, *, quarantine: bool) -> Trusted:
    """Apply a peer's packets (and those held so far), or hold them from now on."""
    from sneakersync.sync.exchange import quarantine_accept, quarantine_list

    if peer.revoked:
        raise UsageError(f"peer {peer.name!r} is revoked; it cannot be trusted again",
                         hints=("to start over: remove the peer, then add its new card",))
    trust = "quarantine" if quarantine else "trusted"
    peers_mod.set_trust(store, peer.device_id, trust)
    out = Trusted(peer.name, trust)
    if not quarantine and any(q["sender"] == peer.device_id
                              for q in quarantine_list(home, store)):
        rep = quarantine_accept(home, store, peer.device_id).as_json()
        out.held_applied, out.changes = rep["imported"], rep["changes_applied"]
        out.rejected = rep["rejected"]
    return out
