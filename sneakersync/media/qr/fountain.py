"""RaptorQ (RFC 6330) glue: packet -> frames, frames -> packet.

Everything that reaches ``raptorq`` here has been validated by
:func:`sneakersync.wire.qr_frame.decode_frame` first: the binding accepts damaged
symbols silently and panics (a ``BaseException``) on short ones.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sneakersync.errors import FrameError, UsageError, missing_extra
from sneakersync.wire.qr_frame import MAX_SOURCE_SYMBOLS, Frame, encode_frame, packet_id, source_symbols


def _raptorq() -> Any:
    try:
        import raptorq
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise missing_extra("qr", "raptorq") from exc
    return raptorq


def encode_packet(
    packet: bytes, symbol_size: int, *, n_frames: int, index: int = 0, count: int = 1,
    first_esi: int = 0,
) -> list[bytes]:
    """Frames with ESIs ``first_esi .. first_esi+n_frames-1`` for ``packet``.

    ESIs below K are source symbols, the rest repair symbols; any K distinct
    ones (occasionally K+1) rebuild the packet.
    """
    if not packet:
        raise UsageError("cannot stream an empty packet")
    k = source_symbols(len(packet), symbol_size)
    if k > MAX_SOURCE_SYMBOLS:
        raise UsageError(
            f"packet of {len(packet)} bytes needs {k} frames, more than one QR stream carries",
            hints=("use a higher density, or carry it on a USB stick",),
        )
    last = first_esi + n_frames
    repair = max(0, last - k)
    rq = _raptorq().Encoder.with_defaults(packet, symbol_size)
    pid = packet_id(packet)
    out: list[bytes] = []
    for fp in rq.get_encoded_packets(repair):
        esi = int.from_bytes(fp[1:4], "big")
        if first_esi <= esi < last:
            out.append(encode_frame(Frame(pid, len(packet), symbol_size, index, count,
                                          fp[0], esi, bytes(fp[4:]))))
    return out


class StreamDecoder:
    """Fountain state for one stream key (packet id, total length, symbol size)."""

    def __init__(self, first: Frame) -> None:
        self.packet_id = first.packet_id
        self.total_len = first.total_len
        self.symbol_size = first.symbol_size
        self.k = first.k
        self.index = first.index
        self.count = first.count
        self.esis: set[int] = set()
        self._decoder: Any = None
        self.result: bytes | None = None

    @property
    def key(self) -> tuple[bytes, int, int]:
        return (self.packet_id, self.total_len, self.symbol_size)

    @property
    def received(self) -> int:
        return len(self.esis)

    def add(self, frame: Frame) -> bool:
        """Feed a validated frame; returns False for a duplicate ESI.

        Raises :class:`FrameError` if the frame belongs to another stream, or
        if the fountain code completes with bytes whose SHA-256 prefix is not
        the packet id (then this decoder resets itself and starts over).
        """
        if frame.stream_key != self.key:
            raise FrameError("frame belongs to another stream")
        self.index, self.count = frame.index, frame.count
        if frame.esi in self.esis or self.result is not None:
            return False
        self.esis.add(frame.esi)
        if self._decoder is None:
            self._decoder = _raptorq().Decoder.with_defaults(self.total_len, self.symbol_size)
        try:
            out = self._decoder.decode(frame.fountain_packet)
        except Exception as exc:  # pragma: no cover - not reachable with valid frames
            self.reset()
            raise FrameError(f"fountain decoder rejected a symbol: {exc}") from exc
        except BaseException as exc:  # pyo3 PanicException derives from BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            self.reset()  # pragma: no cover
            raise FrameError("fountain decoder panicked; stream state reset") from exc
        if out is not None:
            data = bytes(out)
            if len(data) != self.total_len or hashlib.sha256(data).digest()[:8] != self.packet_id:
                self.reset()
                raise FrameError("decoded packet does not match its id; stream state reset")
            self.result = data
        return True

    def reset(self) -> None:
        self.esis.clear()
        self._decoder = None
        self.result = None
