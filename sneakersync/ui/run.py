"""Serve the UI: bind 127.0.0.1 on a free port, open the one-time link, run until stopped."""

from __future__ import annotations

import socket
import threading
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sneakersync.errors import SneakersyncError, UsageError, missing_extra
from sneakersync.ui.session import Session

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_extras() -> None:
    for mod in ("starlette", "uvicorn", "jinja2"):
        try:
            __import__(mod)
        except ImportError as exc:
            raise missing_extra("ui", mod) from exc


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening socket (port 0: a free one the system picks)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(64)
    return sock


@dataclass
class Running:
    session: Session
    url: str  # the one-time link
    base: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start(session: Session, *, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Serve ``session`` in a background thread; returns the link to open."""
    check_extras()
    if host in ("0.0.0.0", "::", ""):
        raise UsageError(f"--listen {host or '(empty)'} would answer on every address, under "
                         "names this page cannot check",
                         hints=("give this machine's own address on the network, "
                                "e.g. --listen 192.168.1.20",))
    import uvicorn

    from sneakersync.ui.app import build_app

    sock = bind(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    session.hosts.update({f"127.0.0.1:{bound}", f"localhost:{bound}"} if host in LOOPBACK
                         else {f"{shown}:{bound}"})
    if host not in LOOPBACK:
        session.hosts.update({f"127.0.0.1:{bound}", f"localhost:{bound}"})
    app = build_app(session)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://{'127.0.0.1' if host in LOOPBACK else shown}:{bound}"
    return Running(session, session.open_url(base), base, server, thread)


def open_browser(url: str, say: Callable[[str], None]) -> None:
    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if not opened:
        say("no browser could be opened here: open the link above yourself")


def device_homes(root: Path) -> list[Path]:
    """The device homes directly inside ``root`` (a demo's folder), servers left out."""
    from sneakersync.store import home as home_mod
    from sneakersync.wire.identity import KIND_SERVER

    out = []
    for p in sorted(root.iterdir()):
        if (p / "device.json").exists():
            try:
                if home_mod.load(p).kind != KIND_SERVER:
                    out.append(p)
            except SneakersyncError:
                continue
    return out


def serve_until_interrupted(running: list[Running], say: Callable[[str], None]) -> None:
    """Block until Ctrl-C (or every server stopped), then stop them all."""
    try:
        while any(r.thread.is_alive() for r in running):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for r in running:
            r.stop()
        say("stopped; the links no longer work")
