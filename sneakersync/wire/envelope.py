"""The signed inner envelope of a packet (sans-I/O).

Layout (big-endian; see ``formats/packet-v1.md``)::

    off  len  field
      0    8  magic "SNKENV1\\n"
      8   32  sender Ed25519 public key
     40   32  SHA-256 of the outer age header (intro line through the MAC line)
     72    8  compressed body length C
     80    8  uncompressed body length U (the decompression limit)
     88   32  SHA-256 of the compressed body
    120    1  flags: bit 0 = the zstd frame uses a built-in dictionary; other bits 0
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
from typing import Callable, Mapping

import zstandard

from sneakersync.wire import crypto
from sneakersync.errors import AuthError, BodyError, EnvelopeError, UsageError

MAGIC = b"SNKENV1\n"
FIXED_LEN = 185
SIGNED_LEN = 121
SIG_DOMAIN = b"sneakersync envelope v1\x00"
MAX_BODY = 1 << 31  # 2 GiB uncompressed: a hard ceiling against bombs
MAX_PAD = 1 << 20  # padding buckets are at most 1 MiB
# what C compressed bytes can honestly hold: zstd on real record text stays far below
# 1024:1; a larger U is a bomb (or a lie) and is refused before any decompression
RATIO_FLOOR = 1 << 16
MAX_RATIO = 1024


def honest_limit(compressed_len: int) -> int:
    """The largest body ``compressed_len`` bytes may declare (packet-v1 section 3.1)."""
    return RATIO_FLOOR + MAX_RATIO * compressed_len
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


FLAG_DICT = 0x01
DICT_MAX_BODY = 1 << 16  # only small bodies try the dictionary (where it pays)


def seal(*, sign_secret: bytes, sign_public: bytes, header_hash: bytes, body: bytes,
         level: int = 3, pad_to: int = 0, dictionary: bytes | None = None,
         compressor: zstandard.ZstdCompressor | None = None) -> bytes:
    """Compress ``body`` and sign the envelope bound to ``header_hash``.

    With ``dictionary`` (a built-in zstd dictionary), a small body is compressed
    both ways and the smaller result is kept (flag bit 0 says which).
    """
    if not 0 <= pad_to <= MAX_PAD:
        raise UsageError(f"padding bucket must be 0 to {MAX_PAD} bytes")
    comp = compressor or zstandard.ZstdCompressor(level=level, write_content_size=True)
    compressed = comp.compress(body)
    flags = 0
    if dictionary is not None and len(body) <= DICT_MAX_BODY:
        zd = zstandard.ZstdCompressionDict(dictionary)
        with_dict = zstandard.ZstdCompressor(level=max(level, 19), dict_data=zd,
                                             write_content_size=True).compress(body)
        if len(with_dict) < len(compressed):
            compressed, flags = with_dict, FLAG_DICT
    fixed = struct.pack(_FMT, MAGIC, sign_public, header_hash, len(compressed), len(body),
                        crypto.sha256(compressed), flags)
    sig = crypto.sign(sign_secret, SIG_DOMAIN + fixed)
    pad = b"\x00" * _pad_len(FIXED_LEN + len(compressed), pad_to)
    return b"".join((fixed, sig, compressed, pad))


def parse(data: bytes) -> Envelope:
    if len(data) < FIXED_LEN:
        raise EnvelopeError("envelope is shorter than its fixed header")
    magic, spub, hh, clen, ulen, bhash, flags = struct.unpack(_FMT, data[:SIGNED_LEN])
    if magic != MAGIC:
        raise EnvelopeError("envelope magic is wrong (not a sneakersync packet)")
    if flags & ~FLAG_DICT:
        raise EnvelopeError(f"envelope flags {flags:#x} are not supported")
    if clen > len(data) - FIXED_LEN:
        raise EnvelopeError("envelope body is truncated")
    if ulen > MAX_BODY:
        raise EnvelopeError("envelope declares an oversized body")
    if ulen > honest_limit(clen):
        raise EnvelopeError(f"envelope declares a body of {ulen} bytes, more than "
                            f"{clen} compressed bytes can honestly hold")
    return Envelope(spub, hh, clen, ulen, bhash, flags, data[SIGNED_LEN:FIXED_LEN])


def open_envelope(data: bytes, *, header_hash: bytes,
                  accept_sender: Callable[[bytes], None],
                  max_body: int = MAX_BODY,
                  dictionaries: Mapping[int, bytes] | None = None) -> tuple[Envelope, bytes]:
    """Verify, then decompress. Returns (envelope, body).

    ``accept_sender(sign_public)`` raises when the sender may not send to us
    (revoked, unknown, held): it runs after the signature and the header binding
    verify and before any byte of the body is hashed or decompressed.
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
    dictionary = None
    if env.flags & FLAG_DICT:
        if dictionaries is None:
            from sneakersync.wire.dictionary import builtin  # the package's built-in dictionaries

            dictionaries = builtin()
        dictionary = _frame_dictionary(compressed, dictionaries)
    return env, decompress(compressed, env.body_len, dictionary)


def _frame_dictionary(compressed: bytes, dictionaries: Mapping[int, bytes]) -> bytes:
    try:
        dict_id = zstandard.get_frame_parameters(compressed).dict_id
    except zstandard.ZstdError as exc:
        raise BodyError(f"body is not a zstd frame: {exc}") from exc
    found = dictionaries.get(dict_id)
    if not dict_id or found is None:
        raise BodyError(f"body needs zstd dictionary {dict_id:#x}, which this reader lacks")
    return found


def decompress(compressed: bytes, expected_len: int, dictionary: bytes | None = None) -> bytes:
    """Decompress at most ``expected_len`` bytes; anything else is a bomb or damage.

    Memory stays bounded by ``expected_len`` (itself capped) whatever the input.
    """
    try:
        reader = _dctx(dictionary).stream_reader(io.BytesIO(compressed),
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
        dobj = _dctx(dictionary).decompressobj()
        dobj.decompress(compressed)
        if not dobj.eof or dobj.unused_data:
            raise BodyError("data follows the compressed body")
    except zstandard.ZstdError as exc:
        raise BodyError(f"body does not decompress: {exc}") from exc
    return bytes(out)


def _dctx(dictionary: bytes | None) -> zstandard.ZstdDecompressor:
    if dictionary is None:
        return zstandard.ZstdDecompressor()
    return zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(dictionary))
