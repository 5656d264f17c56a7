"""The public entry points (see ``sneakersync.media.qr``)."""

from __future__ import annotations

from typing import Any

from sneakersync.errors import UsageError
from sneakersync.media.qr.decoders import decode_image
from sneakersync.wire.qr_frame import DEFAULT_DENSITY, fingerprint
from sneakersync.media.qr.receiver import receive
from sneakersync.media.qr.render import encode_static, write_static_png
from sneakersync.media.qr.sender import frame_hold, plan_stream

__all__ = ["send", "receive", "encode_static", "write_static_png", "decode_image", "fingerprint"]


def send(packets: list[bytes], out: str, *, density: int = DEFAULT_DENSITY, fps: float = 10.0,
         loops: int = 1, title: str = "", repair_ratio: float = 1.0) -> dict[str, Any]:
    """Show or write ``packets`` as an animated QR stream.

    ``out``: a path ending ``.gif``/``.mp4``/``.html``, a folder path ending
    ``/`` (PNG frames), ``terminal`` or ``window``.  ``density`` is the QR
    version (15-40, ECC L).  ``loops``: passes of distinct frames written (files
    loop forever in players) or shown (terminal; window: 0 = until closed).
    Returns a summary: frames, version, symbol size, K and fingerprint per packet.
    """
    hold, eff = frame_hold(fps)
    plan = plan_stream([bytes(p) for p in packets], density=density, loops=loops,
                       repair_ratio=repair_ratio)
    summary = dict(plan.summary(), fps=eff, hold_refreshes_60hz=hold, out=out)
    lower = out.lower()
    if out == "terminal":
        from sneakersync.media.qr.outputs import play_terminal

        summary["shown"] = play_terminal(plan, fps=fps, loops=1, title=title)
    elif out == "window":
        from sneakersync.media.qr.window import play_window

        summary["shown"] = play_window(plan, fps=fps, loops=0, title=title)
    elif out.endswith(("/", "\\")):
        from sneakersync.media.qr.outputs import write_dir

        write_dir(plan, out, fps=fps)
    elif lower.endswith(".gif"):
        from sneakersync.media.qr.outputs import write_gif

        summary["fps"] = write_gif(plan, out, fps=fps)
    elif lower.endswith(".mp4"):
        from sneakersync.media.qr.outputs import write_mp4

        summary["fps"] = write_mp4(plan, out, fps=fps)
    elif lower.endswith((".html", ".htm")):
        from sneakersync.media.qr.html import write_html

        write_html(plan, out, fps=fps, title=title)
    else:
        raise UsageError(f"don't know how to write {out!r}",
                         hints=("use FILE.gif, FILE.mp4, FILE.html, DIR/, terminal or window",))
    return summary
