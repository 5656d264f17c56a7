"""Full-screen Tk window that plays a QR stream (standard library only).

:class:`Player` is the display state machine (no Tk, testable headless);
:func:`play_window` is the thin Tk shell.  Keys: space = pause/play,
Right/Left = step, +/- = speed, Escape or q = close.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from sneakersync.errors import MediaError
from sneakersync.media.qr.sender import StreamPlan, frame_hold

RATE_WINDOW = 20  # frames over which the shown rate is measured
PRERENDER_BUDGET = 256 << 20  # bytes of frames rendered ahead of showing


@dataclass
class Player:
    n_frames: int
    fps: float = 10.0
    loops: int = 0  # 0 = until closed
    index: int = 0
    paused: bool = False
    shown: int = 0
    closed: bool = False
    stamps: list[float] = field(default_factory=list)  # when the last frames were shown

    def record(self, now: float) -> None:
        """Note that a frame reached the screen at ``now`` (for the true rate)."""
        self.stamps.append(now)
        del self.stamps[:-RATE_WINDOW]

    @property
    def measured_fps(self) -> float | None:
        """Frames per second really shown, over the last frames (None: too few yet)."""
        if len(self.stamps) < 3 or self.stamps[-1] <= self.stamps[0]:
            return None
        return (len(self.stamps) - 1) / (self.stamps[-1] - self.stamps[0])

    def rate_text(self) -> str:
        if self.paused:
            return "paused"
        asked = frame_hold(self.fps)[1]
        real = self.measured_fps
        if real is None:
            return f"asked {asked:.1f} fps"
        slow = "  (this screen cannot keep up: try --fps lower)" if real < 0.9 * asked else ""
        return f"showing {real:.1f} fps (asked {asked:.1f}){slow}"

    @property
    def period(self) -> float:
        return 1.0 / frame_hold(self.fps)[1]

    @property
    def finished(self) -> bool:
        return self.closed or (self.loops > 0 and self.shown >= self.loops * self.n_frames)

    def advance(self) -> None:
        """Called after a frame has really been shown (never on a timer alone)."""
        if not self.paused:
            self.shown += 1
            self.index = (self.index + 1) % self.n_frames

    def key(self, name: str) -> None:
        if name in ("space", " "):
            self.paused = not self.paused
        elif name in ("Right", "Left"):
            self.paused = True
            step = 1 if name == "Right" else -1
            self.index = (self.index + step) % self.n_frames
        elif name in ("plus", "equal", "+"):
            self.fps = min(30.0, self.fps + 1)
        elif name in ("minus", "-"):
            self.fps = max(1.0, self.fps - 1)
        elif name in ("Escape", "q"):
            self.closed = True


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"


def _pgm(img: Any) -> bytes:
    h, w = img.shape
    return b"P5 %d %d 255\n" % (w, h) + img.tobytes()


def prerender(plan: StreamPlan, width: int, height: int, *,
              budget: int = PRERENDER_BUDGET) -> list[bytes | None]:
    """Every frame as PGM bytes for Tk, rendered before the show starts, so the rate is
    the screen's and not the renderer's.  Frames past ``budget`` bytes stay None (they
    are rendered when shown, and kept)."""
    from sneakersync.media.qr.render import qr_matrix, to_image

    out: list[bytes | None] = []
    used = 0
    for data in plan.frames:
        if used + width * height > budget:
            out.append(None)
            continue
        out.append(_pgm(to_image(qr_matrix(data, plan.version), width=width, height=height)))
        used += width * height
    return out


def play_window(plan: StreamPlan, *, fps: float = 10.0, loops: int = 0, title: str = "",
                fullscreen: bool = True) -> int:
    """Show the stream in a window until closed (or ``loops`` passes); returns frames shown."""
    try:
        import tkinter as tk
    except ImportError as exc:  # pragma: no cover
        raise MediaError("no Tk available: use an .html output instead") from exc
    from sneakersync.media.qr.render import qr_matrix, to_image

    try:
        root = tk.Tk()
    except tk.TclError as exc:
        raise MediaError(f"cannot open a window: {exc}",
                         hints=("no display? write an .html or .mp4 instead",)) from exc
    root.title(title or "sneakersync QR stream")
    root.configure(bg="white")
    if fullscreen:
        root.attributes("-fullscreen", True)
    player = Player(len(plan.frames), fps=fps, loops=loops)
    label = tk.Label(root, bg="white")
    label.pack(expand=True)
    info = tk.Label(root, bg="white", font=("TkFixedFont", 16))
    info.pack(side="bottom", pady=8)
    root.update_idletasks()
    w = root.winfo_screenwidth() if fullscreen else 900
    h = (root.winfo_screenheight() if fullscreen else 900) - 80
    photo: list[Any] = []  # keep a reference, Tk does not
    info.configure(text=f"preparing {len(plan.frames)} frames ...")
    root.update()
    frames = prerender(plan, w, h)

    def show() -> None:
        if player.finished:
            root.destroy()
            return
        started = time.monotonic()
        i = player.index
        if frames[i] is None:
            frames[i] = _pgm(to_image(qr_matrix(plan.frames[i], plan.version), width=w,
                                      height=h))
        ph = tk.PhotoImage(data=frames[i], format="PPM")
        photo[:] = [ph]
        label.configure(image=ph)
        pk = plan.packets[plan.packet_of[i]]
        info.configure(text=f"{title}  packet {pk.index + 1}/{len(plan.packets)}  "
                            f"fingerprint {pk.fingerprint}  frame {i + 1}/{player.n_frames}  "
                            f"shown {player.shown}  {player.rate_text()}")
        root.update_idletasks()
        player.record(time.monotonic())
        player.advance()
        delay = player.period - (time.monotonic() - started)
        root.after(max(1, int(delay * 1000)), show)

    def on_key(event: Any) -> None:
        player.key(event.keysym)

    root.bind("<Key>", on_key)
    root.after(0, show)
    root.mainloop()
    return player.shown
