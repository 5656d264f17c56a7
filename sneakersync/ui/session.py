"""What one UI process works on: a device home, its store behind one lock, its secrets.

Secrets (the one-time link token, the session cookie, the CSRF token) are drawn when
the process starts and live only in its memory: they expire with it.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from sneakersync.store import home as home_mod
from sneakersync.store.home import Home
from sneakersync.store.records import Store


@dataclass
class Flash:
    kind: str  # "ok" or "error"
    text: str
    hints: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()


@dataclass
class Session:
    home_path: Path
    label: str = ""  # shown in the title bar (the demo names its devices)
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cookie: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cookie_name: str = field(default_factory=lambda: f"sneakersync_ui_{secrets.token_hex(4)}")
    token_used: bool = False
    hosts: set[str] = field(default_factory=set)  # Host headers accepted ("127.0.0.1:PORT")
    lock: threading.RLock = field(default_factory=threading.RLock)
    flashes: list[Flash] = field(default_factory=list)
    jobs: dict[str, Any] = field(default_factory=dict)
    scratch: dict[str, Any] = field(default_factory=dict)  # QR streams shown, receivers
    ask: Callable[[], str | None] | None = None  # a passphrase without a prompt (None: env)
    _home: Home | None = None

    def has_device(self) -> bool:
        return self._home is not None or (self.home_path / "device.json").exists()

    @property
    def home(self) -> Home:
        """The device, loaded once; a sealed one raises LockedError until :meth:`unlock`."""
        if self._home is None:
            with self.lock:
                if self._home is None:
                    self._home = home_mod.load(self.home_path, self.ask)
        return self._home

    def locked(self) -> bool:
        from sneakersync.errors import LockedError

        try:
            self.home
        except LockedError:
            return True
        return False

    def unlock(self, passphrase: str) -> Home:
        """Open the sealed device with its passphrase, once for this process."""
        with self.lock:
            self._home = home_mod.load(self.home_path, passphrase)
            return self._home

    def create_device(self, name: str, passphrase: str | None) -> Home:
        with self.lock:
            self._home = home_mod.create(self.home_path, name, passphrase=passphrase)
            return self._home

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The device's store, opened for this request under the session lock.

        SQLite connections belong to the thread that opened them and requests run on
        a pool of threads, so each request opens its own; the lock keeps one writer.
        """
        with self.lock:
            st = self.home.open_store()
            try:
                yield st
            finally:
                st.close()

    def flash(self, kind: str, text: str, hints: tuple[str, ...] = (),
              lines: tuple[str, ...] = ()) -> None:
        self.flashes.append(Flash(kind, text, tuple(hints), tuple(lines)))
        del self.flashes[:-5]

    def take_flashes(self) -> list[Flash]:
        out, self.flashes = self.flashes, []
        return out

    def open_url(self, base: str) -> str:
        return f"{base}/open?token={self.token}"
