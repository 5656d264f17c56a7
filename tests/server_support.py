"""Helpers shared by the server, receipt and prune tests: a server and devices that use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sneakersync.store import home as home_mod
from sneakersync.store import peers
from sneakersync.media.drive import export_to_drive, import_from_drive
from sneakersync.wire.identity import KIND_SERVER
from sneakersync.server.ingest import ingest_drive
from sneakersync.server.setup import use_server
from sneakersync.server.backends import open_server_db, set_db_url

from conftest import Device, det_rng

# set by the server_backend fixture (conftest): None for SQLite, else a PostgreSQL URL whose
# search path is a schema of this test's own
DB_URL: str | None = None
PG_BASE: str | None = None  # the cluster URL itself (for a second store in one test)
_OPEN: list["Server"] = []
_USED: set[str] = set()  # database URLs given to a server in this test


def close_all() -> None:
    _USED.clear()
    while _OPEN:
        _OPEN.pop().close()


class Server:
    """A server home; its store is SQLite, or PostgreSQL when the test runs on that backend.

    ``sstore`` is one long session (one connection) for the test to inspect and drive.
    """

    def __init__(self, path: Path, seed: int = 99) -> None:
        self.home = home_mod.create(path, "Office server", kind=KIND_SERVER, rng=det_rng(seed))
        if DB_URL is not None:
            url = DB_URL
            if DB_URL in _USED and PG_BASE is not None:
                from pg_cluster import new_schema  # a second server: a database of its own

                _, url = new_schema(PG_BASE)
            set_db_url(self.home.path, url)
            _USED.add(url)
        self.url = DB_URL if DB_URL is None else url
        self.db = open_server_db(self.home, pool_size=2)
        self._session = self.db.session()
        self.sstore = self._session.__enter__()
        self.core = self.sstore.core
        self.backend = self.db.backend
        _OPEN.append(self)

    @property
    def id(self) -> str:
        return self.home.device_id

    def enroll(self, dev: Device, **kw: Any) -> Any:
        from sneakersync.server.enroll import enroll

        return enroll(self.home, self.sstore, dev.home.card.encode(), **kw)

    def ingest(self, drive: Path) -> dict[str, Any]:
        return ingest_drive(self.home, self.sstore, drive).as_json()

    def close(self) -> None:
        if self._session is not None:
            self._session.__exit__(None, None, None)
            self._session = None
            self.db.close()
        if self in _OPEN:
            _OPEN.remove(self)


def setup(tmp_path: Path, make_device: Any, n: int = 2) -> tuple[Server, list[Device], Path]:
    srv = Server(tmp_path / "server")
    devs = [make_device(f"dev{i}", seed=i + 1) for i in range(n)]
    for a in devs:
        for b in devs:
            if a is not b:
                peers.add(a.store, b.home.card.encode())
        use_server(a.store, srv.home.card.encode())
        srv.enroll(a)
    stick = tmp_path / "stick"
    stick.mkdir()
    return srv, devs, stick


def export(dev: Device, stick: Path, to: list[str] | None = None) -> dict[str, Any]:
    return export_to_drive(dev.home, dev.store, stick, to or [])


def import_(dev: Device, stick: Path) -> Any:
    return import_from_drive(dev.home, dev.store, stick)


def receipt_files(stick: Path) -> dict[str, bytes]:
    d = stick / "sneakersync" / "v1" / "receipts"
    return {p.name: p.read_bytes() for p in sorted(d.glob("*.rcpt"))} if d.exists() else {}
