"""Virtual radios and demo keys, for tests, benchmarks and trying without hardware.

``virtual_devices(n)`` gives n powered-on bumble Devices whose controllers share
one in-process ``bumble.link.LocalLink``.  ``demo_identity(name)`` derives keys
from a name: anyone can, so they are for demos only.
"""

from __future__ import annotations

import socket
from typing import Any

from sneakersync.wire import crypto
from sneakersync.errors import missing_extra
from sneakersync.wire.beacon_keys import BeaconIdentity, PeerKeys


def demo_identity(name: str) -> BeaconIdentity:
    secret = crypto.sha256(b"sneakersync beacon demo enc " + name.encode())
    return BeaconIdentity(secret, crypto.x25519_public(secret),
                          crypto.sha256(b"sneakersync beacon demo sign " + name.encode()))


def demo_peer(name: str, verified: bool = True) -> PeerKeys:
    ident = demo_identity(name)
    return PeerKeys(name, verified, ident.enc_public, ident.sign_public)


async def virtual_devices(n: int) -> list[Any]:
    """n powered-on bumble Devices on virtual controllers sharing one LocalLink."""
    try:
        from bumble.controller import Controller
        from bumble.device import Device
        from bumble.hci import Address
        from bumble.host import Host
        from bumble.link import LocalLink
        from bumble.transport.common import AsyncPipeSink
    except ImportError as exc:  # pragma: no cover
        raise missing_extra("ble", "bumble") from exc

    link = LocalLink()
    devices = []
    for i in range(n):
        controller = Controller(f"C{i}", link=link)
        device = Device(address=Address.generate_static_address(),
                        host=Host(controller, AsyncPipeSink(controller)))
        await device.power_on()
        devices.append(device)
    return devices


def free_local_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
