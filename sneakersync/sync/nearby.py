"""Glue between a device's store and the beacon: who we are, whom we know, who lacks data.

Imports no radio code: ``sneakersync.media.beacon.discovery`` (bumble) is imported by
the callers that really advertise or scan.
"""

from __future__ import annotations

from typing import Any

from sneakersync.store import peers as peers_mod
from sneakersync.sync import selection
from sneakersync.wire.beacon_keys import BeaconIdentity, PeerKeys
from sneakersync.store.home import Home
from sneakersync.store.peers import Peer
from sneakersync.store.records import Store
from sneakersync.sync.engine import _fetch, _needed_for, held_ranges


def identity(home: Home) -> BeaconIdentity:
    return BeaconIdentity.from_device_keys(home.keys)


def peer_keys(store: Store) -> list[PeerKeys]:
    """Every unrevoked peer, under its local name, with our verification state."""
    return [PeerKeys(p.name, p.verified, p.enc_pub, p.sign_pub)
            for p in peers_mod.all_peers(store, include_revoked=False)]


def peers_lacking(store: Store) -> list[Peer]:
    """Unrevoked peers that lack at least one change they may see (as export computes it)."""
    held = held_ranges(store)
    select = selection.selector_for(store)
    out = []
    for p in peers_mod.all_peers(store, include_revoked=False):
        need = _needed_for(store, p, held, False)
        if need and (select is None or any(
                select(p, coll, raw) for origin, rs in need.items()
                for _c, coll, raw, _seg in _fetch(store, origin, rs))):
            out.append(p)
    return out


def advert_plan(store: Store) -> dict[str, Any]:
    """What ``beacon advertise`` puts in its hints."""
    lacking = peers_lacking(store)
    return {"data_for": [PeerKeys(p.name, p.verified, p.enc_pub, p.sign_pub)
                         for p in lacking],
            "has_data_for_server": any(p.kind == "server" for p in lacking),
            "names": [p.name for p in lacking]}


def describe(entry: Any) -> str:
    """One line for a :class:`sneakersync.media.beacon.discovery.Nearby`."""
    if entry.known:
        who = f"{entry.name} ({'verified' if entry.verified else 'UNVERIFIED'})"
    else:
        who = entry.name
    rssi = f"{entry.rssi} dBm" if entry.rssi is not None else "? dBm"
    hints = f"  [{', '.join(entry.hints)}]" if entry.hints else ""
    return f"{who:<36} {rssi:>8}{hints}"
