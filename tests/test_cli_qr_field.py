"""QR paths as a user walks them (issue 14): the ack as a first-class input, a stream that
never completes, a terminal too small, and the Tk window's true rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("raptorq")
pytest.importorskip("zxingcpp")

from cli_runner import card, invoke, ok  # noqa: E402


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "amina", tmp_path / "juma"
    ok(a, "init", "--name", "Amina")
    ok(b, "init", "--name", "Juma tablet")
    ok(a, "peer", "add", card(b))
    ok(b, "peer", "add", card(a))
    ok(a, "put", "people", '{"name": "Asha"}', "--id", "p1")
    return a, b


def _handover(tmp_path: Path, a: Path, b: Path) -> Path:
    gif = tmp_path / "handover.gif"
    ok(a, "qr", "send", "--out", str(gif))
    ack = tmp_path / "ack.png"
    r = ok(b, "qr", "receive", "--video", str(gif), "--ack-out", str(ack))
    assert "1 packet: 1 new" in r.out and ack.exists()
    return ack


def test_ack_is_taken_from_an_image_any_time_later(tmp_path: Path, pair: tuple[Path, Path]
                                                   ) -> None:
    a, b = pair
    ack = _handover(tmp_path, a, b)
    r = ok(a, "qr", "ack", str(ack))
    assert "ack from Juma tablet taken" in r.out and "{" not in r.out
    assert "already taken" in ok(a, "qr", "ack", str(ack)).out
    # the sender now knows: nothing left to send
    assert ok(a, "qr", "send", "--out", str(tmp_path / "again.gif"), "--json").json()[
        "packets"] == 0


def test_await_ack_prints_words_not_a_dict(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    a, b = pair
    ack = _handover(tmp_path, a, b)
    ok(a, "put", "people", '{"name": "Baraka"}', "--id", "p2")
    r = ok(a, "qr", "send", "--out", str(tmp_path / "s2.gif"), "--await-ack",
           "--ack-image", str(ack))
    assert "ack from Juma tablet taken" in r.out
    assert "{" not in r.out and "imported" not in r.out


def test_qr_receive_takes_an_ack_it_is_shown(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    a, b = pair
    ack = _handover(tmp_path, a, b)
    folder = tmp_path / "camera"
    folder.mkdir()
    (folder / "shot.png").write_bytes(ack.read_bytes())
    r = ok(a, "qr", "receive", "--frames", str(folder), "--json")
    assert r.json()["acks"] == 1 and r.json()["imported"] == 1


def test_ack_from_a_camera_source_goes_through_the_ack_reader(tmp_path: Path,
                                                              pair: tuple[Path, Path]) -> None:
    """`--camera N` reads frames like `--frames DIR` does (no camera here: a folder of the
    frames a camera would deliver stands in for it)."""
    a, b = pair
    ack = _handover(tmp_path, a, b)
    folder = tmp_path / "shots"
    folder.mkdir()
    (folder / "0001.png").write_bytes((tmp_path / "amina" / "store.db").read_bytes()[:64])
    (folder / "0002.png").write_bytes(ack.read_bytes())
    assert "ack from Juma tablet taken" in ok(a, "qr", "ack", "--frames", str(folder)).out


def test_qr_receive_that_decodes_nothing_fails(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    a, _ = pair
    folder = tmp_path / "blank"
    folder.mkdir()
    import numpy as np
    import cv2

    cv2.imwrite(str(folder / "white.png"), np.full((200, 200), 255, dtype=np.uint8))
    r = invoke(a, "qr", "receive", "--frames", str(folder))
    assert r.code == 3 and r.err.startswith("sneakersync: error: no complete packet")
    assert "hint:" in r.err
    r = invoke(a, "qr", "ack", str(folder / "white.png"))
    assert r.code == 3 and "no ack QR code" in r.err


def test_terminal_too_small_is_refused_and_a_fitting_version_is_chosen(
        tmp_path: Path, pair: tuple[Path, Path]) -> None:
    a, _ = pair
    r = invoke(a, "qr", "send", "--out", "terminal", env={"COLUMNS": "80", "LINES": "24"})
    assert r.code == 2 and "too small" in r.err and "81x43" in r.err and "--out window" in r.err
    r = invoke(a, "qr", "send", "--out", "terminal", "--density", "25",
               env={"COLUMNS": "120", "LINES": "50"})
    assert r.code == 2 and "--density 18" in r.err
    got = ok(a, "qr", "send", "--out", "terminal", "--json", "--fps", "30",
             env={"COLUMNS": "120", "LINES": "50"})
    summary = json.loads(got.out.strip().splitlines()[-1])
    assert summary["version"] == 18
    from sneakersync.media.qr.outputs import terminal_needs

    assert terminal_needs(18) <= (120, 50)
    width = max(len(line.replace("\x1b[97;40m", "").replace("\x1b[0m", ""))
                for line in got.out.splitlines()[:-1] if "\u2580" in line or "\u2584" in line
                or "\u2588" in line)
    assert width <= 120


def test_window_prerenders_and_reports_the_rate_it_really_shows() -> None:
    from sneakersync.media.qr.render import qr_matrix, to_image
    from sneakersync.media.qr.sender import plan_stream
    from sneakersync.media.qr.window import Player, _pgm, prerender

    plan = plan_stream([bytes(range(256)) * 20], density=15)
    frames = prerender(plan, 300, 300)
    assert len(frames) == len(plan.frames)
    assert frames[0] == _pgm(to_image(qr_matrix(plan.frames[0], plan.version), width=300,
                                      height=300))
    assert prerender(plan, 300, 300, budget=300 * 300)[1:] == [None] * (len(plan.frames) - 1)
    p = Player(len(plan.frames), fps=10.0)
    assert p.rate_text() == "asked 10.0 fps"
    for i in range(10):  # a screen that manages one frame every 67 ms
        p.record(i * 0.067)
        p.advance()
    assert p.measured_fps is not None and abs(p.measured_fps - 1 / 0.067) < 0.01
    assert p.rate_text().startswith("showing 14.9 fps")
    p.stamps.clear()
    for i in range(10):
        p.record(i * 0.17)
    assert "cannot keep up" in p.rate_text() and "showing 5.9 fps" in p.rate_text()
