"""Encoders x decoders, byte for byte; static codes; terminal and HTML renderings."""

from __future__ import annotations

import os
import random
import re
import json
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("zxingcpp")

from sneakersync.errors import UsageError  # noqa: E402
from sneakersync.media.qr import decode_image, encode_static, fingerprint, write_static_png  # noqa: E402
from sneakersync.media.qr.decoders import available_decoders, get_decoder, recover_latin1  # noqa: E402
from sneakersync.wire.qr_frame import QR_BYTE_CAPACITY_L, symbol_size_for_version  # noqa: E402
from sneakersync.media.qr.fountain import encode_packet  # noqa: E402
from sneakersync.media.qr.render import qr_matrix, smallest_version, to_image  # noqa: E402

DECODERS = available_decoders()
ENCODERS = ["zxing"] + (["segno"] if __import__("importlib").util.find_spec("segno") else [])


def payloads(version: int) -> list[bytes]:
    rng = random.Random(version)
    cap = QR_BYTE_CAPACITY_L[version]
    t = symbol_size_for_version(version)
    real = encode_packet(rng.randbytes(3 * t), t, n_frames=2)
    return real + [bytes(cap), b"\xff" * cap, bytes(range(256)) * (cap // 256) + b"\0" * (cap % 256),
                   rng.randbytes(cap), b"\0\n\r\x1b\xef\xbb\xbf" + rng.randbytes(cap - 7)]


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("version", [15, 25, 40])
def test_encoders_pin_version_and_roundtrip_through_every_decoder(encoder: str, version: int) -> None:
    for data in payloads(version):
        m = qr_matrix(data, version, encoder=encoder)
        assert m.shape == (17 + 4 * version,) * 2  # a full frame did not grow (no ECI)
        img = to_image(m, scale=4 if version < 40 else 3)
        for name in DECODERS:
            if name == "opencv" and version >= 40:
                continue  # OpenCV's detector is unreliable on v40 (documented)
            got = get_decoder(name).decode(img)
            assert got == [data], (encoder, name, version, data[:16])


def test_zxing_writer_adds_eci_unless_told_not_to() -> None:
    import zxingcpp

    full = os.urandom(QR_BYTE_CAPACITY_L[25])
    with pytest.raises(Exception):
        zxingcpp.create_barcode(full, zxingcpp.QRCode, ec_level="L", version=25)
    assert qr_matrix(full, 25).shape == (117, 117)


def test_mask_is_honoured() -> None:
    data = os.urandom(500)
    a, b = qr_matrix(data, 15, mask=0), qr_matrix(data, 15, mask=5)
    assert not (a == b).all()
    for m in (a, b):
        assert get_decoder("zxing").decode(to_image(m)) == [data]


def test_too_big_for_version() -> None:
    with pytest.raises(UsageError):
        qr_matrix(bytes(QR_BYTE_CAPACITY_L[15] + 1), 15)
    with pytest.raises(UsageError):
        smallest_version(3000)
    with pytest.raises(UsageError):
        qr_matrix(b"x", 15, encoder="nope")


def test_to_image_centres_at_integer_scale() -> None:
    img = to_image(qr_matrix(os.urandom(1000), 25), width=1280, height=720)
    assert img.shape == (720, 1280) and set(np.unique(img)) <= {0, 255}
    cols = np.where((img == 0).any(axis=0))[0]
    assert (cols.max() - cols.min() + 1) % 117 == 0  # 117 modules x whole pixels


def test_static_png_roundtrip(tmp_path: Path) -> None:
    ack = b"\x00ACK" + os.urandom(60)
    im = encode_static(ack)
    assert im.mode == "L"
    p = tmp_path / "ack.png"
    write_static_png(ack, str(p))
    assert decode_image(p) == [ack]
    assert decode_image(np.asarray(im)) == [ack]


def test_decode_image_finds_several_codes() -> None:
    # fixed payloads (random ones made this test fail now and then) and a white gap between
    a, b = bytes(random.Random(1).randrange(256) for _ in range(200)), \
        bytes(random.Random(2).randrange(256) for _ in range(300))
    ia, ib = to_image(qr_matrix(a), scale=4), to_image(qr_matrix(b), scale=4)
    h, gap = max(ia.shape[0], ib.shape[0]), 32
    canvas = np.full((h, ia.shape[1] + gap + ib.shape[1]), 255, np.uint8)
    canvas[: ia.shape[0], : ia.shape[1]] = ia
    canvas[: ib.shape[0], ia.shape[1] + gap:] = ib
    assert sorted(decode_image(canvas)) == sorted([a, b])


def test_recover_latin1() -> None:
    data = bytes(range(256))
    assert recover_latin1(data.decode("latin-1").encode("utf-8")) == data
    assert recover_latin1("€".encode()) is None


def test_terminal_text_roundtrip() -> None:
    from sneakersync.media.qr.outputs import parse_terminal_text, terminal_text

    data = os.urandom(400)
    m = qr_matrix(data, 15)
    text = terminal_text(m, quiet=4)
    back = parse_terminal_text(text)
    assert back.shape[0] >= m.shape[0] + 8
    assert get_decoder("zxing").decode(to_image(back[: m.shape[0] + 8], quiet=2, scale=4)) == [data]
    assert set(re.sub(r"\x1b\[[0-9;]*m", "", text)) <= set(" ▀▄█\n")


def test_terminal_player_writes_frames() -> None:
    import io

    from sneakersync.media.qr.outputs import play_terminal
    from sneakersync.media.qr.sender import plan_stream

    plan = plan_stream([b"tiny"], density=15)
    buf = io.StringIO()
    assert play_terminal(plan, fps=60, out=buf) == len(plan.frames) == 3
    assert fingerprint(b"tiny") in buf.getvalue()


def test_html_page_is_self_contained_and_exact(tmp_path: Path) -> None:
    from sneakersync.media.qr.html import unpack_frame, write_html
    from sneakersync.media.qr.sender import plan_stream

    pk = [os.urandom(2000), os.urandom(100)]
    plan = plan_stream(pk, density=15)
    p = tmp_path / "s.html"
    write_html(plan, p, title="<Batch> & co")
    page = p.read_text()
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    assert "&lt;Batch&gt; &amp; co" in page
    data = json.loads(re.search(r'<script type="application/json" id="qr-data">(.*?)</script>',
                                page).group(1))
    assert [q["fingerprint"] for q in data["packets"]] == [fingerprint(x) for x in pk]
    assert len(data["frames"]) == len(plan.frames)
    for b64, raw in zip(data["frames"], plan.frames):
        m = unpack_frame(b64, data["modules"])
        assert get_decoder("zxing").decode(to_image(m)) == [raw]
