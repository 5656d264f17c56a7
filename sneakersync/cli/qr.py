"""`qr send` / `qr receive`: packets as an animated QR stream (the [qr] extra)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sneakersync.cli.app import Ctx, cli, emit_json, json_option, pass_ctx
from sneakersync.errors import UsageError, missing_extra


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
              help="QR version: bigger holds more per frame but needs a steadier camera.")
@click.option("--fps", type=click.FloatRange(1, 30), default=10.0, show_default=True,
              help="Frames per second (keep below the camera's rate).")
@click.option("--full", is_flag=True, help="Send everything, not only what peers lack.")
@click.option("--await-ack", is_flag=True, help="After showing, wait for the receiver's ack QR.")
@click.option("--camera", type=int, help="Camera index to read the ack from.")
@click.option("--ack-image", type=click.Path(path_type=Path), help="Read the ack from an image.")
@json_option
@pass_ctx
def qr_send(c: Ctx, to: tuple[str, ...], out: str, density: int, fps: float, full: bool,
            await_ack: bool, camera: int | None, ack_image: Path | None, as_json: bool) -> None:
    """Show (or write) the packet for peers as a QR stream.

    The stream carries exactly what `export` would write; the receiver's
    `qr receive` imports it the same way.

    Example: sneakersync qr send --to "Juma tablet" --out handover.html
    """
    qrmod = _qr()
    from sneakersync.sync.exchange import fingerprint, pick_recipients
    from sneakersync.sync.engine import build_exports

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
    if await_ack or ack_image is not None:
        summary["ack"] = _await_ack(c, qrmod, camera, ack_image)
    if as_json:
        emit_json({k: v for k, v in summary.items() if _jsonable(v)})
    else:
        c.say(f"{summary.get('frames', '?')} frames (QR version {summary.get('version', '?')}) "
              f"written to {out}" if out not in ("window", "terminal") else "done")
        if "ack" in summary:
            c.say(f"ack received: {summary['ack']}")


def _jsonable(v: Any) -> bool:
    import json

    try:
        json.dumps(v)
        return True
    except TypeError:
        return False


def _await_ack(c: Ctx, qrmod: Any, camera: int | None, ack_image: Path | None) -> dict[str, Any]:
    from sneakersync.sync.engine import ImportReport, import_packet

    payloads: list[bytes] = []
    if ack_image is not None:
        payloads = qrmod.decode_image(ack_image)
    elif camera is not None:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for got in qrmod.receive(f"camera:{camera}", state_dir=Path(tmp), timeout=120):
                payloads.append(got.packet)
                break
    else:
        raise UsageError("--await-ack needs --camera N (or --ack-image FILE)")
    rep = ImportReport()
    for data in payloads:
        import_packet(c.home, c.store, data, rep, name="ack")
    if rep.imported == 0:
        raise UsageError("no valid ack found", hints=("show the receiver's ack QR again",))
    return {"imported": rep.imported}


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

    Example: sneakersync qr receive --video handover.mp4 --ack-out ack.png
    """
    qrmod = _qr()
    from sneakersync.sync.engine import ImportReport, import_packet

    sources = [s for s in (camera is not None and f"camera:{camera}",
                           video and f"video:{video}", frames and f"frames:{frames}") if s]
    if len(sources) != 1:
        raise UsageError("give exactly one of --camera N, --video FILE, --frames DIR")
    state = c.home.path / "qr-state"
    state.mkdir(exist_ok=True)
    rep = ImportReport()
    fingerprints: list[str] = []
    received_ids: list[str] = []
    show = not as_json and not c.quiet and sys.stderr.isatty()

    def progress(p: Any) -> None:
        if show:
            click.echo("\r" + p.line()[:120].ljust(120), nl=False, err=True)

    for got in qrmod.receive(str(sources[0]), state_dir=state, on_progress=progress,
                             timeout=timeout):
        fingerprints.append(got.fingerprint)
        from sneakersync.wire.packet import packet_id

        received_ids.append(packet_id(got.packet))
        import_packet(c.home, c.store, got.packet, rep, name=got.fingerprint)
        if show:
            click.echo("", err=True)
        if not as_json:
            c.say(f"packet {got.index + 1}/{got.count} complete, fingerprint {got.fingerprint}")
    out = rep.as_json()
    out["fingerprints"] = fingerprints
    if ack_out is not None and received_ids:
        from sneakersync.sync.ack import ack_for_received

        data = ack_for_received(c.home, c.store, received_ids)
        if data is not None:
            qrmod.write_static_png(data, str(ack_out))
            out["ack"] = str(ack_out)
    if as_json:
        emit_json(out)
    else:
        c.say(f"{out['imported']} packets imported, {out['changes_applied']} changes, "
              f"{out['conflicts']} conflicts")
        if "ack" in out:
            c.say(f"show {out['ack']} to the sender's camera so it knows what arrived")
    if not fingerprints and not as_json:
        c.say("no complete packet seen")
    if out["rejected"]:
        raise SystemExit(1)
