"""Sans-I/O codec for one QR stream frame (``formats/qr-frame-v1.md``).

A frame is the exact byte content of one byte-mode QR symbol:

    magic(2) ver(1) flags(1) packet_id(8) total_len(4) symbol_size(2)
    index(2) count(2) sbn(1) esi(3) symbol(T) crc32(4)

This module imports nothing heavy (no raptorq, numpy, cv2, zxing): it only
checks and builds bytes, so the receiver can reject garbage cheaply *before*
anything reaches the fountain decoder.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

from sneakersync.errors import FrameError

MAGIC = b"\xa5\x53"
FORMAT_VERSION = 1
PACKET_ID_SIZE = 8
HEADER_SIZE = 26  # up to and including the RaptorQ payload id
CRC_SIZE = 4
OVERHEAD = HEADER_SIZE + CRC_SIZE  # 30 bytes per frame
SYMBOL_ALIGN = 8  # RaptorQ alignment Al
MIN_SYMBOL_SIZE = 8
MAX_SOURCE_SYMBOLS = 56403  # K'max of RFC 6330: one source block only
MIN_DENSITY = 15
MAX_DENSITY = 40
DEFAULT_DENSITY = 25

_HEAD = struct.Struct(">2sBB8sIHHHB3s")
assert _HEAD.size == HEADER_SIZE

# Byte-mode capacity (bytes) of QR versions 1-40 at ECC level L, no ECI
# (ISO/IEC 18004 table 7; checked against segno in tests/test_qr_frame.py).
QR_BYTE_CAPACITY_L: dict[int, int] = dict(
    enumerate(
        (17, 32, 53, 78, 106, 134, 154, 192, 230, 271, 321, 367, 425, 458, 520, 586, 644,
         718, 792, 858, 929, 1003, 1091, 1171, 1273, 1367, 1465, 1528, 1628, 1732, 1840,
         1952, 2068, 2188, 2303, 2431, 2563, 2699, 2809, 2953),
        start=1,
    )
)


class BadFrame(FrameError):
    """A frame that must be rejected; ``reason`` names the failed check.

    Reasons, in the order they are checked: ``length``, ``magic``, ``version``,
    ``crc``, ``header``.  They are the ``reason`` values of the test vectors.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"bad QR frame ({reason}): {message}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame.  ``symbol`` is exactly ``symbol_size`` bytes."""

    packet_id: bytes
    total_len: int
    symbol_size: int
    index: int
    count: int
    sbn: int
    esi: int
    symbol: bytes

    @property
    def k(self) -> int:
        """Source symbols K: a receiver needs about this many distinct frames."""
        return source_symbols(self.total_len, self.symbol_size)

    @property
    def stream_key(self) -> tuple[bytes, int, int]:
        """Frames agreeing on this key belong to the same fountain stream."""
        return (self.packet_id, self.total_len, self.symbol_size)

    @property
    def fountain_packet(self) -> bytes:
        """PayloadId + symbol, as RFC 6330 / the ``raptorq`` package expects it."""
        return bytes([self.sbn]) + self.esi.to_bytes(3, "big") + self.symbol

    @property
    def fingerprint(self) -> str:
        return fingerprint_from_id(self.packet_id)


