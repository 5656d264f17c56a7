"""Full-screen Tk window that plays a QR stream (standard library only).

:class:`Player` is the display state machine (no Tk, testable headless);
:func:`play_window` is the thin Tk shell.  Keys: space = pause/play,
Right/Left = step, +/- = speed, Escape or q = close.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from sneakersync.errors import MediaError
from sneakersync.media.qr.sender import StreamPlan, frame_hold


@dataclass
class Player:
    n_frames: int
    fps: float = 10.0
    loops: int = 0  # 0 = until closed
    index: int = 0
    paused: bool = False
    shown: int = 0
    closed: bool = False

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

    def show() -> None:
        if player.finished:
            root.destroy()
            return
        started = time.monotonic()
        i = player.index
        img = to_image(qr_matrix(plan.frames[i], plan.version), width=w, height=h)
        ph = tk.PhotoImage(data=_pgm(img), format="PPM")
        photo[:] = [ph]
        label.configure(image=ph)
        pk = plan.packets[plan.packet_of[i]]
        state = "paused" if player.paused else f"{frame_hold(player.fps)[1]:.1f} fps"
        info.configure(text=f"{title}  packet {pk.index + 1}/{len(plan.packets)}  "
                            f"fingerprint {pk.fingerprint}  frame {i + 1}/{player.n_frames}  "
                            f"shown {player.shown}  {state}")
        root.update_idletasks()
        player.advance()
        delay = player.period - (time.monotonic() - started)
        root.after(max(1, int(delay * 1000)), show)

    def on_key(event: Any) -> None:
        player.key(event.keysym)

    root.bind("<Key>", on_key)
    root.after(0, show)
    root.mainloop()
    return player.shown
