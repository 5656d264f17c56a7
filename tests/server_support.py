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
from sneakersync.server.store import SqliteServerStore

from conftest import Device, det_rng


class Server:
    def __init__(self, path: Path, seed: int = 99) -> None:
        self.home = home_mod.create(path, "Office server", kind=KIND_SERVER, rng=det_rng(seed))
        self.core = self.home.open_store()
        self.sstore = SqliteServerStore(self.core)

    @property
    def id(self) -> str:
        return self.home.device_id

    def enroll(self, dev: Device, **kw: Any) -> Any:
        from sneakersync.server.enroll import enroll

        return enroll(self.home, self.sstore, dev.home.card.encode(), **kw)

    def ingest(self, drive: Path) -> dict[str, Any]:
        return ingest_drive(self.home, self.sstore, drive).as_json()

    def close(self) -> None:
        self.core.close()


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
