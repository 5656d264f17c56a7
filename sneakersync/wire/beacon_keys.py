"""Key material and per-epoch derivations of the beacon (sans-I/O).

Every value here is specified in ``formats/beacon-v1.md`` section 4.  All are
PRF outputs (HMAC-SHA256) under keys a stranger does not hold, so two epochs'
values cannot be linked without those keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sneakersync.wire import crypto
from sneakersync.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from sneakersync.wire.identity import Card, DeviceKeys

SALT = b"sneakersync beacon v1"
EPOCH_SECONDS = 900
MAX_EPOCH = 0xFFFFFFFF
RID_LEN = 6
TAG_LEN = 4
MAC_LEN = 4
ADDRESS_LEN = 6
KEY_LEN = 32


def epoch_of(now: float) -> int:
    """Number of the 15-minute epoch containing ``now`` (seconds since 1970, UTC)."""
    if not isinstance(now, (int, float)) or not math.isfinite(now) or now < 0:
        raise UsageError("the beacon clock must be a non-negative number of seconds")
    epoch = int(now // EPOCH_SECONDS)
    if epoch > MAX_EPOCH:
        raise UsageError("the beacon clock is beyond the last 32-bit epoch")
    return epoch


def epoch_end(epoch: int) -> float:
    """First second of the next epoch: when advertisement and address rotate."""
    return float((epoch + 1) * EPOCH_SECONDS)


def u32(epoch: int) -> bytes:
    return epoch.to_bytes(4, "big")


def _check_key(name: str, value: bytes) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != KEY_LEN:
        raise UsageError(f"{name} must be {KEY_LEN} bytes")
    return bytes(value)


@dataclass(frozen=True)
class BeaconIdentity:
    """The advertising / scanning device's own keys."""

    enc_secret: bytes = field(repr=False)
    enc_public: bytes
    sign_public: bytes

    def __post_init__(self) -> None:
        _check_key("enc_secret", self.enc_secret)
        _check_key("enc_public", self.enc_public)
        _check_key("sign_public", self.sign_public)
        if crypto.x25519_public(self.enc_secret) != self.enc_public:
            raise UsageError("enc_public does not belong to enc_secret")

    @classmethod
    def from_device_keys(cls, keys: "DeviceKeys") -> "BeaconIdentity":
        return cls(keys.enc_secret, keys.enc_public, keys.sign_public)


@dataclass(frozen=True)
class PeerKeys:
    """What we know of a peer: from its identity card, plus our verification state."""

    name: str
    verified: bool
    enc_public: bytes
    sign_public: bytes

    def __post_init__(self) -> None:
        _check_key("enc_public", self.enc_public)
        _check_key("sign_public", self.sign_public)

    @classmethod
    def from_card(cls, card: "Card", *, verified: bool = False) -> "PeerKeys":
        return cls(card.name, verified, card.enc_public, card.sign_public)


# --- derivations (spec section 4) -------------------------------------------------


def id_key(enc_public: bytes, sign_public: bytes) -> bytes:
    """K_id: computable by anyone holding the device's identity card."""
    return crypto.hkdf_sha256(enc_public + sign_public, SALT, b"id", KEY_LEN)


def rotating_id(k_id: bytes, epoch: int) -> bytes:
    return crypto.hmac_sha256(k_id, b"rid" + u32(epoch))[:RID_LEN]


def flags_mask(k_id: bytes, epoch: int) -> int:
    return crypto.hmac_sha256(k_id, b"flags" + u32(epoch))[0]


def payload_mac(k_id: bytes, epoch: int, body: bytes) -> bytes:
    return crypto.hmac_sha256(k_id, b"mac" + u32(epoch) + body)[:MAC_LEN]


def pair_key(my_secret: bytes, my_public: bytes, peer_public: bytes) -> bytes:
    """K_pair: shared by exactly two devices (X25519), the same from either side."""
    shared = crypto.x25519(my_secret, peer_public)
    lo, hi = sorted((my_public, peer_public))
    return crypto.hkdf_sha256(shared, SALT, b"pair" + lo + hi, KEY_LEN)


def data_tag(k_pair: bytes, recipient_enc_public: bytes, epoch: int) -> bytes:
    """"I hold data for <recipient>": directional, so A->B and B->A tags differ."""
    return crypto.hmac_sha256(k_pair, b"tag" + recipient_enc_public + u32(epoch))[:TAG_LEN]


def private_key(me: BeaconIdentity, info: bytes) -> bytes:
    """A key only this device knows (fillers, address)."""
    return crypto.hkdf_sha256(me.enc_secret, SALT, info, KEY_LEN)


def filler(k_fill: bytes, epoch: int, slot: int) -> bytes:
    return crypto.hmac_sha256(k_fill, b"fill" + u32(epoch) + bytes([slot]))[:TAG_LEN]


def advertising_address(me: BeaconIdentity, now: float) -> bytes:
    """Non-resolvable private address for the epoch, 6 bytes, most significant first.

    The two top bits are 00 (non-resolvable private); the 46 random bits are
    neither all zero nor all one (Core spec Vol 6, Part B, 1.3.2.2).
    """
    k_addr = private_key(me, b"addr")
    epoch = epoch_of(now)
    counter = 0
    while True:
        raw = bytearray(crypto.hmac_sha256(k_addr, b"addr" + u32(epoch) + bytes([counter]))[:6])
        raw[0] &= 0x3F
        rand = int.from_bytes(raw, "big")
        if rand not in (0, (1 << 46) - 1):
            return bytes(raw)
        counter += 1  # pragma: no cover - probability 2**-45


def address_text(address: bytes) -> str:
    return ":".join(f"{b:02X}" for b in address)
