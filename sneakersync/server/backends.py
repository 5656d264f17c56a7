"""Where a server keeps its store: SQLite in its home (the default) or PostgreSQL.

``server init --db postgresql://...`` writes the URL to ``HOME/server-db``;
:func:`open_server_db` reads it and returns a :class:`ServerDB` that hands out
sessions (a :class:`~sneakersync.server.store.ServerStore` on one connection each).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ContextManager, Iterator, Protocol

from sneakersync.errors import UsageError
from sneakersync.store.home import Home
from sneakersync.server.store import SqliteServerStore, migrate, redact

# --- backends -----------------------------------------------------------------------------

DB_FILE = "server-db"  # in the server's home: the PostgreSQL URL (absent: SQLite)


class ServerDB(Protocol):
    """Where a server keeps its store: hands out sessions, one connection each."""

    backend: str

    def session(self) -> ContextManager[SqliteServerStore]: ...
    def describe(self, ss: Any = None) -> dict[str, Any]: ...
    def close(self) -> None: ...


class SqliteServerDB:
    """The default: the server home's own SQLite file.  One writer at a time, so the
    sessions of a process take turns (several processes would wait on SQLite's lock)."""

    backend = "sqlite"

    def __init__(self, home: Home) -> None:
        self.home = home
        self._lock = threading.Lock()
        core = home.open_store()
        try:
            migrate(core)
        finally:
            core.close()

    @contextmanager
    def session(self) -> Iterator[SqliteServerStore]:
        with self._lock:
            core = self.home.open_store()
            try:
                yield SqliteServerStore(core, migrated=True)
            finally:
                core.close()

    def describe(self, ss: Any = None) -> dict[str, Any]:
        return {"backend": "sqlite", "location": str(self.home.store_path)}

    def close(self) -> None:
        pass


def is_pg_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def set_db_url(home_path: Path, url: str) -> None:
    """Record (before or after ``init``) that a server keeps its store in PostgreSQL."""
    if not is_pg_url(url):
        raise UsageError(f"unsupported database URL {redact(url)!r}",
                         hints=("give postgresql://USER@HOST/DB (or leave --db out for SQLite)",))
    home_path.mkdir(parents=True, exist_ok=True)
    path = home_path / DB_FILE
    tmp = path.with_name(DB_FILE + ".tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # may hold a password
    try:
        os.write(fd, (url + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def db_url(home_path: Path) -> str | None:
    path = Path(home_path) / DB_FILE
    if not path.exists():
        return None
    return path.read_text(encoding="utf-8").strip() or None


def open_server_db(home: Home, *, url: str | None = None, pool_size: int = 8) -> ServerDB:
    """The store a server home was set up with (``server init --db``), or ``url``."""
    url = url if url is not None else db_url(home.path)
    if url is None:
        return SqliteServerDB(home)
    from sneakersync.server.pg import PgServerDB

    return PgServerDB(home, url, pool_size=pool_size)


def _pg_tool(name: str) -> str:
    import glob
    import shutil

    found = shutil.which(name)
    if found:
        return found
    for cand in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return cand
    raise UsageError(f"{name} is not installed",
                     hints=("install the PostgreSQL client tools (apt-get install "
                            "postgresql-client)",))


def _schema_of(url: str) -> str | None:
    """The schema a URL puts first on the search path (options=-csearch_path=NAME), if any."""
    from urllib.parse import parse_qs, urlsplit

    for opt in parse_qs(urlsplit(url).query).get("options", []):
        for part in opt.split():
            if part.startswith("-csearch_path="):
                return part.split("=", 1)[1].split(",")[0] or None
    return None


def backup(home: Home, out: Path) -> dict[str, Any]:
    """A consistent copy of the server's store while it runs.

    SQLite: the online backup API into ``out`` (a sealed home's copy stays encrypted
    under the same key).  PostgreSQL: ``pg_dump --format=custom`` of the server's
    database (only its schema when the URL names one).  The keys are not in it: back
    up the home folder's keys (or identity.sealed) separately.
    """
    out = Path(out)
    if out.exists():
        raise UsageError(f"{out} exists; give a new file name")
    url = db_url(home.path)
    if url is None:
        from sneakersync.store.records import connect

        src = home.open_store()
        try:
            dst, _ = connect(out, home.store_key)
            try:
                src.conn.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        return {"backend": "sqlite", "file": str(out), "bytes": out.stat().st_size}
    import subprocess

    cmd = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={out}",
           f"--dbname={url}"]
    schema = _schema_of(url)
    if schema:
        cmd.append(f"--schema={schema}")
    got = subprocess.run(cmd, capture_output=True, text=True)
    if got.returncode != 0:
        out.unlink(missing_ok=True)
        from sneakersync.errors import StoreError

        raise StoreError(f"pg_dump failed: {got.stderr.strip()[-300:]}")
    return {"backend": "postgresql", "file": str(out), "bytes": out.stat().st_size}
