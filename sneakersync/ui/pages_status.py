"""Status: per peer what it lacks and what is on its way to it; receipts; what prune would
delete, and pruning after a confirmation that says what it means."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from sneakersync.ui.pages_records import device_names
from sneakersync.ui.session import Session
from sneakersync.ui.web import action, page


def _peer_status(s: Session, st: Any) -> dict[str, Any]:
    from sneakersync.sync import status as status_mod

    return status_mod.status(s.home, st)


def index(s: Session, request: Request) -> Any:
    from sneakersync.sync import receipts
    from sneakersync.sync.prune import prune

    with s.store() as st:
        overview = _peer_status(s, st)
        names = device_names(s, st)
        rcpts = receipts.status(st)
        plan = prune(s.home, st, dry_run=True)
    for r in rcpts:
        r["name"] = names.get(r["server"], r["server"])
    return "status.html", {"title": "Status", "overview": overview, "receipts": rcpts,
                           "plan": plan}


def prune_page(s: Session, request: Request) -> Any:
    from sneakersync.sync.prune import prune

    with s.store() as st:
        plan = prune(s.home, st, dry_run=True)
    return "confirm.html", {
        "title": "Delete delivered records here?",
        "heading": f"Delete the local copy of {plan['records']} delivered records?",
        "explain": ["The destination server has confirmed, with a signed receipt, that it "
                    "holds the current version of each of these records.",
                    "They are deleted from this device only: nothing is sent, the server and "
                    "your colleagues keep their copies, and the deletion never syncs.",
                    "Records edited since their receipt, not confirmed yet, in conflict, or "
                    "within their collection's retention days stay."],
        "action": "/status/prune", "button": f"Delete {plan['records']} records here",
        "cancel": "/status", "danger": True,
        "data": plan["by_collection"] or None}


def do_prune(s: Session, form: dict[str, str], request: Request) -> str:
    from sneakersync.sync.prune import prune

    with s.store() as st:
        res = prune(s.home, st)
    s.flash("ok", f"Deleted the local copy of {res['records']} delivered records.")
    return "/status"


def routes() -> list[Route]:
    return [
        Route("/status", page(index)),
        Route("/status/prune", page(prune_page)),
        Route("/status/prune", action(do_prune), methods=["POST"]),
    ]
