"""A throw-away PostgreSQL cluster from the installed binaries (tests and benchmarks).

``start()`` runs initdb and pg_ctl as an unprivileged user (``postgres``, else ``nobody``,
when we are root) on a Unix socket in a fresh temporary folder, and returns its URL.
``.ci/run`` starts one the same way and exports SNEAKERSYNC_TEST_PG_URL; the tests use
that when it is set and start their own otherwise.

    python tests/pg_cluster.py start DIR   # prints the URL
    python tests/pg_cluster.py stop DIR
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ENV_URL = "SNEAKERSYNC_TEST_PG_URL"
USER = "sneakersync"


class ClusterError(Exception):
    pass


def bindir() -> Path:
    found = shutil.which("pg_config")
    if found:
        got = subprocess.run([found, "--bindir"], capture_output=True, text=True)
        if got.returncode == 0 and (Path(got.stdout.strip()) / "initdb").exists():
            return Path(got.stdout.strip())
    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(cand) / "initdb").exists():
            return Path(cand)
    if shutil.which("initdb"):
        return Path(shutil.which("initdb")).parent  # type: ignore[arg-type]
    raise ClusterError("PostgreSQL is not installed (no initdb; apt-get install postgresql)")


def _runner() -> list[str]:
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"] if shutil.which("runuser") else \
            ["su", name, "-s", "/bin/sh", "-c"]
    raise ClusterError("running as root and no unprivileged user to run PostgreSQL")


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    r = _runner()
    if r and r[0] == "su":
        import shlex

        full = r + [" ".join(shlex.quote(c) for c in cmd)]
    else:
        full = r + cmd
    return subprocess.run(full, capture_output=True, text=True, **kw)  # type: ignore[call-overload]


def start(base: Path | None = None, *, fsync: bool = False, max_connections: int = 100) -> str:
    """Start a cluster in ``base`` (a new temp folder if None); returns its URL."""
    bins = bindir()
    base = Path(base) if base else Path(tempfile.mkdtemp(prefix="snkpg"))
    base.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = "postgres"
        try:
            pwd.getpwnam(owner)
        except KeyError:
            owner = "nobody"
        pw = pwd.getpwnam(owner)
        os.chown(base, pw.pw_uid, pw.pw_gid)
        os.chmod(base, 0o755)
        p = base
        while str(p) != p.root:  # the user must be able to reach the folder
            p = p.parent
            mode = p.stat().st_mode
            if not mode & 0o001:
                os.chmod(p, mode | 0o001)
    data = base / "data"
    got = _run([str(bins / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                "--no-sync", "-E", "UTF8", "--locale=C"])
    if got.returncode != 0:
        raise ClusterError(f"initdb failed: {got.stderr.strip()[-400:]}")
    opts = (f"-k {base} -c listen_addresses='' -c max_connections={max_connections} "
            f"-c fsync={'on' if fsync else 'off'} "
            f"-c synchronous_commit={'on' if fsync else 'off'} -c full_page_writes="
            f"{'on' if fsync else 'off'} -c shared_buffers=128MB")
    got = _run([str(bins / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-o", opts,
                "-w", "-t", "60", "start"])
    if got.returncode != 0:
        log = (base / "log").read_text(errors="replace")[-400:] if (base / "log").exists() else ""
        raise ClusterError(f"pg_ctl start failed: {got.stderr.strip()[-300:]} {log}")
    return f"postgresql://{USER}@/postgres?host={base}"


def stop(base: Path) -> None:
    _run([str(bindir() / "pg_ctl"), "-D", str(Path(base) / "data"), "-m", "fast", "-w",
          "stop"])
    shutil.rmtree(base, ignore_errors=True)


def with_schema(url: str, schema: str) -> str:
    """The same database with ``schema`` first on the search path (one server store each)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def new_schema(url: str) -> tuple[str, str]:
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return name, with_schema(url, name)


def drop_schema(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: pg_cluster.py start|stop DIR")
    if sys.argv[1] == "start":
        try:
            print(start(Path(sys.argv[2])))
        except ClusterError as exc:
            sys.exit(f"pg_cluster: {exc}")
    else:
        stop(Path(sys.argv[2]))
