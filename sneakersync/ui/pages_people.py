"""People: my card, colleagues added by camera or pasted card, safety numbers, trust, revoke."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sneakersync.errors import NotFoundError, SneakersyncError
from sneakersync.store import peers
from sneakersync.sync import peering
from sneakersync.ui.web import action, page
from sneakersync.ui.session import Session
from sneakersync.wire import safety


def _peer(st: Any, request: Request, form: dict[str, str] | None = None) -> peers.Peer:
    pid = (form or {}).get("id") or request.query_params.get("id", "")
    p = peers.by_id(st, pid)
    if p is None:
        raise NotFoundError(f"no peer with id {pid!r}")
    return p


def _peer_url(p: peers.Peer) -> str:
    return f"/people/peer?id={quote(p.device_id, safe='')}"


def index(s: Session, request: Request) -> Any:
    with s.store() as st:
        ps = peers.all_peers(st)
    return "people.html", {"title": "People", "me": s.home.describe(), "peers": ps}


def card_svg(s: Session, request: Request) -> Response:
    from sneakersync.media.qr.browser import card_svg as svg

    return Response(svg(s.home.card.encode()), media_type="image/svg+xml")


def add(s: Session, form: dict[str, str], request: Request) -> str:
    with s.store() as st:
        added = peering.add_peer(st, form.get("card", ""), form.get("name", "").strip() or None,
                                 trust=form.get("trust") or None)
    p = added.peer
    if added.revoked_by_team:
        s.flash("error", f"Added {p.name}, but a trusted colleague has revoked this device: "
                         "it is added as revoked and nothing from it is applied.")
    else:
        s.flash("ok", f"Added {p.name}. Now compare the safety number with them, in person.")
    return _peer_url(p)


def scan_page(s: Session, request: Request) -> Any:
    return "scan.html", {"title": "Add a colleague by camera"}


def peer_page(s: Session, request: Request) -> Any:
    with s.store() as st:
        p = _peer(st, request)
        number = peering.safety_number(s.home, p)
    return "peer.html", {"title": p.name, "p": p, "groups": safety.groups(number)}


def verify(s: Session, form: dict[str, str], request: Request) -> str:
    with s.store() as st:
        p = _peer(st, request, form)
        peering.verify(s.home, st, p)
    s.flash("ok", f"{p.name} is verified: you compared the safety numbers and they match.")
    return _peer_url(p)


def trust(s: Session, form: dict[str, str], request: Request) -> str:
    with s.store() as st:
        p = _peer(st, request, form)
        res = peering.set_trust(s.home, st, p, quarantine=form.get("trust") == "quarantine")
    if res.trust == "quarantine":
        s.flash("ok", f"Packets from {p.name} will be held until you trust them.")
    else:
        s.flash("ok", f"{p.name} is trusted: their packets are applied"
                + (f" ({res.held_applied} held packets, {res.changes} changes applied now)."
                   if res.held_applied else "."),
                lines=tuple(f"Refused {r['file']}: {r['error']}" for r in res.rejected))
    return _peer_url(p)


def revoke_page(s: Session, request: Request) -> Any:
    with s.store() as st:
        p = _peer(st, request)
    return "confirm.html", {
        "title": f"Revoke {p.name}?", "heading": f"Revoke {p.name}?",
        "explain": [f"Do this when {p.name} is lost or stolen, or its keys may be in the "
                    "wrong hands.",
                    "What it sent before stays. From now on nothing is made for it, and "
                    "anything it signs later is refused.",
                    "The revocation travels with every packet this device writes, so your "
                    "colleagues' devices refuse it too.",
                    "This cannot be undone: to work with that person again, add their new card."],
        "action": "/people/peer/revoke", "hidden": {"id": p.device_id},
        "button": f"Revoke {p.name}", "cancel": _peer_url(p), "danger": True, "data": None}


def revoke(s: Session, form: dict[str, str], request: Request) -> str:
    from sneakersync.store.revocations import revoke_peer

    with s.store() as st:
        p = _peer(st, request, form)
        r = revoke_peer(s.home, st, p)
    s.flash("ok", f"Revoked {p.name}: its changes after #{r.last} are refused. The revocation "
                  "goes out with the next sync.")
    return _peer_url(p)


def remove(s: Session, form: dict[str, str], request: Request) -> str:
    from sneakersync.sync import selection

    with s.store() as st:
        p = _peer(st, request, form)
        peers.remove(st, p.device_id)
        selection.forget_peer(st, p.device_id)
    s.flash("ok", f"Forgot {p.name}. The records it sent stay.")
    return "/people"


async def scan_frame(request: Request) -> Response:
    """One camera frame (JPEG/PNG body): the card in it, if any, with its name and id."""
    from starlette.concurrency import run_in_threadpool

    from sneakersync.media.qr.browser import card_in, decode_frame_image
    from sneakersync.wire.identity import decode_card

    body = await request.body()

    def work() -> dict[str, Any]:
        try:
            card = card_in(decode_frame_image(body))
        except SneakersyncError as err:
            return {"found": False, "error": str(err)}
        if card is None:
            return {"found": False}
        c = decode_card(card)
        return {"found": True, "card": card, "name": c.name, "device_id": c.device_id}

    return JSONResponse(await run_in_threadpool(work))


def routes() -> list[Route]:
    return [
        Route("/people", page(index)),
        Route("/people/card.svg", page(card_svg)),
        Route("/people/add", action(add), methods=["POST"]),
        Route("/people/scan", page(scan_page)),
        Route("/people/scan/frame", scan_frame, methods=["POST"]),
        Route("/people/peer", page(peer_page)),
        Route("/people/peer/verify", action(verify), methods=["POST"]),
        Route("/people/peer/trust", action(trust), methods=["POST"]),
        Route("/people/peer/revoke", page(revoke_page)),
        Route("/people/peer/revoke", action(revoke), methods=["POST"]),
        Route("/people/peer/remove", action(remove), methods=["POST"]),
    ]
