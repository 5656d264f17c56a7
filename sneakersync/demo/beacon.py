"""Demo step: discovery over a virtual Bluetooth link, then in-person authentication.

``run_beacon_demo`` takes the homes of (at least) three devices that already
synced.  The first two stand side by side: the first records one more visit and
advertises, the second scans on bumble's in-process virtual radio and recognises
it by name, with "holds data for you"; a stranger (a throw-away identity that
no one knows) advertises too and shows as an unknown device.  Then both compare
safety numbers and mark each other verified (what ``peer verify --confirm``
does).  Raises ImportError when bumble is missing, so the caller can skip it.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Any, Callable

import bumble  # noqa: F401  (missing: importing this module fails, the demo skips the step)

from sneakersync.store import home as home_mod
from sneakersync.sync import nearby
from sneakersync.store import peers
from sneakersync.wire import safety
from sneakersync.wire.identity import DeviceKeys, decode_card

Echo = Callable[[str], None]
SCAN_SECONDS = 0.8


async def _on_air(advertisers: list[tuple[Any, Any]], scanner_identity: Any,
                  scanner_peers: list[Any]) -> list[Any]:
    """Advertise each (identity, plan) on its own virtual radio; scan on one more."""
    from sneakersync.media.beacon.discovery import beacon_provider, is_beacon, summarise
    from sneakersync.media.beacon.radio import advertise_on_device, scan_on_device
    from sneakersync.media.beacon.virtual import virtual_devices

    radios = await virtual_devices(len(advertisers) + 1)
    tasks = [asyncio.create_task(advertise_on_device(radio, beacon_provider(ident, **plan)))
             for radio, (ident, plan) in zip(radios, advertisers)]
    try:
        await asyncio.sleep(0.05)
        sightings = await scan_on_device(radios[-1], SCAN_SECONDS, accept=is_beacon)
    finally:
        for t in tasks:
            t.cancel()
            try:
                await t
            except asyncio.CancelledError:
                pass
    return summarise(sightings, scanner_identity, scanner_peers)


def run_beacon_demo(root: Path, devices: dict[str, Path], echo: Echo) -> None:
    if len(devices) < 2:
        raise ValueError("the beacon demo needs at least two devices")
    (a_label, a_path), (b_label, b_path) = list(devices.items())[:2]
    a_home, b_home = home_mod.load(a_path), home_mod.load(b_path)
    a_store, b_store = a_home.open_store(), b_home.open_store()
    try:
        a_as_b = peers.by_id(b_store, a_home.device_id)
        b_as_a = peers.by_id(a_store, b_home.device_id)
        if a_as_b is None or b_as_a is None:
            raise ValueError(f"{a_label} and {b_label} must be peers of each other")
        echo(f"   {a_label} records one more visit, which {b_label} does not have yet")
        a_store.put("visits", {"note": "beacon demo visit", "by": a_home.name})
        plan = nearby.advert_plan(a_store)
        echo(f"   $ sneakersync beacon advertise      (on {a_label}: holds data for "
             f"{', '.join(plan['names']) or 'no one'})")
        stranger = nearby.BeaconIdentity.from_device_keys(DeviceKeys.generate())
        echo("   (a stranger's phone nearby advertises too; no one here holds its card)")
        found = asyncio.run(_on_air(
            [(nearby.identity(a_home), {"data_for": plan["data_for"],
                                        "has_data_for_server": plan["has_data_for_server"]}),
             (stranger, {})],
            nearby.identity(b_home), nearby.peer_keys(b_store)))
        echo(f"   $ sneakersync beacon scan --timeout {SCAN_SECONDS}   (on {b_label})")
        for i, n in enumerate(found, 1):
            echo(f"   {i:>2}. {nearby.describe(n)}")
        named = [n for n in found if n.known and n.name == a_as_b.name]
        echo(f"   {b_label} recognises {a_as_b.name!r} by name"
             + (" and sees that it holds data for it" if named and named[0].hints else "")
             + "; the stranger stays an unknown device (its id rotates every 15 minutes)")

        echo("\n   In person: both compare the safety number of their pair of devices")
        number_b = safety.safety_number(b_home.card, decode_card(a_as_b.card))
        number_a = safety.safety_number(a_home.card, decode_card(b_as_a.card))
        echo(f"   $ sneakersync peer verify {shlex.quote(a_as_b.name)}      (on {b_label})")
        echo("     " + safety.format_number(number_b).replace("\n", "\n     "))
        echo(f"   $ sneakersync peer verify {shlex.quote(b_as_a.name)}      (on {a_label})")
        echo("     " + safety.format_number(number_a).replace("\n", "\n     "))
        echo("   the numbers are " + ("equal" if number_a == number_b else "DIFFERENT")
             + ": no card was swapped on the way; both confirm")
        if number_a == number_b:
            peers.set_verified(b_store, a_home.device_id)
            peers.set_verified(a_store, b_home.device_id)
            echo(f"   $ sneakersync peer verify {shlex.quote(a_as_b.name)} --confirm   "
                 f"(on {b_label}; {a_label} confirms too)")
            echo(f"   {b_label}'s scans now show {a_as_b.name!r} as verified")
    finally:
        a_store.close()
        b_store.close()
