"""HTTP face of the server: packet uploads, receipts, status JSON and a dashboard.

Routes::

    POST /v1/packets              body = packet bytes -> 200 + the sender's receipt
    GET  /v1/receipts/{device}    the device's current receipt (encrypted to it)
    GET  /v1/status               totals, devices, exports, rejects (JSON)
    GET  /                        the dashboard: plain HTML, no scripts, no external assets

A refused upload gets a JSON body ``{"status": "rejected", "layer", "error"}`` and
a status: 400 malformed or tampered, 403 revoked sender or a browser's request
(``origin``), 409 a change number signed twice with different content, 413 too large,
422 not addressed to this server.  A packet whose signer is not enrolled is held
for the administrator: 202 with ``{"status": "held"}``.  The full rules are in
``formats/server-http-v1.md``.
Starlette and uvicorn are imported only by :func:`create_app` and :func:`serve`.
"""

from __future__ import annotations

import html
import os
import threading
from dataclasses import replace
from pathlib import Path
from datetime import datetime, timezone
from typing import Any

from sneakersync.store.home import Home
from sneakersync.server.ingest import Outcome, ingest_packet, issue_receipt
from sneakersync.server.limits import Gauge, Limits, Quota, Refusal, receive_body, uvicorn_options
from sneakersync.errors import UsageError
from sneakersync.server.backends import db_url, open_server_db
from sneakersync.server.store import ServerStore
from sneakersync.wire.receipt import MEDIA_TYPE


def iso(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def status_data(home: Home, sstore: ServerStore, db: Any = None,
                queue: dict[str, Any] | None = None) -> dict[str, Any]:
    devices = sstore.devices()
    for d in devices:
        d["last_delivery_iso"] = iso(d["last_delivery"])
        d["first_seen_iso"] = iso(d["first_seen"])
    exports = sstore.exports()
    for e in exports:
        e["at_iso"] = iso(e["at"])
    rejects = sstore.rejects()
    for r in rejects:
        r["at_iso"] = iso(r["at"])
    store_info = db.describe(sstore) if db is not None else {"backend": sstore.backend}
    from sneakersync.server.enroll import held

    pending = held(sstore)
    for h in pending:
        h["last_iso"] = iso(h["last"])
    totals = sstore.totals()
    totals["held"] = sum(h["packets"] for h in pending)
    return {"held": pending,
"server": {"name": home.name, "device_id": home.device_id,
                       "card": home.card.encode()},
            "store": store_info, "queue": queue or {}, "rate": sstore.activity(),
            "totals": totals, "devices": devices, "exports": exports,
            "rejects": rejects, "open_conflicts": sstore.open_conflicts(None)[:50]}


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f"<p class=empty>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = ("body{font:15px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
        "padding:.25em .6em;text-align:left}th{background:#f2f2f2}.num{font-size:1.6em}"
        "dl{display:flex;gap:2em;flex-wrap:wrap}dt{color:#666}.empty{color:#777}"
        "code{font-size:.85em}")


def render_dashboard(data: dict[str, Any]) -> str:
    t = data["totals"]
    s = data["server"]
    st, q, r = data.get("store", {}), data.get("queue", {}), data.get("rate", {})
    tiles = "".join(f"<div><dt>{html.escape(k)}</dt><dd class=num id=total-{k}>{v}</dd></div>"
                    for k, v in (("devices", t["devices"]), ("packets", t["packets"]),
                                 ("changes", t["changes"]), ("records", t["records"]),
                                 ("conflicts", t["conflicts"]),
                                 ("open_conflicts", t["open_conflicts"]),
                                 ("held", t.get("held", 0)), ("rejected", t["rejected"]),
                                 ("exports", t["exports"])))
    devices = _table(["device", "id", "last delivery", "first seen", "packets", "changes",
                      "receipt seq"],
                     [[d["name"], d["device_id"], d["last_delivery_iso"], d["first_seen_iso"],
                       d["packets"], d["changes"], d["receipt_seq"] or "-"]
                      for d in data["devices"]], "no deliveries yet")
    conflicts = _table(["collection", "record", "conflict"],
                       [[c["collection"], c["id"], c["conflict"]]
                        for c in data["open_conflicts"]], "no open conflicts")
    exports = _table(["when", "format", "collection", "records", "target"],
                     [[e["at_iso"], e["format"], e["collection"] or "all", e["records"],
                       e["target"]] for e in data["exports"]], "no exports yet")
    rejects = _table(["when", "packet", "layer", "error", "via"],
                     [[r["at_iso"], r["packet_id"][:16], r["layer"], r["error"], r["via"]]
                      for r in data["rejects"]], "nothing rejected")
    held = _table(["signer", "device", "packets", "bytes", "via", "last", "why"],
                  [[h["short"], h["device"] or "not enrolled", h["packets"], h["bytes"],
                    "+".join(h["via"]), h["last_iso"], h["reason"]]
                   for h in data.get("held", [])], "nothing held")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>sneakersync server {html.escape(s['name'])}</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>sneakersync server: {html.escape(s['name'])}</h1>"
            f"<p>id <code>{s['device_id']}</code> &middot; card <code>{html.escape(s['card'])}"
            f"</code></p><dl>{tiles}</dl>"
            f"<p id=store>store: {html.escape(str(st.get('backend', '?')))} "
            f"<code>{html.escape(str(st.get('location', '')))}</code> &middot; "
            f"uploads in progress: <span id=queue>{q.get('uploads_in_progress', 0)}</span>"
            f" &middot; rate: <span id=rate>{r.get('packets_per_second_1m', 0)}</span> "
            f"packets/s over the last minute ({r.get('packets_last_minute', 0)} packets)</p>"
            f"<h2>Devices</h2><div id=devices>{devices}</div>"
            f"<h2>Open conflicts</h2><div id=conflicts>{conflicts}</div>"
            f"<h2>Exports</h2><div id=exports>{exports}</div>"
            f"<h2>Held for a decision</h2><p>packets of devices not enrolled, unopened: "
            f"<code>server enroll CARD</code>, <code>server accept SIGNER</code> or "
            f"<code>server reject SIGNER</code></p><div id=held>{held}</div>"
            f"<h2>Rejected packets</h2><div id=rejects>{rejects}</div>"
            f"</body></html>")


