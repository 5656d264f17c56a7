"""Who is nearby: sightings + known peers -> :class:`Nearby` entries.

``summarise`` is sans-I/O; ``scan_nearby`` / ``advertise_forever`` drive the
radio (bumble via a transport spec, or the OS stack via bleak with
``transport="bleak"``, scan only).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from sneakersync.errors import AuthError, BeaconError, UsageError
from sneakersync.wire import beacon_keys as K
from sneakersync.wire.beacon_keys import BeaconIdentity, PeerKeys
from sneakersync.wire.beacon import Recogniser, Recognition, build_advertisement, find_service_data
from sneakersync.media.beacon.radio import DEFAULT_TRANSPORT, Advert, PayloadProvider, Sighting

UNKNOWN = "unknown device"
HINT_FOR_YOU = "holds data for you"
HINT_FOR_SERVER = "has data for the server"
HINT_FAILED = "failed its check (corrupted or replayed/tampered)"


@dataclass
class Nearby:
    """One device seen during a scan."""

    name: str  # peer name, or "unknown device"
    known: bool
    verified: bool
    rssi: int | None  # median over the scan, dBm
    hints: tuple[str, ...]
    rid: str  # rotating id (hex) of the latest sighting
    address: str  # latest random address
    sightings: int = 1
    first_seen: float = 0.0
    last_seen: float = 0.0
    _rssis: list[int] = field(default_factory=list, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "known": self.known, "verified": self.verified,
                "rssi": self.rssi, "hints": list(self.hints), "rid": self.rid,
                "address": self.address, "sightings": self.sightings,
                "first_seen": self.first_seen, "last_seen": self.last_seen}


def is_beacon(ad: bytes) -> bool:
    return find_service_data(ad) is not None


def _key_and_entry(sighting: Sighting, recogniser: Recogniser
                   ) -> tuple[tuple[str, bytes], Nearby] | None:
    try:
        rec: Recognition = recogniser.recognise(sighting.data, now=sighting.seen_at)
    except AuthError:
        from sneakersync.wire.beacon import parse_advertisement
        rid = parse_advertisement(sighting.data).rid
        return ("bad", rid), Nearby(UNKNOWN, False, False, sighting.rssi, (HINT_FAILED,),
                                    rid.hex(), sighting.address)
    except (BeaconError, UsageError):
        return None  # not ours, or malformed: skipped
    hints: list[str] = []
    if rec.holds_data_for_me:
        hints.append(HINT_FOR_YOU)
    if rec.has_data_for_server:
        hints.append(HINT_FOR_SERVER)
    if rec.peer is None:
        return ("rid", rec.rid), Nearby(UNKNOWN, False, False, sighting.rssi, (),
                                         rec.rid.hex(), sighting.address)
    return ("peer", rec.peer.enc_public), Nearby(rec.peer.name, True, rec.peer.verified,
                                                 sighting.rssi, tuple(hints), rec.rid.hex(),
                                                 sighting.address)


def summarise(sightings: Iterable[Sighting], me: BeaconIdentity, peers: Sequence[PeerKeys],
              *, recogniser: Recogniser | None = None) -> list[Nearby]:
    """Deduplicate: a known peer once (across rotations), an unknown device once per
    rotating id.  Hints are the union over the scan; RSSI the median."""
    recogniser = recogniser or Recogniser(me, peers)
    merged: dict[tuple[str, bytes], Nearby] = {}
    for s in sightings:
        found = _key_and_entry(s, recogniser)
        if found is None:
            continue
        key, entry = found
        old = merged.get(key)
        if old is None:
            entry.first_seen = entry.last_seen = s.seen_at
            old = merged[key] = entry
        else:
            old.sightings += 1
            old.hints = tuple(dict.fromkeys(old.hints + entry.hints))
            if s.seen_at >= old.last_seen:
                old.last_seen, old.rid, old.address = s.seen_at, entry.rid, entry.address
        if s.rssi is not None:
            old._rssis.append(s.rssi)
            old.rssi = int(statistics.median(old._rssis))
    return sorted(merged.values(),
                  key=lambda n: (not n.known, -(n.rssi if n.rssi is not None else -999), n.name))


def beacon_provider(me: BeaconIdentity, *, data_for: Sequence[PeerKeys] = (),
                    has_data_for_server: bool = False) -> PayloadProvider:
    """Advert for ``now``: payload and address of the epoch, refreshed at its end."""
    def provide(now: float) -> Advert:
        return Advert(
            data=build_advertisement(me, now=now, data_for=data_for,
                                     has_data_for_server=has_data_for_server),
            address=K.advertising_address(me, now),
            refresh_at=K.epoch_end(K.epoch_of(now)),
        )
    return provide


async def scan_nearby_async(transport: str, me: BeaconIdentity, peers: Sequence[PeerKeys],
                            timeout: float = 3.0, *,
                            on_nearby: Callable[[Sighting], bool | None] | None = None
                            ) -> list[Nearby]:
    if timeout <= 0:
        raise UsageError("the scan timeout must be positive")
    if transport == "bleak" or transport.startswith("bleak:"):
        from sneakersync.media.beacon.bleak_scan import scan_with_bleak
        sightings = await scan_with_bleak(timeout, accept=is_beacon)
    else:
        from sneakersync.media.beacon.radio import scan
        sightings = await scan(transport, timeout, accept=is_beacon, on_sighting=on_nearby)
    return summarise(sightings, me, peers)


def scan_nearby(transport: str = DEFAULT_TRANSPORT, me: BeaconIdentity | None = None,
                peers: Sequence[PeerKeys] = (), timeout: float = 3.0) -> list[Nearby]:
    """Blocking scan: devices seen within ``timeout`` seconds, known peers first."""
    if me is None:
        raise UsageError("scan_nearby needs this device's identity")
    return asyncio.run(scan_nearby_async(transport, me, peers, timeout))


async def advertise_forever_async(transport: str, me: BeaconIdentity, *,
                                  data_for: Sequence[PeerKeys] = (),
                                  has_data_for_server: bool = False, interval_ms: float = 100,
                                  duration: float | None = None) -> None:
    from sneakersync.media.beacon.radio import advertise
    await advertise(transport, beacon_provider(me, data_for=data_for,
                                               has_data_for_server=has_data_for_server),
                    interval_ms=interval_ms, duration=duration, clock=time.time)


def advertise_forever(transport: str = DEFAULT_TRANSPORT, me: BeaconIdentity | None = None, *,
                      data_for: Sequence[PeerKeys] = (), has_data_for_server: bool = False,
                      interval_ms: float = 100, duration: float | None = None) -> None:
    """Blocking: advertise until Ctrl-C / SIGTERM (or ``duration`` seconds); rotates every epoch."""
    if me is None:
        raise UsageError("advertise_forever needs this device's identity")
    from sneakersync.media.beacon.radio import run_until_signal
    run_until_signal(advertise_forever_async(transport, me, data_for=data_for,
                                             has_data_for_server=has_data_for_server,
                                             interval_ms=interval_ms, duration=duration))
