"""QR: show packets full screen for another device's camera; receive through this camera.

Sending builds exactly what ``qr send`` builds and plays it with the HTML player of
``sneakersync.media.qr.html`` (its script served as a file, its frames as a JSON block).
Receiving takes camera frames the page posts, decodes them with zxing-cpp and feeds
the same :class:`~sneakersync.media.qr.receiver.Receiver` as ``qr receive``; each
complete packet is imported, and the ack for its sender is shown back as a QR code.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sneakersync.errors import NotFoundError, SneakersyncError, UsageError
from sneakersync.store import peers
from sneakersync.ui.session import Session
from sneakersync.ui.web import action, page

MAX_SHOWN = 4  # streams kept in memory for the player

def index(s: Session, request: Request) -> Any:
    with s.store() as st:
        ps = [p for p in peers.all_peers(st) if not p.revoked]
    return "qr.html", {"title": "QR", "peers": ps}

def send(s: Session, form: dict[str, str], request: Request) -> str:
    from sneakersync.media.qr.html import data_block
    from sneakersync.media.qr.sender import plan_stream
    from sneakersync.sync.engine import build_exports
    from sneakersync.sync.exchange import fingerprint, pick_recipients

    try:
        density = int(form.get("density", "25"))
        fps = float(form.get("fps", "10"))
    except ValueError:
        raise UsageError("density and speed must be numbers") from None
    if not 1 <= fps <= 30:
        raise UsageError("speed must be 1 to 30 frames per second")
    with s.store() as st:
        ids = [k[3:] for k in form if k.startswith("to.")]
        names = [p.name for p in (peers.by_id(st, i) for i in ids) if p is not None]
        if not names:
            raise UsageError("choose at least one colleague to send to")
        recipients = pick_recipients(st, names)
        pks = build_exports(s.home, st, recipients, full=form.get("full") == "yes", pad_to=0)
    if not pks:
        s.flash("ok", "Nothing to send: they already have everything.")
        return "/qr"
    plan = plan_stream([pk.data for pk in pks], density=density)
    sid = secrets.token_urlsafe(8)
    shown = s.scratch.setdefault("shown", {})
    shown[sid] = {"data": data_block(plan, fps), "to": ", ".join(names),
                  "fingerprints": [fingerprint(pk.packet_id) for pk in pks],
                  "changes": sum(pk.changes for pk in pks), "frames": len(plan.frames)}
    while len(shown) > MAX_SHOWN:
        shown.pop(next(iter(shown)))
    return f"/qr/show?id={sid}"

def show(s: Session, request: Request) -> Any:
    got = s.scratch.get("shown", {}).get(request.query_params.get("id", ""))
    if got is None:
        raise NotFoundError("that QR stream is no longer here; make it again on QR")
    return "qr_show.html", {"title": "Showing a QR stream", "stream": got}

def player_js(s: Session, request: Request) -> Response:
    from sneakersync.media.qr.html import PLAYER_JS

    return Response(PLAYER_JS, media_type="text/javascript")

def receive_page(s: Session, request: Request) -> Any:
    from sneakersync.media.qr.receiver import Receiver

    state = s.home.path / "qr-state"
    state.mkdir(mode=0o700, exist_ok=True)
    s.scratch["rx"] = {"rx": Receiver(state), "ids": [], "report": None, "finished": False}
    return "qr_receive.html", {"title": "Receive by camera"}

def _rx_step(s: Session, body: bytes) -> dict[str, Any]:
    with s.lock:  # one frame at a time: the receiver is not shared between threads
        return _rx_locked(s, body)


def _rx_locked(s: Session, body: bytes) -> dict[str, Any]:
    from sneakersync.media.qr.browser import decode_frame_image
    from sneakersync.sync.engine import ImportReport, import_packet
    from sneakersync.wire.packet import packet_id

    box = s.scratch.get("rx")
    if box is None:
        return {"error": "open the Receive page again", "finished": False}
    if box["finished"]:
        return box["result"]
    try:
        payloads = decode_frame_image(body)
    except SneakersyncError as err:
        return {"error": str(err), "finished": False}
    progress, done = box["rx"].feed_capture(payloads)
    out: dict[str, Any] = {"received": progress.received, "needed": progress.needed,
                           "line": progress.line(), "completed": progress.completed,
                           "finished": False}
    if done:
        report = box["report"] = box["report"] or ImportReport()
        with s.store() as st:
            for got in done:
                box["ids"].append(packet_id(got.packet))
                import_packet(s.home, st, got.packet, report, name=got.fingerprint)
    if done and box["rx"].all_done():
        out.update(_finish(s, box))
    return out

def _finish(s: Session, box: dict[str, Any]) -> dict[str, Any]:
    from sneakersync.media.qr.render import encode_static
    from sneakersync.sync.ack import ack_for_received
    from sneakersync.sync.words import import_sentences

    rep = box["report"].as_json()
    with s.store() as st:
        sentences = import_sentences(st, rep)
        ack = ack_for_received(s.home, st, box["ids"])
    result: dict[str, Any] = {"finished": True, "report": sentences, "ack": None}
    if ack is not None:
        buf = io.BytesIO()
        encode_static(ack, scale=6).save(buf, format="PNG")
        s.scratch["ack"] = buf.getvalue()
        result["ack"] = f"/qr/ack.png?n={secrets.token_urlsafe(4)}"
    box["rx"].close()
    box.update(finished=True, result=result)
    return result

async def receive_frame(request: Request) -> Response:
    s: Session = request.app.state.session
    body = await request.body()
    return JSONResponse(await run_in_threadpool(_rx_step, s, body))

def ack_png(s: Session, request: Request) -> Response:
    data = s.scratch.get("ack")
    if data is None:
        raise NotFoundError("no ack to show yet")
    return Response(data, media_type="image/png")

def routes() -> list[Route]:
    return [
        Route("/qr", page(index)),
        Route("/qr/send", action(send), methods=["POST"]),
        Route("/qr/show", page(show)),
        Route("/qr/player.js", page(player_js)),
        Route("/qr/receive", page(receive_page)),
        Route("/qr/receive/frame", receive_frame, methods=["POST"]),
        Route("/qr/ack.png", page(ack_png)),
    ]
