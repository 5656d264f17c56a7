"""Scan through the operating system's Bluetooth stack with bleak (optional).

For machines where the adapter belongs to BlueZ / CoreBluetooth / WinRT and
bumble cannot open it.  Scan only (bleak cannot advertise).  UNTESTED here:
bleak is not installed in the development environment and there is no OS
Bluetooth stack; the code follows bleak's documented detection callback.
OS stacks hand over parsed service data, not raw AD bytes, so the service data
AD structure is rebuilt; ``parse_advertisement`` does not need the Flags AD.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from sneakersync.errors import MissingExtraError
from sneakersync.wire.beacon import SERVICE_UUID16, service_data_ad
from sneakersync.media.beacon.radio import Sighting

SERVICE_UUID128 = f"0000{SERVICE_UUID16:04x}-0000-1000-8000-00805f9b34fb"


async def scan_with_bleak(timeout: float, *, accept: Callable[[bytes], bool] | None = None
                          ) -> list[Sighting]:
    try:
        from bleak import BleakScanner
    except ImportError as exc:
        raise MissingExtraError("scanning with the OS Bluetooth stack needs 'bleak', which is not installed",
                                hints=("install it with: pip install bleak",)) from exc
    sightings: list[Sighting] = []

    def detected(device: Any, adv: Any) -> None:
        payload = (adv.service_data or {}).get(SERVICE_UUID128)
        if payload is None or len(payload) + 4 > 31:
            return
        data = service_data_ad(bytes(payload))
        if accept is None or accept(data):
            sightings.append(Sighting(address=str(device.address), rssi=adv.rssi, data=data,
                                      seen_at=time.time()))

    scanner = BleakScanner(detection_callback=detected)
    await scanner.start()
    try:
        await asyncio.sleep(timeout)
    finally:
        await scanner.stop()
    return sightings
