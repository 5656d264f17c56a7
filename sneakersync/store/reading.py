"""Reading the store without the machinery that changes it.

The queries behind the commands that only look (``collections``, ``get``), on a
bare connection.  :class:`~sneakersync.store.records.Store` answers them with
these same functions; :func:`open_store` lets the command line answer them
without loading the crypto, the codecs and the command tree first, so a look at
the store starts about as fast as Python itself (issue 15).

Nothing here writes: :func:`open_store` sets ``query_only``, and gives up (returns
``None``) on anything that is not a current, healthy store of this home it can
open at once, so the caller can take the full path, which opens, migrates,
unlocks or reports.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Callable

from sneakersync.errors import NotFoundError, StoreError

SCHEMA_VERSION = 1
DEFAULT_POLICY = "manual"  # a collection with no policy set, and no device default
ENV_HOME = "SNEAKERSYNC_HOME"


def default_home() -> Path:
    """``$SNEAKERSYNC_HOME``, else the user data folder of this platform."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("sneakersync", appauthor=False))


class Record:
    """One record as users see it (a plain class: ``dataclasses`` costs a look at the
    store a quarter of its start-up)."""

    __slots__ = ("collection", "rid", "data", "deleted", "vv", "origin", "counter",
                 "conflict", "open", "fork_of")

    def __init__(self, collection: str, rid: str, data: dict[str, Any] | None, deleted: bool,
                 vv: dict[str, int], origin: str, counter: int, conflict: str | None = None,
                 open: bool = False, fork_of: str | None = None) -> None:
        self.collection = collection
        self.rid = rid
        self.data = data
        self.deleted = deleted
        self.vv = vv
        self.origin = origin
        self.counter = counter
        self.conflict = conflict
        self.open = open
        self.fork_of = fork_of

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, k) for k in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  (mutable, like the dataclass it was)

    def __repr__(self) -> str:
        return "Record(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.rid, "data": self.data}
        if self.conflict:
            out["conflict"] = self.conflict
        if self.fork_of:
            out["fork_of"] = self.fork_of
        return out


def meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return None if row is None else str(row[0])


def policy(conn: sqlite3.Connection, collection: str) -> str:
    """The conflict policy of ``collection``: its own, the device's default, or manual."""
    row = conn.execute("SELECT policy FROM collections WHERE name=?", (collection,)).fetchone()
    if row:
        return str(row[0])
    return meta(conn, "setting:default_policy") or DEFAULT_POLICY


def collections(conn: sqlite3.Connection,
                policy_of: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
    """Each collection with records, its live and deleted counts and its policy."""
    of = policy_of or (lambda name: policy(conn, name))
    return [{"name": name, "records": live, "deleted": deleted, "policy": of(name)}
            for name, live, deleted in conn.execute(
                "SELECT collection, SUM(deleted=0), SUM(deleted=1) FROM records "
                "GROUP BY collection ORDER BY collection").fetchall()]


def get(conn: sqlite3.Connection, collection: str, rid: str, *,
        include_deleted: bool = False) -> Record:
    row = conn.execute(
        "SELECT data, deleted, vv, origin, counter, conflict, open, fork_of FROM records "
        "WHERE collection=? AND rid=?", (collection, rid)).fetchone()
    if row is None or (row[1] and not include_deleted):
        raise NotFoundError(f"no record {rid!r} in collection {collection!r}")
    return Record(collection, rid, json.loads(row[0]) if row[0] else None, bool(row[1]),
                  json.loads(row[2]), row[3], row[4], row[5], bool(row[6]), row[7])


def open_db(path: Path, key: bytes | None) -> tuple[Any, tuple[type[Exception], ...]]:
    """Connect to an existing store file with the right driver, and the errors that
    driver raises: the standard library's sqlite3 for a plain store, SQLCipher with the
    raw 32-byte ``key`` for a sealed home's (no second KDF runs).  A key that does not
    open the file is a :class:`StoreError`, the connection closed."""
    if key is None:
        return (sqlite3.connect(str(path), isolation_level=None, timeout=30),
                (sqlite3.DatabaseError,))
    import sqlcipher3  # lazily: `--help` and plain homes never load it

    errors: tuple[type[Exception], ...] = (sqlite3.DatabaseError, sqlcipher3.DatabaseError)
    conn: Any = sqlcipher3.connect(str(path), isolation_level=None, timeout=30)
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except errors as exc:
        conn.close()
        raise StoreError(f"store {path} does not open with this home's key: {exc}",
                         hints=("the store and the key file come from different homes, "
                                "or the store is damaged",)) from exc
    return conn, errors


def open_store(home: Path,
               opened: Callable[[bytes], bytes | None] | None = None) -> Any | None:
    """The store of the device in ``home``, for queries only, or ``None`` when the full
    path must open it (no device, a store missing, of another schema or device, not yet
    upgraded, a migration to finish, a sealed home nobody unlocked, anything damaged).

    A sealed home opens only with ``opened``: given the sealed key file's bytes, its
    plaintext as an unlock agent keeps it (``keystore.encode_secrets``).  Its store
    key opening the SQLCipher store is what binds the store to this home.
    """
    sealed = home / "keys" / "identity.sealed"
    try:
        info = json.loads((home / "device.json").read_text(encoding="utf-8"))
        db = home / "store.db"
        if not isinstance(info, dict) or not db.is_file():
            return None
        if sealed.exists():
            if (opened is None or set(info) != {"format", "sealed"}
                    or (home / "store.db.sealing").exists() or sealed.stat().st_size > 4096):
                return None
            plain = opened(sealed.read_bytes())
            if plain is None:
                return None
            key: bytes | None = bytes.fromhex(json.loads(plain)["store"])
            if key is None or len(key) != 32:
                return None
            device = None
        elif info.get("sealed"):
            return None
        else:
            key, device = None, info.get("device_id")
        conn, errors = open_db(db, key)
    except (OSError, ValueError, KeyError, TypeError, sqlite3.Error, StoreError):
        return None
    try:
        conn.execute("PRAGMA query_only=ON")
        if (meta(conn, "schema") == str(SCHEMA_VERSION)
                and (device is None or meta(conn, "device_id") == device)
                and meta(conn, "held") is not None):
            return conn
    except errors:
        pass
    conn.close()
    return None
