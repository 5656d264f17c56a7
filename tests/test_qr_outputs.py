"""send() to every output, receive() back from files and folders; the window's logic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("raptorq")
pytest.importorskip("cv2")

from sneakersync.errors import NotFoundError, UsageError  # noqa: E402
from sneakersync.media.qr import Progress, fingerprint, receive, send  # noqa: E402
from sneakersync.media.qr.sender import frame_hold  # noqa: E402
from sneakersync.media.qr.window import Player, has_display  # noqa: E402

PACKETS = [os.urandom(2500), os.urandom(40), os.urandom(1200)]


@pytest.fixture(scope="module")
def outdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qr-out")


@pytest.mark.parametrize("name", ["s.gif", "s.mp4", "frames/"])
def test_send_then_receive(outdir: Path, name: str) -> None:
    out = str(outdir / name) + ("/" if name.endswith("/") else "")
    summary = send(PACKETS, out, density=15, fps=12)
    assert summary["version"] == 15 and summary["symbol_size"] == 488
    assert summary["k"] == [6, 1, 3]
    assert summary["fingerprints"] == [fingerprint(p) for p in PACKETS]
    assert summary["fps"] in (12.0, 12.5)
    src = f"frames:{out}" if name.endswith("/") else f"video:{out}"
    seen: list[Progress] = []
    got = list(receive(src, state_dir=outdir / f"state-{name.strip('/')}", on_progress=seen.append))
    assert sorted(g.packet for g in got) == sorted(PACKETS)
    assert {g.fingerprint for g in got} == set(summary["fingerprints"])
    assert seen and {p.status for p in seen} <= {"new", "duplicate", "bad", "none"}
    assert sorted((g.index, g.count) for g in got) == [(0, 3), (1, 3), (2, 3)]


def test_receive_resumes_from_a_partial_showing(outdir: Path) -> None:
    import shutil

    pk = os.urandom(6000)
    full = outdir / "resume-full"
    send([pk], str(full) + "/", density=15)
    frames = sorted(full.glob("frame-*.png"))
    k = 13
    first, second = outdir / "resume-a", outdir / "resume-b"
    first.mkdir()
    second.mkdir()
    for f in frames[:8]:
        shutil.copy(f, first)
    for f in frames[8 + 5:]:  # the next showing, seen from a later point
        shutil.copy(f, second)
    state = outdir / "resume-state"
    assert list(receive(f"frames:{first}", state_dir=state)) == []
    progress: list[Progress] = []
    got = list(receive(f"frames:{second}", state_dir=state, on_progress=progress.append))
    assert [g.packet for g in got] == [pk]
    assert progress[0].received == 9 and progress[-1].needed == k  # 8 resumed + 1


def test_html_output(outdir: Path) -> None:
    s = send(PACKETS, str(outdir / "s.html"), title="batch")
    page = (outdir / "s.html").read_text()
    assert s["frames"] > 0 and "batch" in page and s["fingerprints"][0] in page


def test_send_usage_errors(outdir: Path) -> None:
    with pytest.raises(UsageError):
        send(PACKETS, str(outdir / "x.avi"))
    with pytest.raises(UsageError):
        send(PACKETS, str(outdir / "x.gif"), density=50)
    with pytest.raises(UsageError):
        send(PACKETS, str(outdir / "x.gif"), fps=0)
    with pytest.raises(UsageError):
        send([b""], str(outdir / "x.gif"))
    with pytest.raises(UsageError):
        list(receive("ftp:x", state_dir=outdir / "st"))
    with pytest.raises(NotFoundError):
        list(receive(f"video:{outdir / 'missing.mp4'}", state_dir=outdir / "st"))


def test_frame_hold() -> None:
    assert frame_hold(10) == (6, 10.0)
    assert frame_hold(12) == (5, 12.0)
    assert frame_hold(11) == (5, 12.0)
    assert frame_hold(15, 60) == (4, 15.0)


def test_player_state_machine() -> None:
    p = Player(5, fps=10, loops=1)
    for _ in range(3):
        p.advance()
    assert p.index == 3 and p.shown == 3
    p.key("space")
    p.advance()
    assert p.index == 3 and p.paused
    p.key("Right")
    assert p.index == 4
    p.key("Left")
    p.key("Left")
    assert p.index == 2
    p.key("plus")
    assert p.fps == 11
    p.key("space")
    p.advance()
    p.advance()
    assert p.finished
    q = Player(3)
    q.key("Escape")
    assert q.finished


@pytest.mark.skipif(not has_display(), reason="no display")
def test_window_opens_and_closes() -> None:  # pragma: no cover - needs a display
    from sneakersync.media.qr.sender import plan_stream
    from sneakersync.media.qr.window import play_window

    plan = plan_stream([b"hello"], density=15)
    assert play_window(plan, fps=30, loops=1, fullscreen=False) >= len(plan.frames)
