"""Fountain + receiver: any ~K frames decode; garbage never crashes or yields a wrong packet."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("raptorq")

from sneakersync.errors import FrameError, UsageError  # noqa: E402
from sneakersync.media.qr.fountain import StreamDecoder, encode_packet  # noqa: E402
from sneakersync.wire.qr_frame import decode_frame, encode_frame, fingerprint  # noqa: E402
from sneakersync.media.qr.receiver import Receiver  # noqa: E402
from sneakersync.media.qr.sender import plan_stream  # noqa: E402

VECTORS = Path(__file__).resolve().parents[1] / "formats" / "vectors" / "qr-frame"


def test_stream_vectors() -> None:
    for p in sorted(VECTORS.glob("stream-*.json")):
        v = json.loads(p.read_text())
        rx = Receiver(None)
        got = []
        for hx in v["frames"]:
            _, rec = rx.feed_frame(bytes.fromhex(hx), 0.0)
            if rec:
                got.append(rec)
        if v["expect"] == "ok":
            assert [g.packet.hex() for g in got] == [v["packet"]]
            assert got[0].fingerprint == v["fingerprint"]
        else:
            assert got == []


@pytest.mark.parametrize("size,t", [(1, 8), (700, 64), (5000, 488), (40_000, 1240)])
def test_any_k_distinct_frames_decode(size: int, t: int) -> None:
    rng = random.Random(size)
    pkt = rng.randbytes(size)
    k = -(-size // t)
    frames = encode_packet(pkt, t, n_frames=3 * k + 4)
    rng.shuffle(frames)
    dec = StreamDecoder(decode_frame(frames[0]))
    used = 0
    for f in frames:
        used += dec.add(decode_frame(f))
        if dec.result is not None:
            break
    assert dec.result == pkt
    assert used <= k + 2


def test_frames_have_one_size_per_stream() -> None:
    plan = plan_stream([os.urandom(3000), b"x", os.urandom(100)], density=15, loops=2)
    assert len({len(f) for f in plan.frames}) == 1
    assert len(set(plan.frames)) == len(plan.frames)  # every frame distinct, across loops
    assert [p.k for p in plan.packets] == [7, 1, 1]
    with pytest.raises(UsageError):
        plan_stream([b"x"], density=14)
    with pytest.raises(UsageError):
        plan_stream([])


def _packets() -> tuple[bytes, list[bytes]]:
    pkt = random.Random(7).randbytes(6000)
    return pkt, encode_packet(pkt, 488, n_frames=30, index=1, count=3)


def test_receiver_statuses_and_progress() -> None:
    pkt, frames = _packets()
    rx = Receiver(None)
    prog, done = rx.feed_capture([], 0.0)
    assert prog.status == "none" and not done
    prog, _ = rx.feed_capture([frames[0]], 0.1)
    assert prog.status == "new" and prog.received == 1 and prog.needed == 13
    assert (prog.index, prog.count) == (1, 3) and prog.fingerprint == fingerprint(pkt)
    assert rx.feed_capture([frames[0]], 0.2)[0].status == "duplicate"
    assert rx.feed_capture([b"garbage"], 0.3)[0].status == "bad"
    results = []
    for i, f in enumerate(frames[1:], 1):
        prog, done = rx.feed_capture([f], 0.1 * i)
        results += done
        if done:
            break
    assert [r.packet for r in results] == [pkt]
    assert prog.received == 13 and "packet 2/3" in prog.line()
    assert rx.feed_capture([frames[-1]], 9.0)[0].status == "duplicate"  # no second yield


def test_corrupt_short_foreign_frames_never_wedge() -> None:
    pkt, frames = _packets()
    rng = random.Random(1)
    rx = Receiver(None)
    junk: list[bytes] = [b"", b"\xa5S\x01", b"http://x", os.urandom(518)]
    for f in frames[:10]:
        b = bytearray(f)
        b[rng.randrange(len(b))] ^= 0xFF
        junk += [bytes(b), f[:-1], f[:30], f + b"\0"]
    # a hostile stream reusing the packet id with another total length (valid CRC)
    other = encode_packet(os.urandom(6000), 488, n_frames=30)
    for o in other:
        fr = decode_frame(o)
        pid = decode_frame(frames[0]).packet_id
        junk.append(encode_frame(fr.__class__(pid, 6001, 488, 0, 1, 0, fr.esi, fr.symbol)))
    mixed = junk + frames
    rng.shuffle(mixed)
    got = []
    for m in mixed:
        got += rx.feed_capture([m], 0.0)[1]
    assert [g.packet for g in got] == [pkt]


def test_forged_symbols_rejected_then_stream_recovers() -> None:
    pkt, frames = _packets()
    pid = decode_frame(frames[0]).packet_id
    forged = []
    for o in encode_packet(os.urandom(6000), 488, n_frames=13):
        fr = decode_frame(o)
        forged.append(encode_frame(fr.__class__(pid, 6000, 488, 1, 3, 0, fr.esi + 100, fr.symbol)))
    rx = Receiver(None)
    statuses = [rx.feed_frame(f, 0.0)[0] for f in forged]
    assert statuses[-1] == "bad" and not rx.done  # completed to the wrong hash: reset
    got = [r for f in frames if (r := rx.feed_frame(f, 0.0)[1])]
    assert [g.packet for g in got] == [pkt]


def test_stream_decoder_rejects_other_stream() -> None:
    _, frames = _packets()
    dec = StreamDecoder(decode_frame(frames[0]))
    other = encode_packet(b"other", 488, n_frames=1)[0]
    with pytest.raises(FrameError):
        dec.add(decode_frame(other))


def test_resume_after_interruption(tmp_path: Path) -> None:
    pkt, frames = _packets()
    rx = Receiver(tmp_path, flush_symbols=4)
    for f in frames[:9]:
        assert rx.feed_frame(f, 0.0)[1] is None
    del rx  # "crash": no close(); only checkpoints survive (8 of 9 symbols)
    (tmp_path / next(tmp_path.iterdir()).name / ".tmp-half").write_bytes(b"torn write")
    rx2 = Receiver(tmp_path)
    statuses, got = [], []
    for f in frames[9:]:
        s, r = rx2.feed_frame(f, 1.0)
        statuses.append(s)
        if r:
            got.append(r)
            break
    assert [g.packet for g in got] == [pkt]
    assert len(statuses) <= 13 - 8 + 1  # only the missing symbols were needed
    assert list(tmp_path.iterdir()) == []  # state of a completed packet is removed


def test_resume_state_tolerates_damage(tmp_path: Path) -> None:
    pkt, frames = _packets()
    rx = Receiver(tmp_path, flush_symbols=1)
    for f in frames[:12]:
        rx.feed_frame(f, 0.0)
    rx.close()
    d = next(tmp_path.iterdir())
    segs = sorted(d.iterdir())
    segs[0].write_bytes(segs[0].read_bytes()[:-3] + b"xyz")  # one damaged frame on disk
    segs[1].write_bytes(b"")  # one empty segment
    rx2 = Receiver(tmp_path)
    got = [r for f in frames[12:] if (r := rx2.feed_frame(f, 0.0)[1])]
    assert [g.packet for g in got] == [pkt]


def test_many_streams_are_bounded(tmp_path: Path) -> None:
    rx = Receiver(tmp_path, max_streams=2, flush_symbols=1)
    pkts = [os.urandom(2000) for _ in range(4)]
    streams = [encode_packet(p, 488, n_frames=10) for p in pkts]
    for j in range(10):  # interleave 4 streams through a 2-slot receiver
        for s in streams:
            rx.feed_frame(s[j], float(j))
    assert len(rx.streams) <= 2 and len(rx.done) == 4


def test_all_done_for_a_batch() -> None:
    plan = plan_stream([os.urandom(500), os.urandom(900)], density=15)
    rx = Receiver(None)
    for f in plan.frames:
        rx.feed_frame(f, 0.0)
    assert rx.all_done()


def test_oversized_stream_is_bad() -> None:
    f = encode_packet(os.urandom(5000), 488, n_frames=1)[0]
    assert Receiver(None, max_packet_size=4000).feed_frame(f, 0.0)[0] == "bad"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(max_size=600), max_size=20))
def test_receiver_survives_arbitrary_payloads(payloads: list[bytes]) -> None:
    _, frames = _packets()
    rx = Receiver(None)
    rx.feed_capture(payloads + frames[:2], 0.0)
    for p in payloads:
        status, rec = rx.feed_frame(p, 0.0)
        assert rec is None and status in ("bad", "new", "duplicate")


def test_hostile_symbols_under_the_streams_key_cannot_stop_an_honest_stream() -> None:
    """#12 item 12: a second screen shows symbols of another packet under the honest
    stream's key, interleaved with the honest frames, both colliding ESIs and fresh
    ones, for as long as the honest stream runs.  The honest packet still completes."""
    pkt, _ = _packets()
    first = decode_frame(encode_packet(pkt, 488, n_frames=1)[0])
    honest = encode_packet(pkt, 488, n_frames=400)
    hostile = []
    for o in encode_packet(os.urandom(len(pkt)), 488, n_frames=400):
        fr = decode_frame(o)
        hostile.append(encode_frame(fr.__class__(first.packet_id, first.total_len, 488,
                                                 first.index, first.count, fr.sbn,
                                                 fr.esi + (0 if fr.esi % 2 else 1000),
                                                 fr.symbol)))
    rx = Receiver(None)
    got, bad = [], 0
    for h, x in zip(honest, hostile):
        for f in (x, h):  # the hostile symbol comes first every time
            status, rec = rx.feed_frame(f, 0.0)
            bad += status == "bad"
            if rec is not None:
                got.append(rec)
        if got:
            break
    assert [g.packet for g in got] == [pkt]
