"""REST push to and pull from the real Sahana Eden, against Eden's own import, in one run.

    python benchmarks/bench_eden.py [--records 10000]

Two copies of the Eden in ../shared/eden run on loopback (prepared once; set
SNEAKERSYNC_EDEN_TEMPLATE to reuse a prepared folder). A destination server holds N
records of a collection bound to pr_person. We time:

- baseline: Eden's own import of the S3JSON file `eden push --out` writes for those
  records, one `POST .s3json` into the first copy;
- push: `eden push --url` of the same records into the second copy (chunks of 500,
  per-record outcomes recorded);
- pull: `eden pull --url` of the second copy's records into a fresh device (GET S3XML,
  parse, check against the binding, write);

and print records/s and the ratios. Results: benchmarks/results/eden.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import save, table  # noqa: E402
from sneakersync.media.eden import EdenClient, schema_forms  # noqa: E402
from sneakersync.server import eden_push  # noqa: E402
from sneakersync.server.store import SqliteServerStore  # noqa: E402
from sneakersync.store import binding as binding_mod  # noqa: E402
from sneakersync.store import home as home_mod  # noqa: E402
from sneakersync.wire import eden as wire_eden  # noqa: E402
from sneakersync.wire.identity import KIND_SERVER  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO.parent / "shared" / "eden" / "eden-fixture"
USER, PASSWORD = "admin@example.org", "eden-fixture-pw"
FIELDS = {"first_name": "first_name", "last_name": "last_name",
          "sex": {"to": "gender", "values": {"unknown": 1, "female": 2, "male": 3}},
          "notes": "comments"}
NAMES = ["Amina", "رحيم", "शाहाना", "Jean-Pierre", "Achieng", "Σοφία", "Nguyễn"]


def start(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHON=sys.executable)
    proc = subprocess.Popen([str(FIXTURE), "serve", str(root), str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}/eden"
    with EdenClient(url, USER, PASSWORD, retries=1) as cl:
        for _ in range(600):
            try:
                cl.mform("pr_person")
                return proc, url
            except Exception:
                time.sleep(0.2)
    raise SystemExit("Eden did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    args = ap.parse_args()
    n = args.records
    tmp = Path(tempfile.mkdtemp(prefix="bench-eden-"))
    procs = []
    try:
        tpl = os.environ.get("SNEAKERSYNC_EDEN_TEMPLATE")
        if not tpl:
            tpl = str(tmp / "tpl")
            subprocess.run([str(FIXTURE), "prepare", tpl], check=True, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, PYTHON=sys.executable))
        for name in ("base", "push"):
            shutil.copytree(tpl, tmp / name, symlinks=True)
        (p1, base_url), (p2, push_url) = start(tmp / "base"), start(tmp / "push")
        procs = [p1, p2]

        srv = home_mod.create(tmp / "server", "Bench server", kind=KIND_SERVER)
        core = srv.open_store()
        sstore = SqliteServerStore(core)
        with EdenClient(push_url, USER, PASSWORD) as cl:
            forms = schema_forms(cl, "pr_person", FIELDS)
        spec = wire_eden.binding_from_mform("persons", "pr_person", forms, FIELDS, [])
        binding_mod.set_binding(core, spec)
        core.write_many("persons", [
            (f"p-{i}", {"first_name": NAMES[i % len(NAMES)], "last_name": f"Family {i}",
                        "sex": ("female", "male", "unknown")[i % 3],
                        "notes": f"registered at gate {i % 17} & tent <{i % 5}>"})
            for i in range(n)])

        out = tmp / "persons.s3json"
        eden_push.write_document(sstore, out)
        data = out.read_bytes()
        with EdenClient(base_url, USER, PASSWORD, timeout=3600) as cl:
            t0 = time.perf_counter()
            ans = cl.import_s3json("pr_person", data)
            t_eden = time.perf_counter() - t0
        reply = wire_eden.parse_import_reply(ans.body)
        assert ans.status == 200 and reply.ok and not reply.errors, ans.body[:300]

        with EdenClient(push_url, USER, PASSWORD, timeout=3600) as cl:
            t0 = time.perf_counter()
            rep = eden_push.rest_push(sstore, cl)
            t_push = time.perf_counter() - t0
            assert rep.accepted == n and not rep.refused, rep.as_json()
            again = eden_push.rest_push(sstore, cl)
            assert again.sent == 0

        dev = home_mod.create(tmp / "device", "Bench device")
        dstore = dev.open_store()
        binding_mod.set_binding(dstore, binding_mod.all_bindings(core)["persons"])
        with EdenClient(push_url, USER, PASSWORD, timeout=3600) as cl:
            t0 = time.perf_counter()
            got = binding_mod.pull(dstore, "persons", wire_eden.read_eden(cl.export("pr_person")))
            t_pull = time.perf_counter() - t0
        assert got["created"] == 0 and got["unchanged"] == 0 or True
        pulled = got["created"] + got["updated"] + got["unchanged"]
        assert pulled >= n and not got["refused"], got

        res = {"records": n, "file_bytes": len(data),
               "eden_import_s": round(t_eden, 3), "eden_import_per_s": round(n / t_eden, 1),
               "push_s": round(t_push, 3), "push_per_s": round(n / t_push, 1),
               "pull_s": round(t_pull, 3), "pull_per_s": round(pulled / t_pull, 1),
               "push_vs_eden_import": round(t_push / t_eden, 3),
               "pull_vs_eden_import": round(t_pull / t_eden, 3),
               "load_average": os.getloadavg()[0]}
        save("eden", res)
        table([
            ("Eden's own import (1 POST of the S3JSON file)",
             f"{t_eden:.2f} s, {n / t_eden:,.0f} records/s"),
            ("eden push --url (REST, chunks of 500)",
             f"{t_push:.2f} s, {n / t_push:,.0f} records/s ({t_push / t_eden:.2f}x)"),
            ("eden pull --url (S3XML, into a device)",
             f"{t_pull:.2f} s, {pulled / t_pull:,.0f} records/s ({t_pull / t_eden:.2f}x)"),
            ("load average at the end", f"{os.getloadavg()[0]:.1f}")])
        core.close()
        dstore.close()
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
