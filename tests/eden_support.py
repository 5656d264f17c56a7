"""A real Sahana Eden for the tests: prepared once, copied per test module, served on loopback.

``$SNEAKERSYNC_EDEN_TEMPLATE`` names a folder ``eden-fixture prepare`` filled (``.ci/run``
prepares one); without it the first test prepares one under the temp folder (a lock keeps
parallel workers from doing it twice). Tests skip, saying why, only if Eden cannot run.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conftest import SHARED

FIXTURE = SHARED / "eden" / "eden-fixture"
USER = "admin@example.org"
PASSWORD = "eden-fixture-pw"


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHON=sys.executable)


def template() -> Path:
    if not FIXTURE.exists():
        pytest.skip(f"no Eden fixture at {FIXTURE}")
    try:
        import dateutil  # noqa: F401
        import lxml  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"Eden needs lxml and python-dateutil ({exc}): pip install -e '.[eden]'")
    given = os.environ.get("SNEAKERSYNC_EDEN_TEMPLATE")
    if given:
        p = Path(given)
        if not (p / "web2py").is_dir():
            pytest.fail(f"SNEAKERSYNC_EDEN_TEMPLATE={given} is not a prepared Eden")
        return p
    cache = Path(tempfile.gettempdir()) / f"sneakersync-eden-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    done = cache / "tpl" / "READY"
    with open(cache / "lock", "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(cache / "tpl", ignore_errors=True)
            p = subprocess.run([str(FIXTURE), "prepare", str(cache / "tpl")], env=_env(),
                               capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                pytest.skip(f"Eden could not be prepared: {p.stderr.strip()[-300:]}")
            done.write_text("ok\n")
    return cache / "tpl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Eden:
    """One running Eden on a copy of the template."""

    def __init__(self, root: Path) -> None:
        self.dir = root
        shutil.copytree(template(), root, symlinks=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/eden"
        self.log = open(root / "serve.log", "wb")
        self.proc = subprocess.Popen([str(FIXTURE), "serve", str(root), str(self.port)],
                                     env=_env(), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait()

    def _wait(self) -> None:
        for _ in range(600):
            if self.proc.poll() is not None:
                raise RuntimeError(f"Eden stopped: {(self.dir / 'serve.log').read_text()[-500:]}")
            try:
                self.get("pr/person/mform.json")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("Eden did not answer within 60 s")

    def get(self, path: str) -> Any:
        req = urllib.request.Request(f"{self.url}/{path}")
        import base64

        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def records(self, table: str) -> dict[str, dict[str, Any]]:
        """Eden's records of a table read back over REST, by uuid, values unwrapped."""
        from sneakersync.wire.eden import read_s3json

        prefix, _, name = table.partition("_")
        req = urllib.request.Request(f"{self.url}/{prefix}/{name}.s3json")
        import base64

        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=60) as r:
            items = read_s3json(r.read())
        return {it.uuid: {"values": it.values, "refs": it.refs, "attrs": it.attrs,
                          "parts": {k: [p.values for p in v] for k, v in it.parts.items()},
                          "modified_ms": it.modified_ms}
                for it in items if it.table == table}

    def shell(self, script: str, env: dict[str, str] | None = None,
              timeout: float = 300) -> subprocess.CompletedProcess[str]:
        path = self.dir / f"script_{abs(hash(script))}.py"
        path.write_text(script)
        return subprocess.run([str(FIXTURE), "shell", str(self.dir), str(path)],
                              env=dict(_env(), **(env or {})), capture_output=True, text=True,
                              timeout=timeout)

    def filesync(self, folder: Path, tables: list[str], *, c_locale: bool = True,
                 pattern: str = "sneakersync_{table}_*.xml") -> str:
        """Run Eden's own FileSync pull over a folder (one task per table), as the
        scheduler would, in the C locale web2py runs in; returns Eden's sync log."""
        env = {"SNK_DROP": str(folder), "SNK_TABLES": json.dumps(tables),
               "SNK_PATTERN": pattern}
        if c_locale:
            env.update(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0",
                       PYTHONIOENCODING="utf-8")
        p = self.shell(FILESYNC_SCRIPT, env)
        return p.stdout + p.stderr

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


FILESYNC_SCRIPT = r'''
import os, json
folder = os.environ["SNK_DROP"]
tables = json.loads(os.environ["SNK_TABLES"])
pattern = os.environ["SNK_PATTERN"]
utable = auth.settings.table_user
admin = db(utable.email == "admin@example.org").select(utable.id).first().id
auth.s3_impersonate(admin)
rtable = s3db.sync_repository
ttable = s3db.sync_task
import hashlib
rname = "drop-" + hashlib.sha256(folder.encode()).hexdigest()[:16]
row = db(rtable.name == rname).select().first()
if row is None:
    rid = rtable.insert(name=rname, apitype="filesync", path=folder)
    row = db(rtable.id == rid).select().first()
have = {t.resource_name for t in db(ttable.repository_id == row.id).select()}
for t in tables:
    if t not in have:
        ttable.insert(repository_id=row.id, resource_name=t, mode=1,
                      infile_pattern=pattern.replace("{table}", t))
db.commit()
from s3 import S3Sync
first = db(s3db.sync_log.id > 0).select(s3db.sync_log.id.max()).first()[s3db.sync_log.id.max()] or 0
try:
    ok = S3Sync().synchronize(row)
    print("SYNC-RESULT", ok)
except Exception as e:
    import traceback
    print("SYNC-CRASH", type(e).__name__, e)
    traceback.print_exc()
db.commit()
for l in db(s3db.sync_log.id > first).select(orderby=s3db.sync_log.id):
    print("LOG", l.resource_name, l.result, l.action, "|", l.message)
for t in db(ttable.repository_id == row.id).select():
    print("TASK", t.resource_name, t.last_pull)
'''


@pytest.fixture(scope="module")
def eden(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("eden") / "eden"
    tpl = template()
    del tpl
    try:
        e = Eden(root)
    except RuntimeError as exc:
        pytest.skip(f"Eden could not run: {exc}")
    yield e
    e.stop()
