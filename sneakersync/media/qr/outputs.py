"""Sender outputs: GIF, MP4, PNG folder, terminal.  (HTML: ``html.py``; window: ``window.py``.)"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from sneakersync.errors import MediaError, missing_extra
from sneakersync.store.durable import atomic_write, fsync_dir
from sneakersync.media.qr.render import qr_matrix, to_image
from sneakersync.media.qr.sender import StreamPlan, frame_hold

VIDEO_SIZE = (1280, 720)


def frame_images(plan: StreamPlan, *, scale: int | None = None,
                 size: tuple[int, int] | None = None) -> Any:
    """Grayscale frames (numpy) in plan order, rendered lazily."""
    for data in plan.frames:
        m = qr_matrix(data, plan.version)
        if size:
            yield to_image(m, width=size[0], height=size[1])
        else:
            yield to_image(m, scale=scale or 4)


def write_dir(plan: StreamPlan, folder: str | os.PathLike[str], *, fps: float = 10.0,
              scale: int = 4) -> list[Path]:
    """``frame-000000.png`` ... plus ``stream.json`` (the plan summary, no content)."""
    import cv2

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(frame_images(plan, scale=scale)):
        ok, png = cv2.imencode(".png", img)
        if not ok:  # pragma: no cover
            raise MediaError("PNG encoding failed")
        p = folder / f"frame-{i:06d}.png"
        atomic_write(p, png.tobytes())
        paths.append(p)
    meta = dict(plan.summary(), fps=frame_hold(fps)[1])
    atomic_write(folder / "stream.json", json.dumps(meta, indent=1).encode())
    return paths


def write_gif(plan: StreamPlan, path: str | os.PathLike[str], *, fps: float = 10.0,
              scale: int = 4) -> float:
    """Animated GIF looping forever; returns the fps it really plays at."""
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover
        raise missing_extra("qr", "PIL") from exc
    import io

    _, eff = frame_hold(fps)
    duration = max(20, round(100 / eff) * 10)  # GIF delays are whole centiseconds
    ims = [Image.fromarray(a).convert("P") for a in frame_images(plan, scale=scale)]
    buf = io.BytesIO()
    ims[0].save(buf, format="GIF", save_all=True, append_images=ims[1:], duration=duration,
                loop=0, optimize=False, disposal=1)
    atomic_write(path, buf.getvalue())
    return 1000 / duration


def write_mp4(plan: StreamPlan, path: str | os.PathLike[str], *, fps: float = 10.0,
              size: tuple[int, int] = VIDEO_SIZE) -> float:
    """H.264 MP4 at ``size`` with near-lossless quality; returns the fps used."""
    try:
        import imageio.v2 as iio
    except ImportError as exc:  # pragma: no cover
        raise missing_extra("qr", "imageio") from exc
    _, eff = frame_hold(fps)
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    writer = iio.get_writer(str(tmp), fps=eff, codec="libx264", quality=None,
                            macro_block_size=16, pixelformat="yuv420p",
                            output_params=["-crf", "20", "-preset", "veryfast"],
                            ffmpeg_log_level="error")
    try:
        for img in frame_images(plan, size=size):
            writer.append_data(img)
    finally:
        writer.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return eff


# --- terminal: two modules per character cell with half blocks -----------------

_LIGHT_ON_DARK = "\x1b[97;40m"
_RESET = "\x1b[0m"


def terminal_text(matrix: Any, *, quiet: int = 2, color: bool = True) -> str:
    """Unicode half-block rendering: each cell shows two modules stacked.

    The foreground is the *light* colour, so ``█`` = both light, ``▀`` = top
    light, ``▄`` = bottom light, space = both dark.  Colours are set
    explicitly so dark terminal themes don't invert the code.
    """
    import numpy as np

    m = np.pad(np.asarray(matrix, dtype=bool), quiet, constant_values=False)
    if m.shape[0] % 2:
        m = np.pad(m, ((0, 1), (0, 0)), constant_values=False)
    light = ~m
    chars = np.array([" ", "▄", "▀", "█"])
    idx = light[0::2].astype(np.uint8) * 2 + light[1::2].astype(np.uint8)
    lines = ["".join(row) for row in chars[idx]]
    if color:
        lines = [_LIGHT_ON_DARK + line + _RESET for line in lines]
    return "\n".join(lines)


TERMINAL_QUIET = 2  # modules of quiet zone around a code drawn in the terminal
TERMINAL_STATUS_LINES = 2  # the status line under the code, and the cursor's line


def terminal_needs(version: int, *, quiet: int = TERMINAL_QUIET) -> tuple[int, int]:
    """Columns and lines a code of ``version`` takes in the terminal (two modules a cell)."""
    side = 17 + 4 * version + 2 * quiet
    return side, (side + 1) // 2 + TERMINAL_STATUS_LINES


def terminal_version(columns: int, lines: int, *, quiet: int = TERMINAL_QUIET) -> int | None:
    """The largest QR version a stream may use in a ``columns`` x ``lines`` terminal
    (None: not even the smallest fits, and drawing would wrap into garbage)."""
    from sneakersync.wire.qr_frame import MAX_DENSITY, MIN_DENSITY

    best = None
    for v in range(MIN_DENSITY, MAX_DENSITY + 1):
        cols, rows = terminal_needs(v, quiet=quiet)
        if cols <= columns and rows <= lines:
            best = v
    return best


def parse_terminal_text(text: str) -> Any:
    """Inverse of :func:`terminal_text` (dark = True); used by tests."""
    import numpy as np

    rows = []
    for line in text.replace(_LIGHT_ON_DARK, "").replace(_RESET, "").split("\n"):
        top = [c in "▀█" for c in line]
        bottom = [c in "▄█" for c in line]
        rows += [top, bottom]
    return ~np.array(rows, dtype=bool)


def play_terminal(plan: StreamPlan, *, fps: float = 10.0, loops: int = 1, title: str = "",
                  out: IO[str] | None = None) -> int:
    """Show frames in the terminal (cursor-home redraws); Ctrl-C stops. Returns frames shown."""
    out = out or sys.stdout
    if out is sys.stdout and out.isatty():
        import shutil

        size = shutil.get_terminal_size()
        cols, rows = terminal_needs(plan.version)
        if cols > size.columns or rows > size.lines:
            from sneakersync.errors import UsageError

            raise UsageError(f"QR version {plan.version} needs {cols}x{rows} characters; this "
                             f"terminal is {size.columns}x{size.lines}",
                             hints=("enlarge the window or pick a smaller --density",))
    _, eff = frame_hold(fps)
    period = 1.0 / eff
    shown = 0
    n = len(plan.frames)
    out.write("\x1b[2J")
    deadline = time.monotonic()
    try:
        for lap in range(max(1, loops)):
            for i, data in enumerate(plan.frames):
                pk = plan.packets[plan.packet_of[i]]
                text = terminal_text(qr_matrix(data, plan.version))
                out.write(f"\x1b[H{text}\n{title} packet {pk.index + 1}/{len(plan.packets)} "
                          f"{pk.fingerprint}  frame {i + 1}/{n}  loop {lap + 1}\x1b[K\n")
                out.flush()
                shown += 1
                # advance only after a frame is shown; never skip frames
                deadline = max(deadline + period, time.monotonic())
                time.sleep(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    return shown
