"""Seal an existing plain home in place, and change a sealed home's passphrase.

Both are crash-safe: each has one commit point, an atomic rename of
``keys/identity.sealed`` (or its creation), and ``kill -9`` anywhere leaves the
old home or the new one, never neither.

Sealing (``sneakersync passphrase set``):

1. the plain store is switched to rollback-journal mode (this checkpoints and
   removes its WAL, and fails if another process has it open) and locked;
2. SQLCipher's ``sqlcipher_export`` writes an encrypted copy, ``store.db.sealing``,
   under a fresh random store key; it is fsynced and checked (integrity and row
   counts) before anything else happens;
3. the sealed key file is written under a temp name, fsynced, and renamed to
   ``keys/identity.sealed``: the commit;
4. :func:`home.finish_sealing` moves the encrypted copy over the plain store,
   scrubs the raw key files and strips the name from ``device.json``.  Every
   later load repeats step 4 if a crash cut it short.

Before step 3 a crash leaves the plain home (the next attempt clears the
leftovers); after it, the sealed one.
"""

from __future__ import annotations

import os
from pathlib import Path

from sneakersync.errors import StoreError, UsageError
from sneakersync.store import home as home_mod
from sneakersync.store import keystore
from sneakersync.wire import crypto
from sneakersync.wire.identity import KINDS

_TABLES_CHECKED = ("changes", "records", "peers", "packets")


def protect(path: Path, passphrase: str, *, rng: crypto.Rng = crypto.system_rng) -> home_mod.Home:
    """Seal the plain home in ``path`` under ``passphrase``; returns the sealed home."""
    path = Path(path)
    keystore.encode_passphrase(passphrase)  # refuse an empty one before touching anything
    if (path / "keys" / home_mod.SEALED).exists():
        raise UsageError(f"the device in {path} already has a passphrase",
                         hints=("change it with: sneakersync passphrase change",))
    plain = home_mod.load(path)
    for stale in (path / home_mod.SEALING_STORE, path / "keys" / (home_mod.SEALED + ".tmp")):
        stale.unlink(missing_ok=True)  # an earlier attempt that died before its commit
    home_mod.make_private_dir(path)
    store_key = rng(32)
    _export_encrypted(path / "store.db", path / home_mod.SEALING_STORE, store_key)
    params = keystore.creation_params()
    sealed = keystore.seal(keystore.Secrets(plain.name, KINDS[plain.kind], plain.keys.sign_seed,
                                            plain.keys.enc_secret, store_key),
                           passphrase, params=params, rng=rng)
    home_mod.write_atomic(path / "keys" / home_mod.SEALED, sealed)  # the commit
    home_mod.finish_sealing(path)
    return home_mod.Home(path=path, name=plain.name, kind=plain.kind, keys=plain.keys,
                         store_key=store_key, kdf=params)


def _export_encrypted(src: Path, dst: Path, key: bytes) -> None:
    import sqlcipher3

    errors = (sqlcipher3.DatabaseError,)
    conn = sqlcipher3.connect(str(src), isolation_level=None, timeout=2)
    try:
        try:
            mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
        except errors as exc:
            raise StoreError(f"the store is in use: {exc}",
                             hints=("close other sneakersync commands and servers on this "
                                    "home, then try again",)) from exc
        if str(mode).lower() != "delete":
            raise StoreError("the store is in use (its WAL could not be checkpointed)",
                             hints=("close other sneakersync commands and servers on this "
                                    "home, then try again",))
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")  # held until close: no writer slips in meanwhile
        conn.execute("COMMIT")
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in _TABLES_CHECKED}
        fd = os.open(str(dst), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        vacuum = int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
        conn.execute(f"ATTACH DATABASE ? AS sealed KEY \"x'{key.hex()}'\"", (str(dst),))
        conn.execute(f"PRAGMA sealed.auto_vacuum={vacuum}")  # compaction keeps freeing pages
        conn.execute("SELECT sqlcipher_export('sealed')")
        conn.execute("DETACH DATABASE sealed")
        with open(dst, "rb+") as fh:
            os.fsync(fh.fileno())
        home_mod.fsync_dir(dst.parent)
        check = sqlcipher3.connect(str(dst), isolation_level=None)
        try:
            check.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
            ok = check.execute("PRAGMA integrity_check").fetchone()[0]
            got = {t: check.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                   for t in _TABLES_CHECKED}
        finally:
            check.close()
        if ok != "ok" or got != counts:
            raise StoreError(f"the encrypted copy does not match the store ({ok}); "
                             "nothing was changed")
    except errors as exc:
        raise StoreError(f"the store could not be encrypted: {exc}; nothing was changed") from exc
    finally:
        conn.close()


def change_passphrase(path: Path, old: str, new: str, *,
                      rng: crypto.Rng = crypto.system_rng) -> home_mod.Home:
    """Re-seal the keys under ``new``.  The store key stays (the store is not rewritten);
    the one rename of the key file is the commit."""
    path = Path(path)
    keystore.encode_passphrase(new)
    if not (path / "keys" / home_mod.SEALED).exists():
        raise UsageError(f"the device in {path} has no passphrase yet",
                         hints=("set one with: sneakersync passphrase set",))
    h = home_mod.load(path, old)  # a wrong old passphrase stops here, nothing touched
    assert h.store_key is not None
    params = keystore.creation_params()
    sealed = keystore.seal(keystore.Secrets(h.name, KINDS[h.kind], h.keys.sign_seed,
                                            h.keys.enc_secret, h.store_key),
                           new, params=params, rng=rng)
    home_mod.write_atomic(path / "keys" / home_mod.SEALED, sealed)
    h.kdf = params
    return h
