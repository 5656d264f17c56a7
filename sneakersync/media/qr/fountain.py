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


MAX_VARIANTS = 4  # distinct symbols kept per ESI (more only come from an attacker)


class StreamDecoder:
    """Fountain state for one stream key (packet id, total length, symbol size).

    Anyone can show QR codes carrying a stream's key, so symbols are not trusted
    one by one.  Every distinct symbol is kept (bounded); two different symbols
    under one ESI ban that ESI (at least one is forged, so neither is used); and a
    decode that completes to bytes whose hash is not the packet id throws nothing
    away: decoding starts again from the unbanned symbols in ascending ESI order
    (an honest sender numbers its symbols from 0 upwards and shows them in a loop,
    so forged symbols under its ESIs collide and are banned, and forged ones far
    from them come last), and again whenever a ban or enough new symbols arrive.
    """

    def __init__(self, first: Frame) -> None:
        self.packet_id = first.packet_id
        self.total_len = first.total_len
        self.symbol_size = first.symbol_size
        self.k = first.k
        self.index = first.index
        self.count = first.count
        self.esis: set[int] = set()  # fed to the current fountain decoder
        self.symbols: dict[int, list[bytes]] = {}  # esi -> distinct fountain packets seen
        self.banned: set[int] = set()
        self.failed = 0  # decodes that completed to the wrong bytes
        self.waiting = False  # the last decode failed: retry on a ban or enough new symbols
        self._fresh = 0
        self._decoder: Any = None
        self.result: bytes | None = None
        self._stored = 0
        self._cap = 4 * self.k + 256

    @property
    def key(self) -> tuple[bytes, int, int]:
        return (self.packet_id, self.total_len, self.symbol_size)

    @property
    def received(self) -> int:
        return len(self.symbols) - len(self.banned)

    def add(self, frame: Frame) -> bool:
        """Feed a validated frame; returns False when it adds nothing (a duplicate).

        Raises :class:`FrameError` if the frame belongs to another stream, or if
        a decode completed with bytes that do not match the packet id (``failed``
        counts those; every symbol received is kept and decoding goes on).
        """
        if frame.stream_key != self.key:
            raise FrameError("frame belongs to another stream")
        self.index, self.count = frame.index, frame.count
        if self.result is not None or frame.esi in self.banned:
            return False
        fp = frame.fountain_packet
        variants = self.symbols.setdefault(frame.esi, [])
        if fp in variants:
            return False
        if len(variants) >= MAX_VARIANTS or self._stored >= self._cap:
            if not variants:
                del self.symbols[frame.esi]
            return False
        variants.append(fp)
        self._stored += 1
        if len(variants) > 1:
            # two different symbols under one ESI: at least one is forged; use neither from
            # the next attempt on (the current one may still complete, and is checked)
            self.banned.add(frame.esi)
        if self.waiting or len(variants) > 1:
            # after a failed decode, try again once a batch of bans or new symbols is in:
            # each attempt costs one pass over the symbols, so attempts are rationed
            self._fresh += 1
            if self.waiting and self._fresh >= max(1, self.k // 4):
                self._retry()
            return True
        self.esis.add(frame.esi)
        if not self._feed(fp):
            self.failed += 1
            self._retry()
            if self.result is None:
                raise FrameError("decoded packet does not match its id (forged symbols?); "
                                 "decoding goes on with the symbols received")
        return True

    def _feed(self, fp: bytes) -> bool:
        """Feed one symbol; False when the decode completed to the wrong bytes."""
        if self._decoder is None:
            self._decoder = _raptorq().Decoder.with_defaults(self.total_len, self.symbol_size)
        try:
            out = self._decoder.decode(fp)
        except Exception as exc:  # pragma: no cover - not reachable with valid frames
            raise FrameError(f"fountain decoder rejected a symbol: {exc}") from exc
        except BaseException as exc:  # pyo3 PanicException derives from BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            raise FrameError("fountain decoder panicked") from exc  # pragma: no cover
        if out is None:
            return True
        data = bytes(out)
        if len(data) != self.total_len or hashlib.sha256(data).digest()[:8] != self.packet_id:
            return False
        self.result = data
        return True

    def _retry(self) -> None:
        """Decode again from every unbanned symbol, lowest ESI first."""
        self.esis.clear()
        self._decoder = None
        self._fresh = 0
        for esi in sorted(e for e in self.symbols if e not in self.banned):
            self.esis.add(esi)
            if not self._feed(self.symbols[esi][0]):
                self.waiting = True
                return
            if self.result is not None:
                break
        self.waiting = False

    def reset(self) -> None:
        self.esis.clear()
        self.symbols.clear()
        self.banned.clear()
        self._stored = 0
        self._decoder = None
        self.result = None
        self.waiting = False
