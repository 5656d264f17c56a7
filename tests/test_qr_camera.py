"""Streams complete through a synthetic camera, from a random starting frame."""

from __future__ import annotations

import os
import random

import pytest

pytest.importorskip("raptorq")
pytest.importorskip("cv2")

from sneakersync.media.qr.camera_sim import CameraModel, SyntheticCamera  # noqa: E402
from sneakersync.media.qr.decoders import available_decoders, get_decoder  # noqa: E402
from sneakersync.wire.qr_frame import symbol_size_for_version  # noqa: E402
from sneakersync.media.qr.receiver import Receiver  # noqa: E402
from sneakersync.media.qr.render import qr_matrix, to_image  # noqa: E402
from sneakersync.media.qr.sender import plan_stream  # noqa: E402

slow = pytest.mark.skipif(os.environ.get("SNEAKERSYNC_SLOW") != "1", reason="SNEAKERSYNC_SLOW=1")


def run(packets: list[bytes], *, density: int, seed: int, decoder: str = "zxing",
        max_captures: int = 900, until_done: bool = True, **model: float) -> tuple[list[bytes], dict[str, int], Receiver]:
    plan = plan_stream(packets, density=density)
    screens = [to_image(qr_matrix(f, plan.version), scale=4) for f in plan.frames]
    rng = random.Random(seed)
    cam = SyntheticCamera(screens, CameraModel(seed=seed, **model),
                          start_frame=rng.randrange(len(screens)))
    dec = get_decoder(decoder)
    rx = Receiver(None)
    got: list[bytes] = []
    for i, img in enumerate(cam.captures(max_captures)):
        _, done = rx.feed_capture(dec.decode(img), i / 29.97)
        got += [d.packet for d in done]
        if until_done and rx.all_done():
            break
    return got, cam.stats, rx


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stream_completes_from_random_start(seed: int) -> None:
    pk = random.Random(seed).randbytes(9000)
    got, stats, rx = run([pk], density=25, seed=seed, max_captures=300)
    assert got == [pk]
    assert stats["dropped"] > 0 and stats["torn"] > 0  # the hard parts really happened
    assert rx.stats["new"] == 8  # K distinct frames sufficed


def test_batch_of_packets_completes() -> None:
    pks = [os.urandom(n) for n in (3000, 100, 4000)]
    got, _, _ = run(pks, density=20, seed=9, max_captures=600, blur=1.3)
    assert sorted(got) == sorted(pks)


def test_heavy_tearing_and_loss_never_yields_wrong_bytes() -> None:
    pk = os.urandom(5000)
    got, stats, rx = run([pk], density=25, seed=4, max_captures=250, drop=0.5, readout=0.06,
                         exposure=0.03, noise=8.0, jpeg_quality=50, until_done=False)
    assert got in ([], [pk])  # complete once at most, and only with the right bytes
    assert stats["torn"] > 20


@pytest.mark.skipif("zbar" not in available_decoders(), reason="libzbar not installed")
def test_stream_through_zbar() -> None:
    pk = os.urandom(4000)
    got, _, _ = run([pk], density=20, seed=5, decoder="zbar", max_captures=300, blur=0.8)
    assert got == [pk]


@slow
@pytest.mark.parametrize("density", [15, 20, 25, 30])
@pytest.mark.parametrize("seed", range(5))
def test_campaign(density: int, seed: int) -> None:
    pk = random.Random(seed).randbytes(60_000)
    got, _, rx = run([pk], density=density, seed=seed, max_captures=4000, blur=1.2)
    assert got == [pk]
    k = -(-60_000 // symbol_size_for_version(density))
    assert rx.stats["new"] <= k + 2
