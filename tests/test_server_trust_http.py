"""Attacks on the server over real HTTP on loopback (uvicorn in a thread): each performed.

A stranger uploading, a web page posting cross-origin (also from a real headless
Chromium), a network neighbour holding connections open, flooding uploads, asking
for made-up receipts.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from sneakersync.media.http import push  # noqa: E402
from sneakersync.server import enroll as enroll_mod  # noqa: E402
from sneakersync.server.app import create_app  # noqa: E402
from sneakersync.server.setup import use_server  # noqa: E402
from sneakersync.store import peers  # noqa: E402
from sneakersync.sync.engine import build_export  # noqa: E402

from server_support import setup  # noqa: E402
from trust_support import forged_packet  # noqa: E402


pytestmark = pytest.mark.usefixtures("server_backend")  # each test on SQLite and PostgreSQL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any, **config: Any) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                           lifespan="off", **config))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(10)


@pytest.fixture
def world(tmp_path: Path, make_device) -> Iterator[tuple]:
    srv, devs, stick = setup(tmp_path, make_device)
    with serving(create_app(srv.home, max_upload=1 << 20)) as url:
        yield srv, devs, url


def test_stranger_upload_is_held_not_stored(world, make_device) -> None:
    srv, (a, _b), url = world
    stranger = make_device("stranger", seed=66)
    use_server(stranger.store, srv.home.card.encode())
    stranger.store.put("households", {"head": "X"}, "h1")
    res = push(stranger.home, stranger.store, url)
    assert res["status"] == "held" and res["receipt"] == {"status": "none"}
    assert srv.sstore.totals()["changes"] == 0
    [held] = enroll_mod.held(srv.sstore)
    assert held["via"] == ["http"] and held["packets"] == 1
    # a poisoned version for the victim's record, sent raw: held too, the record intact
    a.store.put("households", {"head": "Amina"}, "h1")
    assert push(a.home, a.store, url)["status"] == "stored"
    data = forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                         [("households", "h1", {"head": "X"}, {a.id: (1 << 53) - 1})],
                         first=5)
    r = httpx.post(f"{url}/v1/packets", content=data,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 202 and r.json()["status"] == "held"
    assert [x["data"] for x in srv.sstore.records("households")] == [{"head": "Amina"}]


def test_cross_origin_and_form_posts_are_refused_before_reading(world) -> None:
    srv, (a, _b), url = world
    a.store.put("c", {"v": 1}, "r1")
    data = build_export(a.home, a.store, [peers.by_id(a.store, srv.id)]).data
    for headers in ({"Origin": "http://evil.example", "Content-Type": "text/plain"},
                    {"Origin": url},  # same-origin too: a rebinding page looks the same
                    {"Sec-Fetch-Site": "cross-site"},
                    {"Content-Type": "text/plain;charset=UTF-8"},
                    {"Content-Type": "application/x-www-form-urlencoded"},
                    {"Content-Type": "multipart/form-data; boundary=x"}):
        r = httpx.post(f"{url}/v1/packets", content=data, headers=headers)
        assert r.status_code == 403, headers
        assert r.json()["layer"] == "origin" and r.json()["status"] == "rejected"
    assert srv.sstore.totals()["changes"] == 0 and enroll_mod.held(srv.sstore) == []
    # the same bytes from `push` (no Origin, octet-stream) are stored
    r = httpx.post(f"{url}/v1/packets", content=data,
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and srv.sstore.totals()["changes"] == 1


_PAGE = """<!doctype html><html><body><p id=out>waiting</p><script>
const bytes = Uint8Array.from(atob("{b64}"), c => c.charCodeAt(0));
fetch("{url}/v1/packets", {{method: "POST", mode: "no-cors", body: new Blob([bytes]),
  headers: {{"Content-Type": "text/plain"}}}})
  .then(() => {{ document.getElementById("out").textContent = "sent"; }})
  .catch(e => {{ document.getElementById("out").textContent = "failed " + e; }});
</script></body></html>"""


def _recording(app: Any, log: list) -> Any:
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            entry = {"method": scope["method"], "path": scope["path"],
                     "origin": headers.get("origin"), "status": None}
            log.append(entry)

            async def send2(message: Any) -> None:
                if message["type"] == "http.response.start":
                    entry["status"] = message["status"]
                await send(message)
            await app(scope, receive, send2)
        else:
            await app(scope, receive, send)
    return wrapped


def _browse(exe: str, page: str, profile: Path) -> str:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def evil(request: Any) -> Any:
        return HTMLResponse(page)

    with serving(Starlette(routes=[Route("/", evil)])) as evil_url:
        out = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                              "--disable-background-networking", "--disable-component-update",
                              "--disable-sync", "--no-first-run", "--virtual-time-budget=5000",
                              f"--user-data-dir={profile}", "--dump-dom",
                              evil_url + "/"], capture_output=True, text=True, timeout=90)
    return out.stdout + out.stderr[-300:]


def test_a_web_page_in_chromium_cannot_upload(tmp_path: Path, make_device,
                                              monkeypatch) -> None:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    srv, (a, _b), _stick = setup(tmp_path, make_device)
    log: list = []
    a.store.put("c", {"v": "from a page"}, "r1")
    data = build_export(a.home, a.store, [peers.by_id(a.store, srv.id)]).data
    with serving(_recording(create_app(srv.home, max_upload=1 << 20), log)) as url:
        page = _PAGE.format(b64=base64.b64encode(data).decode(), url=url)
        _browse(exe, page, tmp_path / "chrome1")
        posts = [e for e in log if e["method"] == "POST"]
        # the browser did send it (a "simple" cross-origin request needs no preflight) ...
        assert posts and posts[0]["origin"] and posts[0]["status"] == 403, log
        # ... and it was refused before anything was read or recorded
        assert srv.sstore.totals()["changes"] == 0 and enroll_mod.held(srv.sstore) == []
        # control: without the Origin check the very same page gets the packet stored
        import sneakersync.server.app as app_mod
        monkeypatch.setattr(app_mod, "browser_upload", lambda headers: None)
        _browse(exe, page, tmp_path / "chrome2")
        assert [e["status"] for e in log if e["method"] == "POST"][-1] == 200, log
        assert srv.sstore.totals()["changes"] == 1
