"""The browser's camera path, end to end: a card added and a packet received through
``getUserMedia`` in headless Chromium.

There is no camera on the build machines, so Chromium's fake capture device plays a
video file instead (``--use-file-for-fake-video-capture``).  The file is made here
from our own renderers: a colleague's identity card QR, then the animated QR stream
of a real packet that colleague built for this device.  Everything after the camera
is real: the page grabs frames, posts them to the local server, zxing-cpp decodes
them, the receiver reassembles the packet, it is imported, and an ack is shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import Device, recv
from sneakersync.store import home as home_mod
from sneakersync.store import peers
from ui_browser import Browser, need_chromium

pytest.importorskip("jinja2")
pytest.importorskip("zxingcpp")

W, H = 1280, 720


def write_y4m(path: Path, frames: list[Any], fps: int = 10) -> None:
    """Grayscale frames (uint8 arrays HxW) as a YUV4MPEG2 4:2:0 file (grey chroma)."""
    import numpy as np

    chroma = np.full((H // 2) * (W // 2), 128, dtype=np.uint8).tobytes()
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{W} H{H} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for f in frames:
            assert f.shape == (H, W)
            fh.write(b"FRAME\n" + np.ascontiguousarray(f, dtype=np.uint8).tobytes()
                     + chroma + chroma)


def card_frame(card_text: str) -> Any:
    import numpy as np

    from sneakersync.media.qr.card import _qr
    from sneakersync.media.qr.render import to_image

    m = np.array(_qr(card_text).matrix, dtype=bool)
    return to_image(m, width=W, height=H)


def stream_frames(packet: bytes) -> list[Any]:
    from sneakersync.media.qr.render import qr_matrix, to_image
    from sneakersync.media.qr.sender import plan_stream

    plan = plan_stream([packet], density=20)
    return [to_image(qr_matrix(f, plan.version), width=W, height=H) for f in plan.frames]


class Scene:
    def __init__(self, browser: Browser, running: Any, juma: Device, shots: Path) -> None:
        self.b = browser
        self.running = running
        self.juma = juma
        self.shots = shots

    def go(self, path: str) -> None:
        self.b.goto(self.running.base + path)

    def shot(self, name: str) -> None:
        self.b.artifact(self.shots, name)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    need_chromium()
    from sneakersync.sync.engine import build_export
    from sneakersync.ui.run import start
    from sneakersync.ui.session import Session

    work = tmp_path_factory.mktemp("cam")
    amina = home_mod.create(work / "amina", "Amina clinic laptop")
    juma = Device(home_mod.create(work / "juma", "Juma tablet"))
    peers.add(juma.store, amina.card.encode())  # Juma met Amina already
    juma.store.write_many("households", [(f"hh-{i}", {"head": f"Head {i}", "size": i % 7 + 1,
                                                      "village": f"Village {i * 7919 % 1000}"})
                                         for i in range(400)])
    out = build_export(juma.home, juma.store, [peers.by_id(juma.store, amina.device_id)],
                       pad_to=0)
    assert out is not None
    frames = [card_frame(juma.home.card.encode())] * 10 + stream_frames(out.data)
    video = work / "camera.y4m"
    write_y4m(video, frames)
    running = start(Session(work / "amina"))
    browser = Browser(work, camera_file=video)
    try:
        browser.goto(running.url)
        yield Scene(browser, running, juma, work / "screenshots")
    finally:
        browser.close()
        running.stop()
        juma.close()


def test_add_a_colleague_by_pointing_the_camera_at_their_card(scene: Scene) -> None:
    b = scene.b
    scene.go("/people/scan")
    b.wait("document.querySelector('[data-camera]').dataset.state === 'found'",
           "the card to be read through the camera", deadline=90)
    assert b.text("#found-name") == "Juma tablet"
    assert b.text("#found-id") == scene.juma.id
    scene.shot("people-scan")
    b.click("#add")
    assert "/people/peer?id=" in b.url()
    b.click("#match")
    with scene.running.session.store() as st:
        p = peers.by_id(st, scene.juma.id)
        assert p is not None and p.verified and p.card == scene.juma.home.card.encode()


def test_receive_a_packet_through_the_camera_and_show_the_ack(scene: Scene) -> None:
    from sneakersync.media.qr import decode_image

    b = scene.b
    with scene.running.session.store() as st:
        if peers.by_id(st, scene.juma.id) is None:  # this test may run on its own
            peers.add(st, scene.juma.home.card.encode())
    scene.go("/qr/receive")
    b.wait("document.querySelector('[data-camera]').dataset.state === 'done'",
           "the QR stream to be received through the camera", deadline=120)
    report = b.text("#rx-report")
    assert "From Juma tablet: 1 packet, 400 changes applied." in report, report
    assert int(b.text("#rx-seen")) >= int(b.text("#rx-k")) > 0
    b.wait("document.querySelector('#rx-ack').naturalWidth > 0", "the ack QR to load")
    scene.shot("qr-receive")
    with scene.running.session.store() as st:
        assert len(list(st.rows("households"))) == 400
    # the ack shown on screen is a packet Juma's device accepts: it then knows what arrived
    png = scene.shots / "ack.png"
    png.write_bytes(scene.running.session.scratch["ack"])
    (ack,) = decode_image(png)
    rep = recv(scene.juma, ack)
    assert rep.imported == 1 and not rep.rejected
    from sneakersync.sync.engine import build_export

    amina = peers.by_id(scene.juma.store, scene.running.session.home.device_id)
    assert build_export(scene.juma.home, scene.juma.store, [amina]) is None  # nothing left
