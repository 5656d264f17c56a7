"""A device's home folder: keys, description and store.

Layout (all created by ``init``)::

    HOME/device.json      name, id, kind, public keys (no secrets)
    HOME/keys/            0700; sign.key and enc.key, 0600, raw 32-byte secrets
    HOME/store.db         the SQLite store (WAL)
    HOME/quarantine/      packets from unknown or untrusted senders, kept for a decision
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sneakersync.wire import crypto
from sneakersync.errors import AlreadyExistsError, DeviceMissingError, StoreError
from sneakersync.wire.identity import KIND_DEVICE, KINDS, Card, DeviceKeys

ENV_HOME = "SNEAKERSYNC_HOME"


def default_home() -> Path:
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("sneakersync", appauthor=False))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class Home:
    path: Path
    name: str
    kind: int
    keys: DeviceKeys

    @property
    def device_id(self) -> str:
        return self.keys.device_id

    @property
    def card(self) -> Card:
        return self.keys.card(self.name, self.kind)

    @property
    def store_path(self) -> Path:
        return self.path / "store.db"

    @property
    def quarantine_dir(self) -> Path:
        d = self.path / "quarantine"
        d.mkdir(mode=0o700, exist_ok=True)
        return d

    def open_store(self) -> Any:
        from sneakersync.store.records import Store

        return Store(self.store_path, self.device_id)

    def describe(self) -> dict[str, Any]:
        card = self.card
        return {"name": self.name, "device_id": self.device_id, "kind": KINDS[self.kind],
                "card": card.encode(), "sign_public": card.sign_public.hex(),
                "enc_public": card.enc_public.hex(), "home": str(self.path)}


def create(path: Path, name: str, *, kind: int = KIND_DEVICE,
           rng: crypto.Rng = crypto.system_rng) -> Home:
    """Create a new device in ``path``; refuses to overwrite an existing one."""
    path = Path(path)
    if (path / "device.json").exists() or (path / "keys").exists():
        raise AlreadyExistsError(f"a device already exists in {path}",
                                 hints=("use another --home, or keep using this device",))
    keys = DeviceKeys.generate(rng)
    card = keys.card(name, kind)  # validates the name
    path.mkdir(parents=True, exist_ok=True)
    keydir = path / "keys"
    keydir.mkdir(mode=0o700)
    os.chmod(keydir, 0o700)
    _write_private(keydir / "sign.key", keys.sign_seed)
    _write_private(keydir / "enc.key", keys.enc_secret)
    home = Home(path=path, name=card.name, kind=kind, keys=keys)
    home.open_store().close()
    info = {"format": "sneakersync-device-v1", "name": card.name, "kind": KINDS[kind],
            "device_id": keys.device_id, "card": card.encode()}
    _write_atomic(path / "device.json", json.dumps(info, ensure_ascii=False, indent=2) + "\n")
    return home


def load(path: Path) -> Home:
    path = Path(path)
    info_path = path / "device.json"
    if not info_path.exists():
        raise DeviceMissingError(f"no device in {path}",
                                 hints=("create one with: sneakersync init --name NAME",
                                        "or point --home / SNEAKERSYNC_HOME at an existing one"))
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
        keys = DeviceKeys(sign_seed=(path / "keys" / "sign.key").read_bytes(),
                          enc_secret=(path / "keys" / "enc.key").read_bytes())
        kind = {v: k for k, v in KINDS.items()}[info["kind"]]
        name = str(info["name"])
    except (OSError, ValueError, KeyError) as exc:
        raise StoreError(f"device in {path} is damaged: {exc}") from exc
    if keys.device_id != info.get("device_id"):
        raise StoreError(f"device in {path} is damaged: keys do not match its id")
    return Home(path=path, name=name, kind=kind, keys=keys)
