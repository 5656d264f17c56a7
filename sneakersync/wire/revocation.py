"""Revocation statements: "device R no longer accepts device X after its change N" (sans-I/O).

A statement is signed by the revoker's Ed25519 key and travels, as a JSON
object, in ``body.extra["revocations"]`` of every packet, so the other devices
of a team learn it and refuse what the revoked key signs after it.  The format
is specified in ``formats/revocation-v1.md``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from sneakersync.wire import canonical, crypto
from sneakersync.errors import BodyError, CardError
from sneakersync.wire.identity import Card, DeviceKeys, decode_card, parse_id_text

TYPE = "sneakersync/revocation"
VERSION = 1
DOMAIN = b"sneakersync revocation v1\x00"
KEYS = frozenset({"type", "v", "revoker", "revoked", "card", "last", "at", "root", "sig"})
EMPTY_ROOT = bytes(32)  # the root committed to when nothing was accepted (last = 0)
MAX_COUNTER = (1 << 53) - 1
MAX_STATEMENTS = 10_000


class RevocationError(BodyError):
    """A revocation statement is malformed (its signature is checked separately).

    Its layer is ``body``, as in ``formats/packet-v1.md`` step 12b."""


@dataclass(frozen=True)
class Revocation:
    revoker: str  # device id of the signer
    revoked: str  # device id of the revoked device
    card: str  # the revoked device's identity card (so its keys are known to everyone)
    last: int  # the revoked device's last change counter the revoker accepts
    at: int  # when, ms since the epoch (a hint for people; not used in decisions)
    sig: bytes  # Ed25519 by the revoker over :func:`message`
    # Merkle root (packet-v1 section 6) over the revoked device's changes 1..last as the
    # revoker holds them: what the device really wrote, so a stolen key cannot re-sign
    # a counter at or below ``last`` with other content
    root: bytes = EMPTY_ROOT

    @property
    def revoked_card(self) -> Card:
        return decode_card(self.card)

    def to_json(self) -> dict[str, Any]:
        return {"type": TYPE, "v": VERSION, "revoker": self.revoker, "revoked": self.revoked,
                "card": self.card, "last": self.last, "at": self.at, "root": self.root.hex(),
                "sig": self.sig.hex()}


def _raw_id(device_id: str, what: str) -> bytes:
    raw = parse_id_text(device_id)
    if raw is None:
        raise RevocationError(f"{what} {device_id!r} is not a device id")
    return raw


def message(revoker: str, card: Card, last: int, at: int, root: bytes = EMPTY_ROOT) -> bytes:
    """The signed bytes: domain, both ids, the revoked keys, last counter, time, root."""
    return (DOMAIN + _raw_id(revoker, "revoker") + card.raw_id + card.sign_public
            + card.enc_public + struct.pack(">QQ", last, at) + root)


def _check_numbers(last: Any, at: Any) -> None:
    if type(last) is not int or not 0 <= last <= MAX_COUNTER:
        raise RevocationError("revocation 'last' must be a counter from 0 to 2^53-1")
    if type(at) is not int or not 0 <= at <= MAX_COUNTER:
        raise RevocationError("revocation 'at' must be a time in ms from 0 to 2^53-1")


def sign(keys: DeviceKeys, revoked: Card, last: int, at: int,
         root: bytes = EMPTY_ROOT) -> Revocation:
    """A statement by the device owning ``keys`` revoking ``revoked`` after ``last``;
    ``root`` commits to the revoked device's changes 1..last (EMPTY_ROOT when last = 0)."""
    _check_numbers(last, at)
    _check_root(last, root)
    if revoked.device_id == keys.device_id:
        raise RevocationError("a device cannot revoke itself")
    sig = crypto.sign(keys.sign_secret, message(keys.device_id, revoked, last, at, root))
    return Revocation(keys.device_id, revoked.device_id, revoked.encode(), last, at, sig, root)


def _check_root(last: int, root: Any) -> None:
    if not isinstance(root, bytes) or len(root) != 32:
        raise RevocationError("revocation 'root' must be 32 bytes")
    if (last == 0) != (root == EMPTY_ROOT):
        raise RevocationError("revocation 'root' must be all zero exactly when 'last' is 0")


def from_json(obj: Any) -> Revocation | None:
    """Parse one statement.  None for a statement of another version (ignored, so a
    later version can be introduced); :class:`RevocationError` when malformed."""
    if not isinstance(obj, dict) or obj.get("type") != TYPE:
        raise RevocationError("a revocation must be an object of type " + TYPE)
    if obj.get("v") != VERSION:
        if type(obj.get("v")) is int and obj["v"] > VERSION:
            return None
        raise RevocationError(f"revocation version {obj.get('v')!r} is invalid")
    if obj.keys() != KEYS:
        raise RevocationError("a revocation has missing or unknown fields")
    _raw_id(obj["revoker"], "revoker")
    _raw_id(obj["revoked"], "revoked")
    if obj["revoker"] == obj["revoked"]:
        raise RevocationError("a revocation names the same device as revoker and revoked")
    _check_numbers(obj["last"], obj["at"])
    try:
        card = decode_card(obj["card"])
    except CardError as exc:
        raise RevocationError(f"revoked card is invalid: {exc}") from exc
    if card.device_id != obj["revoked"] or card.encode() != obj["card"]:
        raise RevocationError("revoked card does not belong to the revoked device "
                              "or is not in canonical form")
    root = _hex_field(obj["root"], 32, "root")
    _check_root(obj["last"], root)
    raw_sig = _hex_field(obj["sig"], 64, "sig")
    return Revocation(obj["revoker"], obj["revoked"], obj["card"], obj["last"], obj["at"],
                      raw_sig, root)


def _hex_field(text: Any, n: int, what: str) -> bytes:
    problem = canonical.hex_problem(text, n)
    if problem:
        raise RevocationError(f"revocation {what!r} {problem}")
    return bytes.fromhex(text)


def decode_list(value: Any) -> list[Revocation]:
    """``body.extra["revocations"]`` (absent: []) to statements; signatures unchecked."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_STATEMENTS:
        raise RevocationError("'revocations' must be a list of at most "
                              f"{MAX_STATEMENTS} statements")
    out = []
    for obj in value:
        r = from_json(obj)
        if r is not None:
            out.append(r)
    return out


def verify(r: Revocation, revoker_sign_public: bytes) -> None:
    """Raise :class:`AuthError` unless the revoker signed this statement."""
    crypto.verify(revoker_sign_public,
                  message(r.revoker, r.revoked_card, r.last, r.at, r.root), r.sig)


def stronger(a: Revocation, b: Revocation) -> Revocation:
    """Of two statements by the same revoker about the same device, the one kept:
    the lower ``last`` (the safer), then the lower signature bytes (deterministic)."""
    return min(a, b, key=lambda r: (r.last, r.sig))
