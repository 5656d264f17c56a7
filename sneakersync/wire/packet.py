"""A packet = age v1 file whose plaintext is a signed envelope (sans-I/O).

``seal`` and ``open_packet`` are the only two ways in and out.  The packet id
is the SHA-256 of the packet's bytes (hex).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from sneakersync.wire import age
from sneakersync.wire import crypto
from sneakersync.wire import envelope
from sneakersync.wire.age import Header
from sneakersync.wire.envelope import Envelope
from sneakersync.wire.identity import DeviceKeys

MAX_PACKET = 1 << 31


def packet_id(data: bytes) -> str:
    return crypto.sha256(data).hex()


def seal(keys: DeviceKeys, recipients: Sequence[bytes], body: bytes, *,
         rng: crypto.Rng = crypto.system_rng, level: int = 3, pad_to: int = 0,
         dictionary: bytes | None = None) -> bytes:
    """Compress, sign (bound to the age header) and encrypt ``body`` to ``recipients``."""
    enc = age.StreamEncryptor(list(recipients), rng=rng)
    sealed = envelope.seal(sign_secret=keys.sign_secret, sign_public=keys.sign_public,
                           header_hash=crypto.sha256(enc.header.raw), body=body, level=level,
                           pad_to=pad_to, dictionary=dictionary)
    return enc.finish(sealed)


@dataclass
class Opened:
    header: Header
    envelope: Envelope
    body: bytes


def open_packet(data: bytes, enc_secret: bytes, *, accept_sender: Callable[[bytes], None],
                max_body: int = envelope.MAX_BODY,
                dictionaries: Mapping[int, bytes] | None = None) -> Opened:
    """Decrypt (NoMatchError if not for us), verify the envelope, then decompress."""
    limit = max_body + max_body // 128 + envelope.FIXED_LEN + envelope.MAX_PAD + 1024
    header, plaintext = age.decrypt(data, enc_secret, max_size=limit)
    if dictionaries is None:
        from sneakersync.wire.dictionary import builtin

        dictionaries = builtin()
    env, body = envelope.open_envelope(plaintext, header_hash=crypto.sha256(header.raw),
                                       accept_sender=accept_sender, max_body=max_body,
                                       dictionaries=dictionaries)
    return Opened(header, env, body)