_FORM_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data")


def browser_upload(headers: Any) -> str | None:
    """Why an upload looks sent by a web browser, else None.

    Packets come from ``sneakersync push``, never from a page: a browser marks every
    POST with ``Origin`` (and modern ones with ``Sec-Fetch-Site``), so any such request,
    same-origin included (DNS rebinding makes a foreign page look same-origin), and any
    body typed as a form or plain text is refused before the body is read.
    """
    origin = headers.get("origin")
    if origin is not None:
        return f"uploads from web pages are refused (Origin: {origin[:80]})"
    site = headers.get("sec-fetch-site")
    if site is not None and site != "none":
        return f"uploads from web pages are refused (Sec-Fetch-Site: {site[:40]})"
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in _FORM_TYPES:
        return f"content type {ctype!r} is refused: send application/octet-stream"
    return None


def foreign_host(headers: Any, allowed: tuple[str, ...] = ()) -> str | None:
    """Why a request's ``Host`` is not one this server answers to, else None.

    A web page can make a browser send requests here under its own name by pointing
    that name at this address (DNS rebinding) and then read the answers as
    same-origin.  Real clients address the server by an IP literal, ``localhost``,
    or a name the administrator allowed (``serve --allowed-host``).
    """
    import ipaddress

    host = headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:host.find("]")]
    name = name.strip().lower().rstrip(".")
    if name == "localhost" or name in allowed:
        return None
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        return f"this server does not answer to the name {host[:80]!r}"


_STATUS_BY_LAYER = {"revoked": 403, "untrusted": 403, "no-match": 422, "quota": 429}


def http_status(o: Outcome) -> int:
    if o.status in ("stored", "duplicate"):
        return 200
    if o.status == "held":
        return 202
    if o.status == "not_for_server":
        return 422
    if o.layer == "auth" and o.error and "two different changes" in o.error:
        return 409
    return _STATUS_BY_LAYER.get(o.layer or "", 400)


