"""Shared fixtures: devices made through the library (fast) in temp folders."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

from sneakersync.store import home as home_mod
from sneakersync.store import peers
from sneakersync.store.home import Home

# Homes made by the CLI in tests (and in their child processes) are sealed under this
# passphrase, with the Argon2id minimum that SNEAKERSYNC_TEST_WEAK_KDF allows (tests
# only: real homes use MODERATE).  Library-made homes stay plain unless a test asks.
os.environ.setdefault("SNEAKERSYNC_PASSPHRASE", "correct horse battery staple")
os.environ["SNEAKERSYNC_TEST_WEAK_KDF"] = "1"

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def det_rng(seed: int) -> Callable[[int], bytes]:
    r = random.Random(seed)
    return lambda n: bytes(r.getrandbits(8) for _ in range(n))


class Device:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.store = home.open_store()

    @property
    def id(self) -> str:
        return self.home.device_id

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def make_device(tmp_path: Path) -> Iterator[Callable[..., Device]]:
    made: list[Device] = []

    def make(name: str, seed: int | None = None) -> Device:
        rng = det_rng(seed) if seed is not None else os.urandom
        h = home_mod.create(tmp_path / name.replace(" ", "_"), name, rng=rng)
        d = Device(h)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def befriend(*devices: Device) -> None:
    for a in devices:
        for b in devices:
            if a is not b and peers.by_id(a.store, b.id) is None:
                peers.add(a.store, b.home.card.encode())


def cli(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sneakersync --home HOME ARGS`` in a real process."""
    p = subprocess.run([sys.executable, "-m", "sneakersync", "--home", str(home), *args],
                       capture_output=True, text=True, cwd=REPO)
    if ok:
        assert p.returncode == 0, p.stderr
    return p


def send(src: Device, dsts: list[Device], **kw: object):  # type: ignore[no-untyped-def]
    """Build (and remember as sent) one packet from ``src`` for ``dsts``."""
    from sneakersync.sync.engine import build_export

    out = build_export(src.home, src.store, [peers.by_id(src.store, d.id) for d in dsts], **kw)
    if out is not None:
        out.commit(src.store)
    return out


def recv(dst: Device, data: bytes):  # type: ignore[no-untyped-def]
    """Import one packet into ``dst``; returns the report."""
    from sneakersync.sync.engine import ImportReport, import_packet

    rep = ImportReport()
    import_packet(dst.home, dst.store, data, rep)
    return rep


# --- server backends: the server tests run once on SQLite and once on PostgreSQL ---------

_PG: dict[str, object] = {}


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL: CI's cluster (SNEAKERSYNC_TEST_PG_URL), else one started here from
    the installed binaries; the test is skipped, saying why, only if none can start."""
    import pg_cluster

    env = os.environ.get(pg_cluster.ENV_URL)
    if env:
        yield env
        return
    try:
        url = pg_cluster.start()
    except pg_cluster.ClusterError as exc:
        pytest.skip(f"PostgreSQL cannot start here: {exc}")
    base = url.split("host=", 1)[1]
    try:
        yield url
    finally:
        pg_cluster.stop(Path(base))


@pytest.fixture(params=["sqlite", "postgresql"])
def server_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Parametrises a server test over both backends: server_support.Server picks it up."""
    import server_support

    if request.param == "sqlite":
        server_support.DB_URL = None
        yield "sqlite"
        return
    import pg_cluster

    base = request.getfixturevalue("pg_url")
    name, url = pg_cluster.new_schema(base)
    server_support.DB_URL, server_support.PG_BASE = url, base
    try:
        yield url
    finally:
        server_support.DB_URL = None
        server_support.close_all()
        pg_cluster.drop_schema(base, name)
