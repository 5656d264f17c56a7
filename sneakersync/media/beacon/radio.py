"""Radio layer: advertise and scan through a bumble host stack.

bumble is imported inside functions only.  ``transport`` is a bumble transport
spec: ``usb:0`` (first USB adapter, the default), ``hci-socket:0`` (Linux),
``serial:/dev/ttyACM0``, ``tcp-client:127.0.0.1:9001`` (a virtual controller,
see docs/ble-virtual.md) ...  The ``*_on_device`` variants take a powered-on
``bumble.device.Device`` (tests use in-process virtual controllers).

Advertising uses non-connectable, non-scannable *legacy* PDUs (31-byte limit),
through extended-advertising HCI commands when the controller has them and the
legacy commands otherwise.  Scanning is passive: the scanner transmits nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable

from sneakersync.errors import MediaError, missing_extra

if TYPE_CHECKING:  # pragma: no cover
    from bumble.device import Device

DEFAULT_TRANSPORT = "usb:0"
POWER_ON_TIMEOUT = 10.0
Clock = Callable[[], float]


@dataclass(frozen=True)
class Advert:
    """What to put on the air: advertising data, our address, and until when."""

    data: bytes
    address: bytes  # 6 bytes, most significant first, random address
    refresh_at: float  # clock value at which the provider must be asked again


PayloadProvider = Callable[[float], Advert]


@dataclass(frozen=True)
class Sighting:
    """One advertising report, raw."""

    address: str
    rssi: int | None
    data: bytes  # advertising data (AD structures)
    seen_at: float  # wall clock (``clock()``) when received


def _bumble() -> Any:
    try:
        import bumble.device  # noqa: F401
        import bumble.hci  # noqa: F401
        import bumble.transport  # noqa: F401
    except ImportError as exc:  # pragma: no cover - bumble is installed in dev
        raise missing_extra("ble", "bumble") from exc
    import bumble

    return bumble


@contextlib.asynccontextmanager
async def open_device(transport: str = DEFAULT_TRANSPORT) -> AsyncIterator["Device"]:
    """Open ``transport``, power on a bumble Device on it, close both afterwards."""
    _bumble()
    from bumble.device import Device
    from bumble.hci import Address
    from bumble.transport import open_transport

    try:
        hci = await open_transport(transport)
    except Exception as exc:  # bumble raises many types (OSError, USB, spec errors)
        raise MediaError(
            f"cannot open Bluetooth transport {transport!r}: {exc}",
            hints=("pick another adapter with --transport (usb:1, hci-socket:0, serial:PORT)",
                   "to try without hardware, see docs/ble-virtual.md"),
        ) from exc
    try:
        device = Device.with_hci("sneakersync", Address.generate_static_address(),
                                 hci.source, hci.sink)
        try:
            await asyncio.wait_for(device.power_on(), POWER_ON_TIMEOUT)
        except asyncio.TimeoutError as exc:
            raise MediaError(f"the controller on {transport!r} does not answer",
                             hints=("is another program using the adapter?",)) from exc
        try:
            yield device
        finally:
            with contextlib.suppress(Exception):
                await device.power_off()
    finally:
        await hci.close()


def _address(raw: bytes) -> Any:
    from bumble.hci import Address

    return Address(bytes(reversed(raw)), Address.RANDOM_DEVICE_ADDRESS)


class _Advertiser:
    """Keeps one non-connectable legacy advertisement on the air, swappable."""

    def __init__(self, device: "Device", interval_ms: float) -> None:
        self.device = device
        self.interval_ms = interval_ms
        self.adv_set: Any = None
        self.legacy_on = False

    async def show(self, advert: Advert) -> None:
        from bumble import hci
        from bumble.device import (AdvertisingEventProperties, AdvertisingParameters,
                                   AdvertisingType)

        address = _address(advert.address)
        if self.device.supports_le_extended_advertising:
            if self.adv_set is None:
                params = AdvertisingParameters(
                    advertising_event_properties=AdvertisingEventProperties(
                        is_connectable=False, is_scannable=False, is_legacy=True),
                    primary_advertising_interval_min=self.interval_ms,
                    primary_advertising_interval_max=self.interval_ms,
                    own_address_type=hci.OwnAddressType.RANDOM,
                )
                self.adv_set = await self.device.create_advertising_set(
                    advertising_parameters=params, random_address=address,
                    advertising_data=advert.data)
            else:  # address and data change together, while stopped
                await self.adv_set.stop()
                await self.adv_set.set_random_address(address)
                await self.adv_set.set_advertising_data(advert.data)
                await self.adv_set.start()
            return
        if self.legacy_on:
            await self.device.stop_advertising()
        await self.device.send_sync_command(
            hci.HCI_LE_Set_Random_Address_Command(random_address=address))
        self.device.random_address = address
        await self.device.start_advertising(
            advertising_type=AdvertisingType.UNDIRECTED, own_address_type=hci.OwnAddressType.RANDOM,
            advertising_data=advert.data, advertising_interval_min=self.interval_ms,
            advertising_interval_max=self.interval_ms)
        self.legacy_on = True

    async def stop(self) -> None:
        if self.adv_set is not None:
            with contextlib.suppress(Exception):
                await self.adv_set.stop()
                await self.adv_set.remove()
            self.adv_set = None
        if self.legacy_on:
            with contextlib.suppress(Exception):
                await self.device.stop_advertising()
            self.legacy_on = False


async def advertise_on_device(device: "Device", payload_provider: PayloadProvider, *,
                              interval_ms: float = 100, duration: float | None = None,
                              clock: Clock = time.time,
                              started: Callable[[], None] | None = None) -> None:
    """Advertise until ``duration`` seconds pass (None: until cancelled).

    ``payload_provider(now)`` is asked again at each ``refresh_at`` (epoch change),
    and the address and data are swapped together.
    """
    loop = asyncio.get_running_loop()
    deadline = None if duration is None else loop.time() + duration
    advertiser = _Advertiser(device, interval_ms)
    try:
        while True:
            advert = payload_provider(clock())
            await advertiser.show(advert)
            if started is not None:
                started()
                started = None
            wait = max(0.05, advert.refresh_at - clock())
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    return
            await asyncio.sleep(wait)
            if deadline is not None and loop.time() >= deadline:
                return
    finally:
        await advertiser.stop()


async def scan_on_device(device: "Device", timeout: float, *,
                         accept: Callable[[bytes], bool] | None = None,
                         on_sighting: Callable[[Sighting], bool | None] | None = None,
                         clock: Clock = time.time) -> list[Sighting]:
    """Passive scan for ``timeout`` seconds; every report (filtered by ``accept``).

    ``on_sighting`` sees each sighting as it arrives; returning True ends the scan early.
    """
    sightings: list[Sighting] = []
    done = asyncio.Event()

    def on_advertisement(adv: Any) -> None:
        if adv.is_scan_response or done.is_set():
            return
        data = bytes(adv.data_bytes)
        if accept is not None and not accept(data):
            return
        rssi = None if adv.rssi in (127, None) else int(adv.rssi)
        sighting = Sighting(address=adv.address.to_string(False), rssi=rssi, data=data,
                            seen_at=clock())
        sightings.append(sighting)
        if on_sighting is not None and on_sighting(sighting):
            done.set()

    device.on("advertisement", on_advertisement)
    try:
        await device.start_scanning(active=False, filter_duplicates=False)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), timeout)
    finally:
        device.remove_listener("advertisement", on_advertisement)
        with contextlib.suppress(Exception):
            await device.stop_scanning()
    return sightings


async def advertise(transport: str, payload_provider: PayloadProvider, interval_ms: float = 100,
                    duration: float | None = None, *, clock: Clock = time.time) -> None:
    async with open_device(transport) as device:
        await advertise_on_device(device, payload_provider, interval_ms=interval_ms,
                                  duration=duration, clock=clock)


async def scan(transport: str, timeout: float, *, accept: Callable[[bytes], bool] | None = None,
               on_sighting: Callable[[Sighting], bool | None] | None = None,
               clock: Clock = time.time) -> list[Sighting]:
    async with open_device(transport) as device:
        return await scan_on_device(device, timeout, accept=accept, on_sighting=on_sighting,
                                    clock=clock)


def run_until_signal(coro: Any) -> None:
    """Run ``coro``; SIGINT/SIGTERM cancel it so ``finally`` blocks run and the
    controller stops advertising (a killed host would leave it on the air)."""
    import signal

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        with contextlib.suppress(asyncio.CancelledError):
            await coro

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def advertise_sync(transport: str, payload_provider: PayloadProvider, interval_ms: float = 100,
                   duration: float | None = None) -> None:
    """Blocking :func:`advertise`; Ctrl-C or SIGTERM stops it cleanly."""
    run_until_signal(advertise(transport, payload_provider, interval_ms, duration))


def scan_sync(transport: str, timeout: float, *,
              accept: Callable[[bytes], bool] | None = None) -> list[Sighting]:
    return asyncio.run(scan(transport, timeout, accept=accept))
