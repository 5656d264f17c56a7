"""`qr send` / `qr receive`: packets as an animated QR stream (the [qr] extra)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sneakersync.cli.app import Ctx, cli, emit_json, json_option, pass_ctx
from sneakersync.errors import FormatError, NotFoundError, UsageError, missing_extra


def _qr() -> Any:
    try:
        import sneakersync.media.qr as qr
        import raptorq  # noqa: F401
        import zxingcpp  # noqa: F401
    except ImportError as exc:
        raise missing_extra("qr", getattr(exc, "name", None) or "raptorq") from exc
    return qr


@cli.group()
def qr() -> None:
    """Send packets as an animated QR code stream, screen to camera.

    Example: sneakersync qr send --to "Juma tablet" --out handover.html
    """


@qr.command("send")
@click.option("--to", "to", multiple=True, help="Peer name (repeatable). Default: every peer.")
@click.option("--out", default="window", show_default=True,
              help="window | terminal | FILE.gif | FILE.mp4 | FILE.html | DIR/")
@click.option("--density", type=click.IntRange(15, 40), default=25, show_default=True,
              help="QR version: bigger holds more per frame but needs a steadier camera "
                   "(terminal: the largest that fits, unless given).")
@click.option("--fps", type=click.FloatRange(1, 30), default=10.0, show_default=True,
              help="Frames per second (keep below the camera's rate).")
@click.option("--full", is_flag=True, help="Send everything, not only what peers lack.")
@click.option("--await-ack", is_flag=True,
              help="After showing, take the receiver's ack QR (with --camera, or --ack-image).")
@click.option("--camera", type=int, help="Camera index to read the ack from.")
@click.option("--ack-image", type=click.Path(path_type=Path),
              help="Read the ack from a photo or screenshot of the receiver's ack QR.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for the ack on a camera.")
@json_option
@click.pass_context
def qr_send(ctx: click.Context, to: tuple[str, ...], out: str, density: int, fps: float,
            full: bool, await_ack: bool, camera: int | None, ack_image: Path | None,
            timeout: float, as_json: bool) -> None:
    """Show (or write) the packet for peers as a QR stream.

    The stream carries exactly what `export` would write; the receiver's
    `qr receive` imports it the same way. The receiver's ack (one QR code it
    shows or saves) can be taken right after (--await-ack --camera N, or
    --ack-image FILE), or any time later with `qr ack`.

    Example: sneakersync qr send --to "Juma tablet" --out handover.html

    Example: sneakersync qr send --to "Juma tablet" --out window --await-ack --camera 0
    """
    c: Ctx = ctx.obj
    qrmod = _qr()
    from sneakersync.sync.exchange import fingerprint, pick_recipients
    from sneakersync.sync.engine import build_exports

    if await_ack and camera is None and ack_image is None:
        raise UsageError("--await-ack needs --camera N or --ack-image FILE")
    if out == "terminal":
        density = _terminal_density(density, ctx.get_parameter_source("density"))
    recipients = pick_recipients(c.store, list(to))
    pks = build_exports(c.home, c.store, recipients, full=full, pad_to=0)
    if not pks:
        res: dict[str, Any] = {"packets": 0, "frames": 0}
        emit_json(res) if as_json else c.say("nothing to send: peers already have everything")
        return
    if not as_json and out not in ("window", "terminal"):
        for pk in pks:
            c.say(f"packet {fingerprint(pk.packet_id)}: {len(pk.data):,} bytes, "
                  f"{pk.changes} changes, for {', '.join(p.name for p in pk.recipients)}")
    summary = qrmod.send([pk.data for pk in pks], out, density=density, fps=fps,
                         title=f"sneakersync → {', '.join(p.name for p in recipients)}")
    summary["packet_fingerprints"] = [fingerprint(pk.packet_id) for pk in pks]
    summary["changes"] = sum(pk.changes for pk in pks)
    if not as_json:
        c.say(f"{summary.get('frames', '?')} frames (QR version {summary.get('version', '?')}) "
              f"written to {out}" if out not in ("window", "terminal") else
              f"shown: {summary.get('shown', '?')} frames")
    if await_ack or ack_image is not None:
        source = f"image:{ack_image}" if ack_image is not None else f"camera:{camera}"
        summary["ack"] = take_ack(c, source, timeout=timeout, as_json=as_json)
    if as_json:
        emit_json({k: v for k, v in summary.items() if _jsonable(v)})


def _terminal_density(density: int, source: Any) -> int:
    """The QR version for this terminal: the one asked for if it fits, else the largest
    that fits; refuse (with the size needed) when none does."""
    import shutil

    from sneakersync.media.qr.outputs import terminal_needs, terminal_version

    size = shutil.get_terminal_size(fallback=(80, 24))
    fits = terminal_version(size.columns, size.lines)
    given = source is not None and source.name == "COMMANDLINE"
    if fits is None:
        cols, lines = terminal_needs(15)
        raise UsageError(f"this terminal ({size.columns}x{size.lines}) is too small for a QR "
                         f"stream: it needs at least {cols}x{lines} characters",
                         hints=("enlarge the window or use a smaller font, then try again",
                                "or show it elsewhere: --out window, or --out FILE.html on a "
                                "phone or laptop"))
    if given and density > fits:
        cols, lines = terminal_needs(density)
        raise UsageError(f"QR version {density} needs {cols}x{lines} characters; this "
                         f"terminal is {size.columns}x{size.lines}",
                         hints=(f"use --density {fits} (the largest that fits here), or "
                                "enlarge the window",))
    return density if given else fits


def _jsonable(v: Any) -> bool:
    import json

    try:
        json.dumps(v)
        return True
    except TypeError:
        return False


def take_ack(c: Ctx, source: str, *, timeout: float | None, as_json: bool) -> dict[str, Any]:
    """Read the receiver's ack (one QR code) from an image or a camera and apply it.

    ``source``: ``image:FILE``, ``camera:N``, ``frames:DIR`` or ``video:FILE``.
    """
    qrmod = _qr()
    from sneakersync.sync.engine import ImportReport, import_packet
    from sneakersync.sync.status import device_names

    kind, _, rest = source.partition(":")
    payloads: list[bytes] = []
    if kind == "image":
        payloads = [p for p in qrmod.decode_image(Path(rest)) if p.startswith(b"age-")]
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for got in qrmod.receive(source, state_dir=Path(tmp), timeout=timeout):
                if got.static:
                    payloads.append(got.packet)
                    break
    if not payloads:
        raise NotFoundError(f"no ack QR code found in {rest if kind == 'image' else source}",
                            hints=("the ack is the single QR code `qr receive --ack-out` "
                                   "writes (or shows): photograph it flat and sharp",))
    rep = ImportReport()
    for data in payloads:
        import_packet(c.home, c.store, data, rep, name="ack")
    if rep.imported == 0:
        why = rep.rejected[0]["error"] if rep.rejected else (
            "already taken" if rep.duplicates else "not addressed to this device")
        if rep.duplicates and not rep.rejected:
            if not as_json:
                c.say("this ack was already taken: nothing new")
            return {"taken": False, "already": True}
        raise FormatError(f"the QR code is not an ack for this device ({why})",
                          hints=("check it is the ack of the receiver you sent to",))
    names = device_names(c.home, c.store)
    senders = [names.get(a["sender"], a["sender"]) for a in rep.as_json().get("arrived", [])]
    who = ", ".join(senders) or "the receiver"
    info = {"taken": True, "from": senders, "changes": rep.changes_applied}
    if not as_json:
        c.say(f"ack from {who} taken: this device now knows what it holds, so the next "
              "export or QR stream to it carries only what it still lacks")
    return info


@qr.command("ack")
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.option("--camera", type=int, help="Read the ack from camera N.")
@click.option("--video", type=click.Path(path_type=Path), help="Read it from a video file.")
@click.option("--frames", type=click.Path(path_type=Path), help="Read it from a folder of images.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait on a camera.")
@json_option
@pass_ctx
def qr_ack(c: Ctx, image: Path | None, camera: int | None, video: Path | None,
           frames: Path | None, timeout: float, as_json: bool) -> None:
    """Take the receiver's ack QR: it says which packets arrived and what it holds.

    Any time after a `qr send` (the ack is an ordinary small packet, so it
    keeps). From a photo or screenshot, a camera, a video or a folder of images.

    Example: sneakersync qr ack ack.png

    Example: sneakersync qr ack --camera 0
    """
    sources = [s for s in (image is not None and f"image:{image}",
                           camera is not None and f"camera:{camera}",
                           video is not None and f"video:{video}",
                           frames is not None and f"frames:{frames}") if s]
    if len(sources) != 1:
        raise UsageError("give exactly one of IMAGE, --camera N, --video FILE, --frames DIR")
    res = take_ack(c, str(sources[0]), timeout=timeout, as_json=as_json)
    if as_json:
        emit_json(res)


@qr.command("receive")
@click.option("--camera", type=int, help="Camera index (0 is the first camera).")
@click.option("--video", type=click.Path(path_type=Path), help="Read a recorded video file.")
@click.option("--frames", type=click.Path(path_type=Path), help="Read a folder of images.")
@click.option("--timeout", type=float, help="Give up after S seconds.")
@click.option("--ack-out", type=click.Path(path_type=Path),
              help="Write an ack QR (PNG) for the sender to scan.")
@json_option
@pass_ctx
def qr_receive(c: Ctx, camera: int | None, video: Path | None, frames: Path | None,
               timeout: float | None, ack_out: Path | None, as_json: bool) -> None:
    """Read a QR stream and import every packet in it, like a stick.

    Progress (frames / needed, rate, time left) is shown as it goes; partial
    progress is kept, so an interrupted transfer resumes on the next showing.
    An ack QR seen on the way (from a device this one sent to) is taken too.
    Exits 3 when no complete packet was seen.

    Example: sneakersync qr receive --video handover.mp4 --ack-out ack.png
    """
    qrmod = _qr()
    from sneakersync.sync.engine import ImportReport, import_packet

    sources = [s for s in (camera is not None and f"camera:{camera}",
                           video and f"video:{video}", frames and f"frames:{frames}") if s]
    if len(sources) != 1:
        raise UsageError("give exactly one of --camera N, --video FILE, --frames DIR")
    if ack_out is not None and not ack_out.parent.is_dir():
        raise NotFoundError(f"folder {ack_out.parent} does not exist",
                            hints=("create it first, or choose another --ack-out",))
    state = c.home.path / "qr-state"
    state.mkdir(exist_ok=True)
    rep = ImportReport()
    fingerprints: list[str] = []
    received_ids: list[str] = []
    acks = 0
    show = not as_json and not c.quiet and sys.stderr.isatty()
    last: list[Any] = [None]

    def progress(p: Any) -> None:
        last[0] = p
        if show:
            click.echo("\r" + p.line()[:120].ljust(120), nl=False, err=True)

    from sneakersync.wire.packet import packet_id

    for got in qrmod.receive(str(sources[0]), state_dir=state, on_progress=progress,
                             timeout=timeout):
        if show:
            click.echo("", err=True)
        if got.static:  # a single code: an ack from a device we sent to
            acks += 1
            import_packet(c.home, c.store, got.packet, rep, name=f"ack {got.fingerprint}")
            if not as_json:
                c.say(f"ack {got.fingerprint} taken")
            continue
        fingerprints.append(got.fingerprint)
        received_ids.append(packet_id(got.packet))
        import_packet(c.home, c.store, got.packet, rep, name=got.fingerprint)
        if not as_json:
            c.say(f"packet {got.index + 1}/{got.count} complete, fingerprint {got.fingerprint}")
    out = rep.as_json()
    out["fingerprints"] = fingerprints
    out["acks"] = acks
    if ack_out is not None and received_ids:
        from sneakersync.sync.ack import ack_for_received

        data = ack_for_received(c.home, c.store, received_ids)
        if data is not None:
            qrmod.write_static_png(data, str(ack_out))
            out["ack"] = str(ack_out)
    if fingerprints or acks:
        from sneakersync.sync.status import save_import_report

        save_import_report(c.home, str(sources[0]), out)
    if as_json:
        emit_json(out)
    elif fingerprints:
        from sneakersync.cli.sync import say_import

        say_import(c, out)
        if "ack" in out:
            c.say(f"show {out['ack']} to the sender's camera (`qr ack` there) so it knows "
                  "what arrived")
    if not fingerprints and not acks:
        p = last[0]
        seen = (f" (a stream was seen: {p.received}/{p.needed} symbols of packet "
                f"{p.fingerprint} kept; show it again to finish)") if p is not None and \
            p.needed else ""
        raise NotFoundError(f"no complete packet in {sources[0].split(':', 1)[1]}{seen}",
                            hints=("hold the camera steady and let the stream play longer",
                                   "a video or folder must show the whole stream at least "
                                   "once"))
    if out["rejected"]:
        raise SystemExit(1)
