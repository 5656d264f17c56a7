"""``sneakersync demo --ui``: the demo's devices served in the browser, in a real process.

Also walks the main pages of a device with the demo's data in headless Chromium and
saves their screenshots (``SNEAKERSYNC_UI_SHOTS=docs/ui`` refreshes the README's).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from conftest import REPO
from ui_browser import Browser, need_chromium

pytest.importorskip("jinja2")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    work = tmp_path_factory.mktemp("demo")
    proc = subprocess.Popen([sys.executable, "-m", "sneakersync", "demo", "--fast", "--ui",
                             "--no-browser", "--dir", str(work / "d")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    links: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if "/open?token=" in line:
            name, url = line.split()
            links[name] = url
        if line.startswith("Ctrl-C stops them"):
            break
    try:
        assert {"amina", "juma", "office"} <= set(links), links
        yield links, work
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped" in rest


def test_each_device_opens_with_its_own_link(demo: tuple[dict[str, str], Path]) -> None:
    links, _ = demo
    for name in ("juma", "office"):
        with httpx.Client(follow_redirects=True) as c:
            r = c.get(links[name])
            assert r.status_code == 200 and "Records" in r.text
            assert r.url.path == "/records"
            assert c.get(links[name]).status_code == 403  # the link worked once


def _shot(b: Browser, shots: Path, name: str) -> None:
    b.artifact(shots, name, full=False)


def test_walk_the_pages_with_the_demo_data(demo: tuple[dict[str, str], Path]) -> None:
    need_chromium()
    links, work = demo
    b = Browser(work)
    shots = work / "screenshots"
    try:
        b.goto(links["amina"])
        base = links["amina"].split("/open")[0]
        b.goto(links["stranger"])  # a second device's session in the same browser
        assert b.text(".device").startswith("Unknown phone")
        b.goto(base + "/records")
        assert "shelters" in b.text("main")  # both sessions hold: cookies are per process
        assert b.text(".device").startswith("Amina clinic laptop")
        _shot(b, shots, "demo-records")
        b.goto(base + "/records/shelters")
        assert int(b.eval("document.querySelectorAll('#rows tbody tr').length")) > 0
        _shot(b, shots, "demo-collection")
        b.click("#rows tbody tr a")
        assert b.eval("document.querySelectorAll('#history tbody tr').length") >= 1
        _shot(b, shots, "demo-record")
        for page in ("people", "sync", "qr", "conflicts", "status"):
            b.goto(f"{base}/{page}")
            assert b.eval("document.querySelector('nav a.active').textContent").lower() == page
            _shot(b, shots, f"demo-{page}")
        b.viewport(390, 844, mobile=True)
        b.goto(base + "/people")
        assert b.eval("document.documentElement.scrollWidth <= 390")
        _shot(b, shots, "demo-phone-people")
    finally:
        b.close()


def _ui_process(home: Path, *args: str) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "sneakersync", "--home", str(home), "ui",
                             "--no-browser", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    head = ""
    for line in proc.stdout:
        head += line
        if line.startswith("open: "):
            return proc, line.split()[1], head
    proc.kill()
    raise AssertionError(f"no link printed: {head} {proc.stderr.read() if proc.stderr else ''}")


def test_sneakersync_ui_in_a_real_process(tmp_path: Path) -> None:
    proc, url, _ = _ui_process(tmp_path / "new")
    try:
        assert url.startswith("http://127.0.0.1:") and "/open?token=" in url
        with httpx.Client(follow_redirects=True) as c:
            r = c.get(url)
            assert r.url.path == "/setup" and "Create this device" in r.text
            base = url.split("/open")[0]
            assert httpx.get(base + "/records").status_code == 403  # no cookie, no page
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "the links no longer work" in out, err
    with pytest.raises(httpx.TransportError):
        httpx.get(base + "/records", timeout=5)  # the process, and its token, are gone


def test_listening_beyond_this_machine_warns_and_refuses_wildcards(tmp_path: Path) -> None:
    from conftest import cli

    p = cli(tmp_path / "h", "ui", "--no-browser", "--listen", "0.0.0.0", ok=False)
    assert p.returncode == 2 and "every address" in p.stderr and "Traceback" not in p.stderr
    assert "warning" not in p.stderr
    proc, url, _ = _ui_process(tmp_path / "h", "--listen", "127.0.0.2")
    try:
        assert url.startswith("http://127.0.0.2:")
        assert "warning: listening on 127.0.0.2" in (proc.stderr.readline() if proc.stderr else "")
        with httpx.Client(follow_redirects=True) as c:
            assert c.get(url).url.path == "/setup"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
