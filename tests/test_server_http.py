"""Online handover: uvicorn on 127.0.0.1 (a thread), push, tampered uploads, dashboard."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from sneakersync.store import peers
from sneakersync.sync import receipts  # noqa: E402
from sneakersync.server.app import create_app  # noqa: E402
from sneakersync.media.http import ServerRefused, push  # noqa: E402
from sneakersync.sync.engine import build_export  # noqa: E402

from server_support import setup  # noqa: E402


pytestmark = pytest.mark.usefixtures("server_backend")  # each test on SQLite and PostgreSQL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live(tmp_path: Path, make_device) -> Iterator[tuple]:
    import uvicorn

    srv, devs, stick = setup(tmp_path, make_device)
    port = _free_port()
    config = uvicorn.Config(create_app(srv.home, max_upload=1 << 20), host="127.0.0.1",
                            port=port, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    assert server.started
    yield srv, devs, f"http://127.0.0.1:{port}"
    server.should_exit = True
    t.join(5)


def test_push_stores_and_returns_receipt(live) -> None:
    srv, (a, b), url = live
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(12)])
    res = push(a.home, a.store, url)
    assert res["changes"] == 12 and res["status"] == "stored"
    assert res["receipt"]["status"] == "accepted" and res["receipt"]["seq"] == 12
    # nothing new: the current receipt is fetched, and it is the same one
    again = push(a.home, a.store, url)
    assert again["changes"] == 0 and again["receipt"]["status"] == "duplicate"
    assert receipts.status(a.store)[0]["seq"] == 12
    assert srv.sstore.totals()["changes"] == 12


def test_push_of_more_than_one_packet_goes_in_parts(live, monkeypatch) -> None:
    """The server takes at most 10,000 changes a packet (server-http-v1 §2.1): push sends
    a split export part by part, each stored and remembered, and applies the last receipt."""
    import sneakersync.media.http as client

    srv, (a, b), url = live
    real = client.build_exports
    monkeypatch.setattr(client, "build_exports",
                        lambda *args, **kw: real(*args, max_changes=10, **kw))
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(25)])
    res = push(a.home, a.store, url)
    assert res["packets"] == 3 and res["changes"] == 25 and res["status"] == "stored"
    assert res["receipt"]["status"] == "accepted" and res["receipt"]["seq"] == 25
    assert srv.sstore.totals()["changes"] == 25 and srv.sstore.totals()["packets"] == 3
    assert push(a.home, a.store, url)["status"] == "nothing new"


def test_tampered_upload_is_rejected_with_layer(live) -> None:
    srv, (a, b), url = live
    a.store.put("c", {"secret": "x"})
    dest = peers.by_id(a.store, srv.id)
    data = bytearray(build_export(a.home, a.store, [dest]).data)
    data[len(data) // 2] ^= 0x20
    r = httpx.post(f"{url}/v1/packets", content=bytes(data))
    assert r.status_code == 400
    err = r.json()
    assert err["status"] == "rejected" and err["layer"] in ("payload", "hmac", "header")
    # a packet for someone else: 422 no-match
    other = build_export(a.home, a.store, [peers.by_id(a.store, b.id)]).data
    r = httpx.post(f"{url}/v1/packets", content=other)
    assert r.status_code == 422 and r.json()["layer"] == "no-match"
    # too large: 413
    r = httpx.post(f"{url}/v1/packets", content=b"x" * ((1 << 20) + 1))
    assert r.status_code == 413
    assert srv.sstore.totals()["changes"] == 0


def test_push_reports_refusal(live, monkeypatch) -> None:
    srv, (a, b), url = live
    a.store.put("c", {"v": 1})
    import sneakersync.media.http as client

    real = client.build_exports

    def broken(*args, **kw):
        outs = real(*args, **kw)
        for out in outs:
            out.data = out.data[:-40] + bytes(40)
        return outs
    monkeypatch.setattr(client, "build_exports", broken)
    with pytest.raises(ServerRefused) as ei:
        push(a.home, a.store, url)
    assert "400" in str(ei.value) and ei.value.exit_code == 5


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_dashboard_renders_in_headless_chromium(live, tmp_path: Path) -> None:
    srv, (a, b), url = live
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(3)])
    push(a.home, a.store, url)
    page = httpx.get(url + "/")
    assert page.status_code == 200 and "<script" not in page.text
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    out = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                          "--disable-background-networking", "--disable-component-update",
                          "--disable-sync", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'chrome'}", "--dump-dom", url + "/"],
                         capture_output=True, text=True, timeout=60)
    dom = out.stdout
    assert "<h1>sneakersync server: Office server</h1>" in dom, out.stderr[-500:]
    assert a.home.name in dom and a.id in dom
    assert 'id="total-changes">3<' in dom
    assert "no open conflicts" in dom
