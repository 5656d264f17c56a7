"""Demo part: a QR handover through a video file (needs the [qr] extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import raptorq  # noqa: F401  (ImportError here makes the demo skip this part)
import zxingcpp  # noqa: F401

from sneakersync.store import home as home_mod
from sneakersync.store import peers
from sneakersync.sync.ack import build_ack
from sneakersync.sync.exchange import fingerprint
from sneakersync.wire.packet import packet_id
from sneakersync.sync.engine import ImportReport, build_export, import_packet


def run_qr_demo(root: Path, devices: dict[str, Path], echo: Callable[[str], None]) -> None:
    import sneakersync.media.qr as qr

    names = list(devices)
    sender = home_mod.load(devices[names[0]])
    receiver = home_mod.load(devices[names[1]])
    ss, rs = sender.open_store(), receiver.open_store()
    try:
        ss.put("missing_persons", {"name": "Rahim Uddin", "age": 9, "last_seen": "Kutupalong",
                                   "notes": "blue shirt; speaks Bengali and some English"},
                 "mp-0042")
        peer = peers.by_id(ss, receiver.device_id)
        assert peer is not None
        out = build_export(sender, ss, [peer], pad_to=0)
        assert out is not None
        video = root / "qr-handover.mp4"
        summary = qr.send([out.data], str(video), density=25, fps=10)
        echo(f"   {sender.name} shows {summary['frames']} frames (QR version {summary['version']},"
             f" ECC L, {summary['fps']:.0f} fps) for a {len(out.data):,}-byte packet;"
             f" fingerprint {fingerprint(out.packet_id)}")
        echo(f"   (recorded to {video.name}; `--out window` shows it full screen instead)")
        state = receiver.path / "qr-state"
        state.mkdir(exist_ok=True)
        rep = ImportReport()
        got_ids = []
        for got in qr.receive(f"video:{video}", state_dir=state):
            got_ids.append(packet_id(got.packet))
            import_packet(receiver, rs, got.packet, rep, name=got.fingerprint)
            echo(f"   {receiver.name} decoded the packet from the video: fingerprint "
                 f"{fingerprint(packet_id(got.packet))} (compare with the sender's screen)")
        echo(f"   imported {rep.imported} packet{'s' if rep.imported != 1 else ''}, "
             f"{rep.changes_applied} change{'s' if rep.changes_applied != 1 else ''}; "
             f"record mp-0042 is now on {receiver.name}: "
             f"{(rs.get('missing_persons', 'mp-0042').data or {}).get('name')}")
        back = peers.by_id(rs, sender.device_id)
        assert back is not None
        ack = build_ack(receiver, rs, [back], got_ids)
        png = root / "qr-ack.png"
        qr.write_static_png(ack, str(png))
        seen = qr.decode_image(png)
        rep2 = ImportReport()
        for data in seen:
            import_packet(sender, ss, data, rep2, name="ack")
        echo(f"   the receiver shows one ack QR ({len(ack)} bytes, signed); the sender reads it:"
             f" next packet for {receiver.name} will be a delta "
             f"({'nothing left to send' if build_export(sender, ss, [peer]) is None else 'more to send'})")
    finally:
        ss.close()
        rs.close()
