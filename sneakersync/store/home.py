"""A device's home folder: keys, description and store.

Layout (all created by ``init``; the home is 0700 and every file in it 0600,
whatever the umask)::

    HOME/device.json        format and, for a home without a passphrase, name, id, kind, card
    HOME/keys/              0700
      identity.sealed       with a passphrase: name, kind, both private keys and the
                            store key, sealed under it (formats/keys-v1.md)
      sign.key, enc.key     without a passphrase (--no-passphrase): raw 32-byte secrets
    HOME/store.db           the SQLite store (WAL); SQLCipher-encrypted when sealed
    HOME/quarantine/        packets from unknown or untrusted senders, kept for a decision

A sealed home tells a reader without the passphrase nothing but that it is a
sneakersync home and the sizes of its files.  A plain home becomes sealed in
place with ``store.protect.protect`` (``sneakersync passphrase set``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

from sneakersync.wire import crypto
from sneakersync.errors import AlreadyExistsError, DeviceMissingError, LockedError, StoreError
from sneakersync.store import keystore
from sneakersync.store.reading import ENV_HOME, default_home  # noqa: F401  (where homes are)
from sneakersync.wire.identity import KIND_DEVICE, KINDS, Card, DeviceKeys

DEVICE_FORMAT = "sneakersync-device-v1"
SEALED = "identity.sealed"
SEALING_STORE = "store.db.sealing"  # the encrypted copy a migration writes before its commit
# a passphrase, a function that finds one (None: there is none), or None for the environment
Passphrase = Union[str, Callable[[], Union[str, None]], None]
# given a sealed key file's bytes, its plaintext if an unlock agent holds it, else None
Unlocked = Callable[[bytes], Union[bytes, None]]


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """0600 temp file, fsync, rename, fsync the folder: the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    _write_private(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _device_json(info: dict[str, Any]) -> bytes:
    return (json.dumps(info, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def make_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


@dataclass
class Home:
    path: Path
    name: str
    kind: int
    keys: DeviceKeys
    store_key: bytes | None = None  # set when the home is sealed under a passphrase
    kdf: keystore.KdfParams | None = None

    @property
    def sealed(self) -> bool:
        return self.store_key is not None

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

        return Store(self.store_path, self.device_id, key=self.store_key)

    def secrets(self) -> keystore.Secrets:
        """What a sealed key file holds for this home."""
        if self.store_key is None:
            raise StoreError("this home has no passphrase: it has no sealed secrets")
        return keystore.Secrets(self.name, KINDS[self.kind], self.keys.sign_seed,
                                self.keys.enc_secret, self.store_key)

    def protection(self) -> str:
        """What a thief with this folder faces, in words (``whoami`` shows it)."""
        if not self.sealed:
            return ("none: --no-passphrase, keys and store are NOT protected at rest")
        if self.kdf is not None and self.kdf.weak:
            return ("passphrase, TEST-ONLY weak Argon2id parameters "
                    f"({self.kdf.ops} pass, {self.kdf.mem} bytes): not for real data")
        return "passphrase (Argon2id; store encrypted with SQLCipher)"

    def describe(self) -> dict[str, Any]:
        card = self.card
        return {"name": self.name, "device_id": self.device_id, "kind": KINDS[self.kind],
                "card": card.encode(), "sign_public": card.sign_public.hex(),
                "enc_public": card.enc_public.hex(), "home": str(self.path),
                "passphrase": self.sealed, "protection": self.protection()}


def create(path: Path, name: str, *, kind: int = KIND_DEVICE,
           rng: crypto.Rng = crypto.system_rng, passphrase: str | None = None) -> Home:
    """Create a new device in ``path``; refuses to overwrite an existing one.

    With a ``passphrase`` the keys are sealed and the store encrypted; without
    one (kiosks, tests, the library default) they are plain files.
    """
    path = Path(path)
    if (path / "device.json").exists() or (path / "keys").exists():
        raise AlreadyExistsError(f"a device already exists in {path}",
                                 hints=("use another --home, or keep using this device",))
    keys = DeviceKeys.generate(rng)
    card = keys.card(name, kind)  # validates the name
    make_private_dir(path)
    keydir = path / "keys"
    keydir.mkdir(mode=0o700)
    os.chmod(keydir, 0o700)
    info: dict[str, Any] = {"format": DEVICE_FORMAT}
    if passphrase is not None:
        store_key = rng(32)
        params = keystore.creation_params()
        _write_private(keydir / SEALED, keystore.seal(
            keystore.Secrets(card.name, KINDS[kind], keys.sign_seed, keys.enc_secret, store_key),
            passphrase, params=params, rng=rng))
        home = Home(path=path, name=card.name, kind=kind, keys=keys, store_key=store_key,
                    kdf=params)
        info["sealed"] = True
    else:
        _write_private(keydir / "sign.key", keys.sign_seed)
        _write_private(keydir / "enc.key", keys.enc_secret)
        home = Home(path=path, name=card.name, kind=kind, keys=keys)
        info.update({"name": card.name, "kind": KINDS[kind], "device_id": keys.device_id,
                     "card": card.encode()})
    fsync_dir(keydir)
    home.open_store().close()
    write_atomic(path / "device.json", _device_json(info))
    return home


def find_passphrase(passphrase: Passphrase) -> str | None:
    if passphrase is None:
        return keystore.passphrase_from_env()
    if callable(passphrase):
        return passphrase()
    return passphrase


def load(path: Path, passphrase: Passphrase = None, *, unlocked: Unlocked | None = None) -> Home:
    """Open the device in ``path``.

    A sealed home needs its passphrase: given, found by the given function, or
    (``None``) taken from ``SNEAKERSYNC_PASSPHRASE`` / ``SNEAKERSYNC_PASSPHRASE_FILE``.
    A wrong or missing one is a :class:`LockedError` and nothing is touched.
    ``unlocked``, given the sealed file's bytes, may return its plaintext as an
    unlock agent kept it (:func:`keystore.encode_secrets`); then no passphrase is
    asked and no key derivation runs.
    """
    path = Path(path)
    info_path = path / "device.json"
    if not info_path.exists():
        raise DeviceMissingError(f"no device in {path}",
                                 hints=("create one with: sneakersync init --name NAME",
                                        "or point --home / SNEAKERSYNC_HOME at an existing one"))
    sealed_path = path / "keys" / SEALED
    if sealed_path.exists():
        return _load_sealed(path, sealed_path, passphrase, unlocked)
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


def _load_sealed(path: Path, sealed_path: Path, passphrase: Passphrase,
                 unlocked: Unlocked | None) -> Home:
    try:
        data = sealed_path.read_bytes()
    except OSError as exc:
        raise StoreError(f"device in {path} is damaged: {exc}") from exc
    keystore.params_of(data)  # a damaged file is told apart before any passphrase is asked
    kept = unlocked(data) if unlocked is not None else None
    if kept is not None:
        sec = keystore.decode_secrets(kept)
    else:
        got = find_passphrase(passphrase)
        if got is None:
            raise LockedError(f"the device in {path} is locked: its passphrase is needed",
                              hints=("type it when asked, or give --passphrase-fd N, "
                                     "--passphrase-file PATH or SNEAKERSYNC_PASSPHRASE",
                                     "or run `sneakersync unlock` once for the session"))
        sec = keystore.unseal(data, got)
    try:
        keys = DeviceKeys(sign_seed=sec.sign_seed, enc_secret=sec.enc_secret)
        kind = {v: k for k, v in KINDS.items()}[sec.kind]
    except (ValueError, KeyError) as exc:
        raise StoreError(f"device in {path} is damaged: {exc}") from exc
    finish_sealing(path)
    return Home(path=path, name=sec.name, kind=kind, keys=keys, store_key=sec.store_key,
                kdf=keystore.params_of(data))


def finish_sealing(path: Path) -> None:
    """Roll an interrupted ``passphrase set`` forward (idempotent, nothing to ask).

    Once ``keys/identity.sealed`` exists the migration has committed: the encrypted
    copy replaces the plain store, the raw key files go, and ``device.json`` loses
    the name.  Each step may be repeated after a crash.
    """
    pending = path / SEALING_STORE
    if pending.exists():
        for extra in ("store.db-wal", "store.db-shm", "store.db-journal"):
            (path / extra).unlink(missing_ok=True)  # the plain store's (checkpointed before)
        os.replace(pending, path / "store.db")
        fsync_dir(path)
    for raw in ("sign.key", "enc.key"):
        f = path / "keys" / raw
        if f.exists():
            _scrub(f)
    info_path = path / "device.json"
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    if set(info) != {"format", "sealed"}:
        write_atomic(info_path, _device_json({"format": DEVICE_FORMAT, "sealed": True}))


def _scrub(f: Path) -> None:
    """Overwrite a raw key file with zeros, then remove it (best effort on flash and
    journaling file systems: RELIABILITY.md says what may survive)."""
    size = f.stat().st_size
    with open(f, "r+b") as fh:
        fh.write(b"\0" * size)
        fh.flush()
        os.fsync(fh.fileno())
    f.unlink()
    fsync_dir(f.parent)
