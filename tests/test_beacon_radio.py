"""Beacon over bumble virtual controllers in one process (LocalLink)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sneakersync.wire import beacon_keys as K
from sneakersync.media.beacon.discovery import HINT_FOR_SERVER, HINT_FOR_YOU, UNKNOWN, beacon_provider, is_beacon, summarise
from sneakersync.wire.beacon import build_advertisement
from sneakersync.media.beacon.radio import Advert, advertise_on_device, scan, scan_on_device
from sneakersync.errors import MediaError

from sneakersync.media.beacon.virtual import demo_identity as ident
from sneakersync.media.beacon.virtual import demo_peer as peer
from sneakersync.media.beacon.virtual import free_local_port as free_port
from sneakersync.media.beacon.virtual import virtual_devices

pytest.importorskip("bumble")


async def _stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def test_round_trip_peer_and_stranger() -> None:
    async def main() -> None:
        alice_dev, mallory_dev, bob_dev = await virtual_devices(3)
        alice, bob = ident("alice"), ident("bob")
        tasks = [
            asyncio.create_task(advertise_on_device(
                alice_dev, beacon_provider(alice, data_for=[peer("bob")], has_data_for_server=True))),
            asyncio.create_task(advertise_on_device(
                mallory_dev, beacon_provider(ident("mallory"), data_for=[peer("bob")]))),
        ]
        try:
            await asyncio.sleep(0.05)
            sightings = await scan_on_device(bob_dev, 0.6, accept=is_beacon)
        finally:
            for t in tasks:
                await _stop(t)
        nearby = summarise(sightings, bob, [peer("alice"), peer("carol")])
        assert [n.name for n in nearby] == ["alice", UNKNOWN]
        a, m = nearby
        assert a.known and a.verified and a.hints == (HINT_FOR_YOU, HINT_FOR_SERVER)
        assert a.rssi is not None and a.sightings >= 3
        assert a.address == K.address_text(K.advertising_address(alice, sightings[0].seen_at))
        assert not m.known and m.hints == ()
    asyncio.run(main())


def test_rotation_on_air_is_one_peer() -> None:
    """Address and payload rotate together; the scanner still shows one alice."""
    async def main() -> None:
        alice_dev, bob_dev = await virtual_devices(2)
        alice = ident("alice")
        fake = {"now": 1_750_000_000.0}

        def provider(real_now: float) -> Advert:
            now = fake["now"]
            fake["now"] += K.EPOCH_SECONDS  # next call: next epoch
            return Advert(build_advertisement(alice, now=now), K.advertising_address(alice, now),
                          refresh_at=real_now + 0.25)

        task = asyncio.create_task(advertise_on_device(alice_dev, provider))
        try:
            # the scanner's clock follows the advertiser's current epoch
            sightings = await scan_on_device(bob_dev, 0.9, accept=is_beacon,
                                             clock=lambda: fake["now"] - K.EPOCH_SECONDS)
        finally:
            await _stop(task)
        assert len({s.address for s in sightings}) >= 3
        assert len({s.data for s in sightings}) >= 3
        pairs = {(s.address, s.data) for s in sightings}
        assert len(pairs) == len({s.address for s in sightings})  # never old addr + new data
        nearby = summarise(sightings, ident("bob"), [peer("alice")])
        assert [n.name for n in nearby] == ["alice"] and nearby[0].sightings == len(sightings)
        # a stranger sees several unrelated unknown devices instead
        assert len(summarise(sightings, ident("eve"), [])) == len({s.data for s in sightings})
    asyncio.run(main())


def test_duration_ends_advertising() -> None:
    async def main() -> None:
        alice_dev, bob_dev = await virtual_devices(2)
        await advertise_on_device(alice_dev, beacon_provider(ident("alice")), duration=0.2)
        assert await scan_on_device(bob_dev, 0.3, accept=is_beacon) == []
    asyncio.run(main())


def test_early_stop_callback() -> None:
    async def main() -> None:
        alice_dev, bob_dev = await virtual_devices(2)
        task = asyncio.create_task(advertise_on_device(alice_dev, beacon_provider(ident("alice"))))
        try:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            got = await scan_on_device(bob_dev, 5.0, accept=is_beacon, on_sighting=lambda s: True)
            assert len(got) == 1 and loop.time() - t0 < 1.0
        finally:
            await _stop(task)
    asyncio.run(main())


@pytest.mark.parametrize("spec", ["tcp-client:127.0.0.1:{port}", "no-such-scheme:0"])
def test_unusable_transport_is_a_media_error(spec: str) -> None:
    with pytest.raises(MediaError) as info:
        asyncio.run(scan(spec.format(port=free_port()), 0.1))
    assert info.value.hints