def source_symbols(total_len: int, symbol_size: int) -> int:
    return -(-total_len // symbol_size)


def packet_id(packet: bytes) -> bytes:
    """Stream identity: the first 8 bytes of SHA-256 of the packet bytes."""
    return hashlib.sha256(packet).digest()[:PACKET_ID_SIZE]


def fingerprint_from_id(pid: bytes) -> str:
    """Human-comparable fingerprint: 12 hex digits in three groups."""
    h = pid[:6].hex()
    return f"{h[0:4]}-{h[4:8]}-{h[8:12]}"


def fingerprint(packet: bytes) -> str:
    """Short fingerprint shown by sender and receiver (from SHA-256 of the packet)."""
    return fingerprint_from_id(packet_id(packet))


def symbol_size_for_version(version: int) -> int:
    """Largest symbol size T whose frame fits a byte-mode QR of ``version`` at ECC L."""
    if version not in QR_BYTE_CAPACITY_L:
        raise ValueError(f"QR version must be 1..40, got {version}")
    t = (QR_BYTE_CAPACITY_L[version] - OVERHEAD) // SYMBOL_ALIGN * SYMBOL_ALIGN
    if t < MIN_SYMBOL_SIZE:
        raise ValueError(f"QR version {version} is too small for a stream frame")
    return t


def frame_size(symbol_size: int) -> int:
    return OVERHEAD + symbol_size


def encode_frame(frame: Frame) -> bytes:
    """Serialise ``frame``; raises ``ValueError`` for fields outside the format."""
    _check_fields(frame, ValueError)
    head = _HEAD.pack(
        MAGIC, FORMAT_VERSION, 0, frame.packet_id, frame.total_len, frame.symbol_size,
        frame.index, frame.count, frame.sbn, frame.esi.to_bytes(3, "big"),
    )
    body = head + frame.symbol
    return body + zlib.crc32(body).to_bytes(4, "big")


def decode_frame(data: bytes) -> Frame:
    """Parse and fully validate one frame; raises :class:`BadFrame` only."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BadFrame("length", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < OVERHEAD + MIN_SYMBOL_SIZE:
        raise BadFrame("length", f"{len(data)} bytes is shorter than any frame")
    magic, ver, flags, pid, total_len, t, index, count, sbn, esi3 = _HEAD.unpack_from(data)
    if magic != MAGIC:
        raise BadFrame("magic", "not a sneakersync stream frame")
    if ver != FORMAT_VERSION:
        raise BadFrame("version", f"frame format version {ver} is not supported")
    if len(data) != OVERHEAD + t:
        raise BadFrame("length", f"{len(data)} bytes, but symbol size {t} needs {OVERHEAD + t}")
    crc = int.from_bytes(data[-CRC_SIZE:], "big")
    if zlib.crc32(data[:-CRC_SIZE]) != crc:
        raise BadFrame("crc", "checksum mismatch (damaged capture)")
    if flags != 0:
        raise BadFrame("header", f"reserved flags set: 0x{flags:02x}")
    frame = Frame(pid, total_len, t, index, count, sbn, int.from_bytes(esi3, "big"),
                  data[HEADER_SIZE:-CRC_SIZE])
    _check_fields(frame, None)
    return frame


def _check_fields(f: Frame, exc: type[Exception] | None) -> None:
    problem = _field_problem(f)
    if problem is None:
        return
    if exc is None:
        raise BadFrame("header", problem)
    raise exc(problem)


def _field_problem(f: Frame) -> str | None:
    if len(f.packet_id) != PACKET_ID_SIZE:
        return "packet id must be 8 bytes"
    if not 1 <= f.total_len <= 0xFFFFFFFF:
        return "total length must be 1..2^32-1"
    if not MIN_SYMBOL_SIZE <= f.symbol_size <= 0xFFFF or f.symbol_size % SYMBOL_ALIGN:
        return f"symbol size {f.symbol_size} is not a multiple of 8 in 8..65528"
    if len(f.symbol) != f.symbol_size:
        return "symbol length differs from symbol size"
    if source_symbols(f.total_len, f.symbol_size) > MAX_SOURCE_SYMBOLS:
        return "packet needs more than one RaptorQ source block (K > 56403)"
    if not 1 <= f.count <= 0xFFFF or not 0 <= f.index < f.count:
        return f"packet index {f.index} of count {f.count} is out of range"
    if f.sbn != 0:
        return f"source block number {f.sbn} is not 0"
    if not 0 <= f.esi < 1 << 24:
        return "encoding symbol id must fit 24 bits"
    return None
