"""Frame codec: spec vectors, round trips, capacities, and garbage in -> only our errors."""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sneakersync.errors import FrameError
from sneakersync.wire.qr_frame import MAGIC, OVERHEAD, QR_BYTE_CAPACITY_L, BadFrame, Frame, decode_frame, encode_frame, fingerprint, packet_id, symbol_size_for_version

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "formats" / "vectors" / "qr-frame"


def load_vectors(kind: str) -> list[tuple[str, dict]]:
    out = []
    for p in sorted(VECTORS.glob("*.json")):
        v = json.loads(p.read_text())
        if v["kind"] == kind:
            out.append((p.stem, v))
    return out


@pytest.mark.parametrize(("name", "vec"), load_vectors("frame"), ids=lambda x: x if isinstance(x, str) else "")
def test_frame_vectors(name: str, vec: dict) -> None:
    data = bytes.fromhex(vec["frame"])
    if vec["expect"] == "ok":
        f = decode_frame(data)
        flds = vec["fields"]
        assert f.packet_id.hex() == flds["packet_id"]
        assert (f.total_len, f.symbol_size, f.index, f.count, f.sbn, f.esi) == (
            flds["total_len"], flds["symbol_size"], flds["packet_index"], flds["packet_count"],
            flds["sbn"], flds["esi"])
        assert f.symbol.hex() == vec["symbol"]
        assert encode_frame(f) == data
    else:
        with pytest.raises(BadFrame) as info:
            decode_frame(data)
        assert info.value.layer == vec["expect"] == "frame"
        assert info.value.reason == vec["reason"]


def test_vectors_cover_every_reason() -> None:
    reasons = {v["reason"] for _, v in load_vectors("frame")}
    assert {None, "length", "magic", "version", "crc", "header"} <= reasons


def test_generator_is_deterministic(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(VECTORS / "generate.py"), str(tmp_path)], check=True)
    made = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    stored = {p.name: p.read_bytes() for p in VECTORS.glob("*.json")}
    assert made == stored


def test_crc_is_zlib_crc32() -> None:
    assert zlib.crc32(b"123456789") == 0xCBF43926


def test_layout_offsets() -> None:
    f = Frame(bytes(range(8)), 0x00010203, 16, 2, 3, 0, 0x0A0B0C, b"S" * 16)
    d = encode_frame(f)
    assert len(d) == OVERHEAD + 16
    assert d[:2] == MAGIC and d[2] == 1 and d[3] == 0
    assert d[4:12] == bytes(range(8)) and d[12:16] == b"\x00\x01\x02\x03"
    assert d[16:18] == b"\x00\x10" and d[18:20] == b"\x00\x02" and d[20:22] == b"\x00\x03"
    assert d[22:26] == b"\x00\x0a\x0b\x0c" and d[26:42] == b"S" * 16
    assert f.fountain_packet == d[22:42]


def test_symbol_sizes_and_goodput() -> None:
    assert symbol_size_for_version(25) == 1240
    for v in range(15, 41):
        t = symbol_size_for_version(v)
        assert t % 8 == 0 and OVERHEAD + t <= QR_BYTE_CAPACITY_L[v] < OVERHEAD + t + 8
    assert symbol_size_for_version(25) / QR_BYTE_CAPACITY_L[25] >= 0.95
    with pytest.raises(ValueError):
        symbol_size_for_version(41)


@pytest.mark.parametrize("version", [1, 10, 15, 20, 25, 33, 40])
def test_capacity_table_matches_segno(version: int) -> None:
    segno = pytest.importorskip("segno")
    cap = QR_BYTE_CAPACITY_L[version]
    q = segno.make_qr(b"\xff" * cap, error="L", mode="byte", boost_error=False)
    assert q.version == version
    if version < 40:
        q = segno.make_qr(b"\xff" * (cap + 1), error="L", mode="byte", boost_error=False)
        assert q.version == version + 1


def test_fingerprint() -> None:
    fp = fingerprint(b"hello")
    assert fp == "2cf2-4dba-5fb0" and packet_id(b"hello").hex().startswith("2cf24dba5fb0")


def test_encode_rejects_out_of_format_fields() -> None:
    with pytest.raises(ValueError):
        encode_frame(Frame(b"x" * 8, 10, 8, 1, 1, 0, 0, b"y" * 8))  # index >= count
    with pytest.raises(ValueError):
        encode_frame(Frame(b"x" * 7, 10, 8, 0, 1, 0, 0, b"y" * 8))


frames_st = st.builds(
    Frame,
    packet_id=st.binary(min_size=8, max_size=8),
    total_len=st.integers(1, 4000),
    symbol_size=st.sampled_from([8, 16, 64, 488, 1240]),
    index=st.integers(0, 3),
    count=st.integers(4, 0xFFFF),
    sbn=st.just(0),
    esi=st.integers(0, (1 << 24) - 1),
    symbol=st.just(b""),
).map(lambda f: Frame(f.packet_id, f.total_len, f.symbol_size, f.index, f.count, f.sbn, f.esi,
                      bytes(f.symbol_size)))


@settings(max_examples=200, deadline=None)
@given(frames_st)
def test_roundtrip(f: Frame) -> None:
    assert decode_frame(encode_frame(f)) == f


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_frame_errors(data: bytes) -> None:
    try:
        decode_frame(data)
    except FrameError:
        pass


@settings(max_examples=300, deadline=None)
@given(frames_st, st.data())
def test_any_single_corruption_is_caught(f: Frame, data: st.DataObject) -> None:
    raw = bytearray(encode_frame(f))
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= data.draw(st.integers(1, 255))
    with pytest.raises(BadFrame):
        decode_frame(bytes(raw))
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(BadFrame):
        decode_frame(bytes(raw[:cut]))


def test_import_is_cheap() -> None:
    code = ("import sys, sneakersync.media.qr, sneakersync.wire.qr_frame; "
            "heavy = [m for m in ('cv2','numpy','raptorq','zxingcpp','PIL','imageio') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
