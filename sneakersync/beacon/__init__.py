"""Bluetooth LE beacon: peer visibility and discovery.

``payload`` and ``keys`` are sans-I/O (bytes and dataclasses, time passed in);
``radio`` drives a Bluetooth controller through bumble (imported lazily);
``discovery`` combines the two.  The wire format is ``formats/beacon-v1.md``.
Importing this package does not import bumble.
"""

from __future__ import annotations

from .keys import BeaconIdentity, PeerKeys
from .payload import Recognition, build_advertisement, parse_advertisement, recognise

__all__ = [
    "BeaconIdentity",
    "PeerKeys",
    "Recognition",
    "build_advertisement",
    "parse_advertisement",
    "recognise",
]