def create_app(home: Home, *, max_upload: int = 64 << 20, db: Any = None,
               limits: Limits | None = None, allowed_hosts: tuple[str, ...] = ()) -> Any:
    """The Starlette app.  ``db`` (a :class:`ServerDB`) defaults to the home's own store;
    ``limits`` (with ``max_upload``) bound what a client gets (``server/limits.py``).

    SQLite sessions take turns within the process; PostgreSQL sessions run side by side,
    each on a pooled connection, their packets serialised only by database locks.
    """
    lim = replace(limits or Limits(), max_upload=max_upload)
    try:
        from starlette.applications import Starlette
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request
        from starlette.responses import HTMLResponse, JSONResponse, Response
        from starlette.routing import Route
    except ImportError as exc:
        from sneakersync.errors import missing_extra

        raise missing_extra("server", "starlette") from exc

    database = db if db is not None else open_server_db(home)
    busy = {"uploads_in_progress": 0}
    busy_lock = threading.Lock()
    uploads = Gauge(lim.max_uploads, lim.per_client_uploads)
    processing = threading.BoundedSemaphore(lim.max_processing)
    quota = Quota(lim.quota_bytes, lim.quota_window)

    def with_store(fn: Any) -> Any:
        for attempt in range(4):
            try:
                with database.session() as ss:
                    return fn(ss)
            except Exception as exc:  # a deadlock or serialisation failure: try again
                if attempt == 3 or not _transient(exc):
                    raise
        raise AssertionError("unreachable")

    def queue() -> dict[str, Any]:
        return {**busy, "worker_pid": os.getpid()}

    def refuse(code: int, layer: str, error: str) -> Any:
        return JSONResponse({"status": "rejected", "layer": layer, "error": error},
                            status_code=code)

    def process(spool: Any) -> tuple[Outcome, tuple[int, bytes] | None]:
        """Open and store one received packet: ``max_processing`` at a time, so memory
        follows the largest packet, not the number of clients (the bytes are read here)."""
        with processing:
            data = spool.read()
            signer: list[bytes] = []

            def check(sign_public: bytes) -> None:
                quota.check(sign_public, len(data))
                signer.append(sign_public)

            def work(ss: ServerStore) -> tuple[Outcome, tuple[int, bytes] | None]:
                signer.clear()
                o = ingest_packet(home, ss, data, via="http", check=check)
                rc = issue_receipt(home, ss, o.sender) if o.sender and o.status in (
                    "stored", "duplicate") else None
                return o, rc

            o, rc = with_store(work)
            if o.status == "stored" and signer:
                quota.add(signer[0], len(data))
            return o, rc

    async def upload(request: Request) -> Any:
        why = browser_upload(request.headers)
        if why is not None:
            return refuse(403, "origin", why)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > lim.max_upload:
            return refuse(413, "size", f"packet larger than {lim.max_upload} bytes")
        client = request.client.host if request.client else ""
        if not uploads.enter(client):
            return JSONResponse({"status": "rejected", "layer": "busy",
                                 "error": "too many uploads at once; try again shortly"},
                                status_code=503, headers={"Retry-After": "5"})
        try:
            try:
                spool = await receive_body(request, lim)
            except Refusal as r:
                return refuse(r.status, r.layer, r.error)
            with busy_lock:
                busy["uploads_in_progress"] += 1
            try:
                o, rc = await run_in_threadpool(process, spool)
            finally:
                spool.close()
                with busy_lock:
                    busy["uploads_in_progress"] -= 1
        finally:
            uploads.leave(client)
        code = http_status(o)
        if code == 202:
            return JSONResponse({"status": "held", "layer": "untrusted", "error": o.error},
                                status_code=202,
                                headers={"X-Sneakersync-Outcome": "held",
                                         "X-Sneakersync-Packet": o.packet_id})
        if code != 200:
            layer = "no-match" if o.status == "not_for_server" else (o.layer or "error")
            return refuse(code, layer, o.error or "packet is not addressed to this server")
        headers = {"X-Sneakersync-Outcome": o.status, "X-Sneakersync-Changes": str(o.changes),
                   "X-Sneakersync-Packet": o.packet_id}
        if rc is None:
            return JSONResponse({"status": o.status, "receipt": None}, headers=headers)
        headers["X-Sneakersync-Receipt-Seq"] = str(rc[0])
        return Response(rc[1], media_type=MEDIA_TYPE, headers=headers)

    async def receipt(request: Request) -> Any:
        dev = request.path_params["device"]
        if len(dev) != 16 or not dev.isalnum():
            return refuse(400, "input", "not a device id")
        rc = await run_in_threadpool(with_store, lambda ss: issue_receipt(home, ss, dev))
        if rc is None:
            return refuse(404, "not-found", "no receipt for that device")
        return Response(rc[1], media_type=MEDIA_TYPE,
                        headers={"X-Sneakersync-Receipt-Seq": str(rc[0])})

    async def status(request: Request) -> Any:
        return JSONResponse(await run_in_threadpool(
            with_store, lambda ss: status_data(home, ss, database, queue())))

    async def dashboard(request: Request) -> Any:
        data = await run_in_threadpool(
            with_store, lambda ss: status_data(home, ss, database, queue()))
        return HTMLResponse(render_dashboard(data))

    app = Starlette(routes=[
        Route("/", dashboard), Route("/v1/status", status),
        Route("/v1/packets", upload, methods=["POST"]),
        Route("/v1/receipts/{device}", receipt),
    ])
    allowed = tuple(h.lower().rstrip(".") for h in allowed_hosts)

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            why = foreign_host({k.decode("latin-1"): v.decode("latin-1")
                                for k, v in scope["headers"]}, allowed)
            if why is not None:
                await refuse(421, "host", why)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def _transient(exc: BaseException) -> bool:
    """A PostgreSQL deadlock or serialisation failure: the transaction was rolled back whole
    and may simply run again."""
    return getattr(exc, "sqlstate", None) in ("40P01", "40001")


