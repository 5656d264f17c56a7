"""Sync: pick the stick folder, see what goes to whom, write and read packets with progress.

Export and import are the library's (``sync.exchange`` on a ``media.drive.Drive``);
the report is told in sentences by ``sync.words``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sneakersync.errors import NotFoundError, UsageError
from sneakersync.store import peers
from sneakersync.ui import jobs
from sneakersync.ui.session import Session
from sneakersync.ui.web import action, page

SETTING = "ui_drive"  # the stick folder last used, remembered in the device's store


def index(s: Session, request: Request) -> Any:
    from sneakersync.media.mounts import removable_folders
    from sneakersync.sync import selection

    with s.store() as st:
        ps = [p for p in peers.all_peers(st) if not p.revoked]
        rules = [selection.describe(st, c["name"]) for c in st.collections()]
        drive = st.get_setting(SETTING, "") or ""
        overview = _overview(s, st)
    return "sync.html", {"title": "Sync", "peers": ps, "rules": rules, "drive": drive,
                         "mounts": [str(m) for m in removable_folders()],
                         "overview": overview}


def _overview(s: Session, st: Any) -> dict[str, dict[str, Any]]:
    """Per peer id: what it lacks and what is on its way (``sync.status``)."""
    from sneakersync.sync import status as status_mod

    return {p["device_id"]: p for p in status_mod.status(s.home, st)["peers"]}


def _drive(s: Session, form: dict[str, str]) -> Path:
    text = form.get("drive", "").strip()
    if not text:
        raise UsageError("choose the stick's folder first")
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise UsageError(f"give the whole folder path, like /media/usb (not {text!r})")
    if not path.is_dir():
        raise NotFoundError(f"folder {path} does not exist",
                            hints=("is the stick plugged in and mounted?",))
    with s.store() as st:
        st.set_setting(SETTING, str(path))
    return path


def export(s: Session, form: dict[str, str], request: Request) -> str:
    from sneakersync.media.drive import Drive
    from sneakersync.sync.exchange import export_to, pick_recipients
    from sneakersync.sync.words import export_sentences

    path = _drive(s, form)
    with s.store() as st:
        ids = [k[3:] for k in form if k.startswith("to.")]
        names = [p.name for p in (peers.by_id(st, i) for i in ids) if p is not None]
        if ids and not names:
            raise UsageError("those colleagues are no longer here")
        pick_recipients(st, names)  # no peers at all: say so before starting

    def work(job: jobs.Job) -> list[str]:
        with s.store() as st:
            drop = jobs.CountingDrop(Drive(path, create=True), job)
            res = export_to(s.home, st, drop, pick_recipients(st, names),
                            full=form.get("full") == "yes")
        return export_sentences(res)

    return f"/sync/job?id={jobs.start(s, 'export', work)}"


def import_(s: Session, form: dict[str, str], request: Request) -> str:
    from sneakersync.media.drive import Drive
    from sneakersync.sync.exchange import import_from
    from sneakersync.sync.words import import_sentences

    path = _drive(s, form)

    def work(job: jobs.Job) -> list[str]:
        with s.store() as st:
            rep = import_from(s.home, st, jobs.CountingDrop(Drive(path), job)).as_json()
            _remember_report(s, str(path), rep)
            return import_sentences(st, rep)

    return f"/sync/job?id={jobs.start(s, 'import', work)}"


def _remember_report(s: Session, source: str, rep: dict[str, Any]) -> None:
    from sneakersync.sync.status import save_import_report

    save_import_report(s.home, source, rep)


def job_page(s: Session, request: Request) -> Any:
    jid = request.query_params.get("id", "")
    job = s.jobs.get(jid)
    if job is None:
        raise NotFoundError("that exchange is no longer here")
    return "sync_job.html", {"title": f"Sync: {job.what}", "job": job,
                             "poll": f"/sync/job.json?id={quote(jid, safe='')}"}


def job_json(s: Session, request: Request) -> Response:
    job = s.jobs.get(request.query_params.get("id", ""))
    if job is None:
        raise NotFoundError("that exchange is no longer here")
    return JSONResponse(job.as_json())


def routes() -> list[Route]:
    return [
        Route("/sync", page(index)),
        Route("/sync/export", action(export), methods=["POST"]),
        Route("/sync/import", action(import_), methods=["POST"]),
        Route("/sync/job", page(job_page)),
        Route("/sync/job.json", page(job_json)),
    ]
