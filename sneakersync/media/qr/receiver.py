"""Receiver: captured QR payloads -> verified packets, with progress.

:class:`Receiver` is I/O-free apart from the optional :class:`SymbolStore`;
:func:`receive` wires a capture source and a decoder to it.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sneakersync.errors import FrameError
from sneakersync.media.qr.fountain import StreamDecoder
from sneakersync.wire.qr_frame import Frame, decode_frame, fingerprint_from_id
from sneakersync.media.qr.state import SymbolStore

DEFAULT_MAX_PACKET = 64 * 1024 * 1024
STATUSES = ("new", "duplicate", "bad", "none")


AGE_MAGIC = b"age-encryption.org/v1\n"
MAX_STATIC = 4096  # a single QR code holds at most 2,953 bytes


@dataclass(frozen=True)
class Received:
    packet: bytes
    fingerprint: str
    packet_id: bytes
    index: int
    count: int
    static: bool = False  # one QR code holding a whole packet (an ack), not a stream


@dataclass
class Progress:
    """State after one capture.  ``status``: new / duplicate / bad / none."""

    status: str
    fingerprint: str = ""
    index: int = 0
    count: int = 0
    received: int = 0
    needed: int = 0
    rate: float = 0.0  # new distinct symbols per second, this stream
    eta: float | None = None  # seconds left at that rate
    elapsed: float = 0.0
    captures: int = 0
    completed: int = 0
    stats: Counter[str] = field(default_factory=Counter)

    @property
    def fraction(self) -> float:
        return min(1.0, self.received / self.needed) if self.needed else 0.0

    def line(self) -> str:
        if not self.needed:
            return f"waiting for a QR stream · {self.captures} captures · {self.status}"
        eta = f" · ~{self.eta:.0f} s left" if self.eta is not None else ""
        return (f"packet {self.index + 1}/{self.count} {self.fingerprint} · "
                f"{self.received}/{self.needed} frames · {self.rate:.1f}/s{eta} · {self.status}")


class _Stream:
    def __init__(self, first: Frame, now: float) -> None:
        self.dec = StreamDecoder(first)
        self.started = now
        self.pending: list[bytes] = []
        self.last_flush = now
        self.new_since_start = 0


class Receiver:
    """Feeds frames to independent per-stream fountain decoders.

    Streams are keyed by (packet id, total length, symbol size), so a foreign
    or hostile stream that reuses a packet id occupies its own slot and can
    never reset or poison the real one.  At most ``max_streams`` stay in
    memory (least recently seen are flushed to the store and dropped).
    """

    def __init__(self, state_dir: Path | str | None = None, *, max_streams: int = 8,
                 max_packet_size: int = DEFAULT_MAX_PACKET, flush_every: float = 1.0,
                 flush_symbols: int = 64) -> None:
        self.store = SymbolStore(state_dir) if state_dir is not None else None
        self.max_streams = max_streams
        self.max_packet_size = max_packet_size
        self.flush_every = flush_every
        self.flush_symbols = flush_symbols
        self.streams: OrderedDict[tuple[bytes, int, int], _Stream] = OrderedDict()
        self.done: set[tuple[bytes, int, int]] = set()
        self.done_index: set[tuple[int, int]] = set()
        self.done_info: dict[tuple[bytes, int, int], tuple[int, int, int, int]] = {}
        self.stats: Counter[str] = Counter()
        self.captures = 0
        self.t0: float | None = None
        self.current: tuple[bytes, int, int] | None = None
        self.statics = 0

    # -- one frame ---------------------------------------------------------------
    def feed_frame(self, data: bytes, now: float) -> tuple[str, Received | None]:
        if data.startswith(AGE_MAGIC) and len(data) <= MAX_STATIC:
            return self._static(bytes(data))
        try:
            frame = decode_frame(data)
        except FrameError:
            return "bad", None
        if frame.total_len > self.max_packet_size:
            return "bad", None
        key = frame.stream_key
        if key in self.done:
            return "duplicate", None
        st = self._stream(frame, now)
        self.current = key
        if st.dec.result is not None:  # resumed state was already complete
            return "duplicate", self._complete(key, st)
        try:
            is_new = st.dec.add(frame)
        except FrameError:
            # completed with the wrong bytes (forged symbols under this stream's key): the
            # decoder set the symbols it used aside and goes on; nothing honest is dropped
            return "bad", None
        if not is_new:
            return "duplicate", None
        st.new_since_start += 1
        st.pending.append(bytes(data))
        if st.dec.result is not None:
            return "new", self._complete(key, st)
        if len(st.pending) >= self.flush_symbols or now - st.last_flush >= self.flush_every:
            self._flush(key, st, now)
        return "new", None

    def _static(self, data: bytes) -> tuple[str, Received | None]:
        """A whole packet in one code (the receiver's ack): complete on sight, once."""
        from sneakersync.wire.qr_frame import packet_id

        pid = packet_id(data)
        key = (pid, len(data), 0)
        if key in self.done:
            return "duplicate", None
        self.done.add(key)
        self.statics += 1
        return "new", Received(data, fingerprint_from_id(pid), pid, 0, 1, static=True)

    def _stream(self, frame: Frame, now: float) -> _Stream:
        key = frame.stream_key
        st = self.streams.get(key)
        if st is None:
            st = _Stream(frame, now)
            if self.store:
                for old in self.store.load(key):
                    if st.dec.result is None:
                        try:
                            st.dec.add(old)
                        except FrameError:
                            continue  # set aside by the decoder; the rest is kept
            self.streams[key] = st
            while len(self.streams) > self.max_streams:
                old_key, old_stream = self.streams.popitem(last=False)
                self._flush(old_key, old_stream, now)
        self.streams.move_to_end(key)
        return st

    def _flush(self, key: tuple[bytes, int, int], st: _Stream, now: float) -> None:
        if self.store and st.pending:
            self.store.append(key, st.pending)
        st.pending = []
        st.last_flush = now

    def _complete(self, key: tuple[bytes, int, int], st: _Stream) -> Received:
        data = st.dec.result
        assert data is not None
        self.streams.pop(key, None)
        self.done.add(key)
        self.done_index.add((st.dec.index, st.dec.count))
        self.done_info[key] = (st.dec.index, st.dec.count, st.dec.received, st.dec.k)
        if self.store:
            self.store.discard(key)
        return Received(data, fingerprint_from_id(key[0]), key[0], st.dec.index, st.dec.count)

    # -- one capture (any number of QR codes) ------------------------------------
    def feed_capture(self, payloads: list[bytes], now: float | None = None
                     ) -> tuple[Progress, list[Received]]:
        now = time.monotonic() if now is None else now
        if self.t0 is None:
            self.t0 = now
        self.captures += 1
        statuses, done = [], []
        for data in payloads:
            status, rec = self.feed_frame(data, now)
            statuses.append(status)
            if rec is not None:
                done.append(rec)
        status = next((s for s in STATUSES if s in statuses), "none")
        self.stats[status] += 1
        return self.progress(status, now), done

    def progress(self, status: str, now: float) -> Progress:
        p = Progress(status, elapsed=now - (self.t0 or now), captures=self.captures,
                     completed=len(self.done), stats=Counter(self.stats))
        st = self.streams.get(self.current) if self.current else None
        if st is not None:
            d = st.dec
            p.fingerprint, p.index, p.count = fingerprint_from_id(d.packet_id), d.index, d.count
            p.received, p.needed = d.received, d.k
            span = now - st.started
            p.rate = st.new_since_start / span if span > 0 else 0.0
            if p.rate > 0:
                p.eta = max(0, d.k - d.received) / p.rate
        elif self.current is not None and self.current in self.done_info:
            p.fingerprint = fingerprint_from_id(self.current[0])
            p.index, p.count, p.received, p.needed = self.done_info[self.current]
            p.eta = 0.0
        return p

    def all_done(self) -> bool:
        """True once packets 1..N of a batch of N have all completed (or an ack was read)."""
        if self.statics and not self.streams:
            return True
        counts = {c for _, c in self.done_index}
        return any(all((i, c) in self.done_index for i in range(c)) for c in counts)

    def close(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key, st in list(self.streams.items()):
            self._flush(key, st, now)


def receive(source: str, *, state_dir: Path | str, on_progress: Callable[[Progress], None]
            | None = None, timeout: float | None = None, decoder: str = "auto",
            stop_when_complete: bool = True, max_packet_size: int = DEFAULT_MAX_PACKET,
            ) -> Iterator[Received]:
    """Yield verified packets seen on ``source`` ('video:F', 'frames:DIR', 'camera:N').

    Stops at the end of a file/folder, after ``timeout`` seconds, or (with
    ``stop_when_complete``) once every packet of a batch has arrived.
    Received symbols are checkpointed to ``state_dir``, so an interrupted
    transfer resumes where it stopped on the next showing.
    """
    from sneakersync.media.qr.capture import open_source
    from sneakersync.media.qr.decoders import get_decoder

    dec = get_decoder(decoder)
    rx = Receiver(state_dir, max_packet_size=max_packet_size)
    start = time.monotonic()
    src = open_source(source)
    try:
        for image, ts in src:
            progress, done = rx.feed_capture(dec.decode(image), ts)
            if on_progress is not None:
                on_progress(progress)
            yield from done
            if stop_when_complete and done and rx.all_done():
                break
            if timeout is not None and time.monotonic() - start > timeout:
                break
    finally:
        rx.close()
        close = getattr(src, "close", None)
        if close:
            close()