ENV_SERVE = "SNEAKERSYNC_SERVE"  # how `serve --workers N` tells its worker processes the home


def app_from_env() -> Any:
    """Factory for uvicorn's worker processes (``serve --workers N``)."""
    import json

    from sneakersync.store import home as home_mod

    from sneakersync.server.limits import env_limits

    cfg = json.loads(os.environ[ENV_SERVE])
    home = home_mod.load(Path(cfg["home"]))
    lim = env_limits()
    return create_app(home, max_upload=lim.max_upload, limits=lim,
                      db=open_server_db(home, pool_size=int(cfg["pool"])),
                      allowed_hosts=tuple(cfg.get("allowed_hosts", ())))


def serve(home: Home, *, host: str = "127.0.0.1", port: int = 8765,
          max_upload: int = 64 << 20, workers: int = 1, pool: int = 8,
          quota: int = Limits.quota_bytes, limits: Limits | None = None,
          allowed_hosts: tuple[str, ...] = ()) -> None:
    """Run the server.  ``workers`` > 1 starts that many processes (PostgreSQL only);
    ``quota``: bytes each device may upload per hour (per worker process).

    ``limits`` default to :class:`Limits`, except that on PostgreSQL a worker opens up
    to ``pool`` packets at once (each on its own connection) instead of one.
    """
    try:
        import uvicorn
    except ImportError as exc:
        from sneakersync.errors import missing_extra

        raise missing_extra("server", "uvicorn") from exc
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    if workers > 1:
        if db_url(home.path) is None:
            raise UsageError("several workers need the PostgreSQL backend",
                             hints=("SQLite has one writer: serve it with --workers 1",
                                    "or create the server with: server init --db "
                                    "postgresql://..."))
        import json

        from sneakersync.store import keystore

        if home.sealed and keystore.passphrase_from_env() is None:
            raise UsageError("several workers need the passphrase in the environment",
                             hints=("each worker process opens the sealed home itself: set "
                                    "SNEAKERSYNC_PASSPHRASE_FILE to a key file",))
        from dataclasses import asdict

        from sneakersync.server.limits import ENV_LIMITS

        open_server_db(home, pool_size=1).close()  # migrate once, fail early on a bad URL
        lim = _serve_limits(home, limits, max_upload, pool, quota)
        os.environ[ENV_SERVE] = json.dumps({"home": str(home.path), "pool": pool,
                                            "allowed_hosts": list(allowed_hosts)})
        os.environ[ENV_LIMITS] = json.dumps(asdict(lim))
        uvicorn.run("sneakersync.server.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="warning",
                    **{**uvicorn_options(lim),
                       "http": "sneakersync.server.limits:GuardedH11Protocol"})
        return
    limits = _serve_limits(home, limits, max_upload, pool, quota)
    uvicorn.run(create_app(home, max_upload=max_upload, limits=limits,
                           allowed_hosts=allowed_hosts, db=open_server_db(home, pool_size=pool)),
                host=host, port=port, log_level="warning", **uvicorn_options(limits))


def _serve_limits(home: Home, limits: Limits | None, max_upload: int, pool: int,
                  quota: int) -> Limits:
    lim = replace(limits or Limits(), max_upload=max_upload, quota_bytes=quota)
    if limits is None and db_url(home.path) is not None:
        lim = replace(lim, max_processing=pool)  # PostgreSQL: packets side by side
    return lim
