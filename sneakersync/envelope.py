"""The signed inner envelope of a packet (sans-I/O).

Layout (big-endian; see ``formats/packet-v1.md``)::

    off  len  field
      0    8  magic "SNKENV1\\n"
      8   32  sender Ed25519 public key
     40   32  SHA-256 of the outer age header (intro line through the MAC line)
     72    8  compressed body length C
     80    8  uncompressed body length U (the decompression limit)
     88   32  SHA-256 of the compressed body
    120    1  flags (must be 0 in v1)
    121   64  Ed25519 signature over "sneakersync envelope v1\\0" || bytes 0..120
    185    C  zstd frame (the body)
  185+C    P  padding: zero bytes (P >= 0), so sizes fall in buckets

The signature is checked before anything is decompressed or parsed, and it
binds the envelope to the exact age header it was encrypted under: a
co-recipient who re-encrypts the plaintext to someone else changes the header
and breaks the binding (surreptitious forwarding).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Callable

import zstandard

from . import crypto
from .errors import AuthError, BodyError, EnvelopeError, UsageError

MAGIC = b"SNKENV1\n"
FIXED_LEN = 185
SIGNED_LEN = 121
SIG_DOMAIN = b"sneakersync envelope v1\x00"
MAX_BODY = 1 << 31  # 2 GiB uncompressed: a hard ceiling against bombs
MAX_PAD = 1 << 20  # padding buckets are at most 1 MiB
_FMT = ">8s32s32sQQ32sB"


@dataclass(frozen=True)
class Envelope:
    sender_sign_public: bytes
    header_hash: bytes
    compressed_len: int
    body_len: int
    body_hash: bytes
    flags: int
    signature: bytes


def _pad_len(size: int, pad_to: int) -> int:
    if pad_to <= 0:
        return 0
    return (-size) % pad_to


def seal(*, sign_secret: bytes, sign_public: bytes, header_hash: bytes, body: bytes,
         level: int = 3, pad_to: int = 0,
         compressor: zstandard.ZstdCompressor | None = None) -> bytes:
    """Compress ``body`` and sign the envelope bound to ``header_hash``."""
    if not 0 <= pad_to <= MAX_PAD:
        raise UsageError(f"padding bucket must be 0 to {MAX_PAD} bytes")
    comp = compressor or zstandard.ZstdCompressor(level=level, write_content_size=True)
    compressed = comp.compress(body)
    fixed = struct.pack(_FMT, MAGIC, sign_public, header_hash, len(compressed), len(body),
                        crypto.sha256(compressed), 0)
    sig = crypto.sign(sign_secret, SIG_DOMAIN + fixed)
    out = fixed + sig + compressed
    return out + b"\x00" * _pad_len(len(out), pad_to)


def parse(data: bytes) -> Envelope:
    if len(data) < FIXED_LEN:
        raise EnvelopeError("envelope is shorter than its fixed header")
    magic, spub, hh, clen, ulen, bhash, flags = struct.unpack(_FMT, data[:SIGNED_LEN])
    if magic != MAGIC:
        raise EnvelopeError("envelope magic is wrong (not a sneakersync packet)")
    if flags != 0:
        raise EnvelopeError(f"envelope flags {flags:#x} are not supported")
    if clen > len(data) - FIXED_LEN:
        raise EnvelopeError("envelope body is truncated")
    if ulen > MAX_BODY:
        raise EnvelopeError("envelope declares an oversized body")
    return Envelope(spub, hh, clen, ulen, bhash, flags, data[SIGNED_LEN:FIXED_LEN])


def open_envelope(data: bytes, *, header_hash: bytes,
                  accept_sender: Callable[[bytes], None],
                  max_body: int = MAX_BODY) -> tuple[Envelope, bytes]:
    """Verify, then decompress. Returns (envelope, body).

    ``accept_sender(sign_public)`` raises (an :class:`AuthError`) when the
    sender may not send to us; it runs after the signature verifies.
    """
    env = parse(data)
    crypto.verify(env.sender_sign_public, SIG_DOMAIN + data[:SIGNED_LEN], env.signature)
    if not crypto.ct_equal(env.header_hash, header_hash):
        raise AuthError("envelope is bound to another outer header (re-encrypted or forwarded)")
    accept_sender(env.sender_sign_public)
    end = FIXED_LEN + env.compressed_len
    compressed = data[FIXED_LEN:end]
    if any(data[end:]):
        raise EnvelopeError("padding after the body is not all zero")
    if not crypto.ct_equal(crypto.sha256(compressed), env.body_hash):
        raise AuthError("body hash does not match the signed envelope")
    if env.body_len > max_body:
        raise BodyError(f"body of {env.body_len} bytes exceeds the limit of {max_body}")
    return env, decompress(compressed, env.body_len)


def decompress(compressed: bytes, expected_len: int) -> bytes:
    """Decompress at most ``expected_len`` bytes; anything else is a bomb or damage.

    Memory stays bounded by ``expected_len`` (itself capped) whatever the input.
    """
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(compressed),
                                                             read_across_frames=False)
        out = reader.read(expected_len + 1) if expected_len >= 0 else b""
        while len(out) < expected_len + 1:
            more = reader.read(expected_len + 1 - len(out))
            if not more:
                break
            out += more
        if len(out) > expected_len:
            raise BodyError("body decompresses to more than the signed length (bomb?)")
    except zstandard.ZstdError as exc:
        raise BodyError(f"body does not decompress: {exc}") from exc
    if len(out) != expected_len:
        raise BodyError("body length differs from the signed length")
    # exactly one frame and nothing after it (the first frame is now known to be bounded)
    try:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        dobj.decompress(compressed)
        if not dobj.eof or dobj.unused_data:
            raise BodyError("data follows the compressed body")
    except zstandard.ZstdError as exc:
        raise BodyError(f"body does not decompress: {exc}") from exc
    return bytes(out)
