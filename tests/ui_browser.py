"""A small DevTools-protocol client for the UI tests: headless Chromium from the distribution.

One browser per test module (launched once, several pages share it).  No browser is
downloaded: the tests skip, saying why, when ``chromium`` is not installed.  Waits have
a generous deadline but no assertion depends on timing.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

DEADLINE = 60.0


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def need_chromium() -> str:
    exe = chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    return exe


class BrowserError(AssertionError):
    pass


class Browser:
    """Chromium in headless mode, driven over its DevTools websocket."""

    def __init__(self, workdir: Path, *, camera_file: Path | None = None) -> None:
        from websockets.sync.client import connect

        exe = need_chromium()
        args = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--mute-audio",
                "--remote-debugging-port=0", "--remote-allow-origins=*",
                f"--user-data-dir={workdir / 'profile'}", "--window-size=1280,900",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        if camera_file is not None:
            args.append(f"--use-file-for-fake-video-capture={camera_file}")
        args.append("about:blank")
        self.log = open(workdir / "chromium.log", "w+b")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ws_url = self._ws_url()
        self.ws = connect(ws_url, max_size=None, open_timeout=DEADLINE).__enter__()
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})

    def _ws_url(self) -> str:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.write(line)
            text = line.decode("utf-8", "replace")
            if "DevTools listening on " in text:
                # keep draining stderr so Chromium never blocks on a full pipe
                import threading

                def drain() -> None:
                    assert self.proc.stderr is not None
                    for more in self.proc.stderr:
                        self.log.write(more)

                threading.Thread(target=drain, daemon=True).start()
                return text.split("DevTools listening on ", 1)[1].strip()
        raise BrowserError("chromium did not start its DevTools endpoint")

    # --- protocol -------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        mid = next(self.ids)
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        while True:
            got = json.loads(self.ws.recv(timeout=DEADLINE))
            if got.get("id") == mid:
                if "error" in got:
                    raise BrowserError(f"{method}: {got['error']}")
                return dict(got.get("result", {}))
            self.events.append(got)

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.call(method, params, self.session)

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.log.close()

    # --- pages ----------------------------------------------------------------------
    def eval(self, expr: str) -> Any:
        got = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                             "awaitPromise": True})
        if "exceptionDetails" in got:
            raise BrowserError(f"{expr[:80]}: {got['exceptionDetails']}")
        return got["result"].get("value")

    def wait(self, expr: str, what: str = "", deadline: float = DEADLINE) -> Any:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                got = self.eval(expr)
            except BrowserError:
                got = None
            if got:
                return got
            time.sleep(0.05)
        raise BrowserError(f"waited in vain for {what or expr}; page: {self.text()[:500]}")

    def goto(self, url: str) -> None:
        self.eval("window.__loaded = false")
        self.send("Page.navigate", {"url": url})
        self._settle()

    def _settle(self) -> None:
        self.wait("window.__loaded === undefined && document.readyState === 'complete'",
                  "the next page to load")

    def click(self, selector: str, *, navigates: bool = True) -> None:
        if navigates:
            self.eval("window.__loaded = false")
        self.eval(f"document.querySelector({json.dumps(selector)}).click()")
        if navigates:
            self._settle()

    def fill(self, selector: str, value: str) -> None:
        self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                  f"e.value = {json.dumps(value)}; return true; }})()")

    def text(self, selector: str = "body") -> str:
        return str(self.eval(f"(document.querySelector({json.dumps(selector)}) || "
                             "{innerText: ''}).innerText"))

    def html(self) -> str:
        return str(self.eval("document.documentElement.outerHTML"))

    def url(self) -> str:
        return str(self.eval("location.href"))

    def screenshot(self, path: Path, *, full: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def artifact(self, folder: Path, name: str, *, full: bool = True) -> Path:
        """A screenshot kept as a test artifact; also copied to $SNEAKERSYNC_UI_SHOTS when
        set (``SNEAKERSYNC_UI_SHOTS=docs/ui`` refreshes the README's pictures)."""
        path = self.screenshot(folder / f"{name}.png", full=full)
        extra = os.environ.get("SNEAKERSYNC_UI_SHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path

    def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def console_errors(self) -> list[str]:
        out = []
        for e in self.events:
            if e.get("method") == "Log.entryAdded":
                entry = e["params"]["entry"]
                if entry.get("level") == "error":
                    out.append(entry.get("text", ""))
        return out
