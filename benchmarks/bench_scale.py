"""Scaling: load, export, import and server ingest at 10k / 100k / 1M records, against
plain floors.

Run: python benchmarks/bench_scale.py [--counts 10000,100000,1000000] [--steps ...]
Goals (issue 15): peak RSS <= 256 MB at 1M for load, export, import, server ingest;
import CPU <= 1.5x ``insert_all`` at 100k; export <= 3x ``zstd -3 | age`` of the same
NDJSON.

Server steps: ``srv_prep`` (not a figure) makes a server home that enrolls device A and
writes A's export to a stick (parts of at most 10,000 changes); ``ingest`` is
``server ingest`` of that stick into the SQLite backend, receipts included (a stick is
read in name order); ``upload`` POSTs the same packets in export order, as ``push``
sends them, to ``server serve`` (uvicorn on loopback, a process of its own: its peak
RSS and CPU come from ``RUSAGE_CHILDREN``), which answers each with a receipt.
``settle``: A takes the server's receipt and compacts (store bytes, then after VACUUM),
then prunes everything the receipt covers (retention ``after-receipt``): store bytes per
record once settled, against the ``insert_all`` table; its peak RSS has the same goal
(a device offline for long must take a receipt and prune); wall time per phase under
``phases_s``.

Every step runs in its own child process, so its peak RSS (``ru_maxrss``) and CPU
time are its own. Floors, run in the same way on the same NDJSON file:
- ``insert_all``: sqlite-utils ``insert_all`` of the rows (id primary key, JSON data),
  WAL and ``synchronous=FULL`` like the store;
- ``zstd -3 | age``: the NDJSON compressed by the zstandard module at level 3, then
  encrypted to the recipient with pyrage (the age reference format, Rust).
Figures are ratios within one run; the machine is shared and loaded, so absolute
times vary between runs. The export and its floor take well under a second up to 100k,
where one scheduling hiccup moves the ratio by a third (seen: 10k export 0.08 s CPU,
0.15 s wall): they run REPEATS times, alternating, and the run with the median wall
time is kept (all wall times under ``wall_s_runs``; the CPU ratio is kept as well).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, table  # noqa: E402


def _step(step: str, work: Path, n: int) -> dict[str, Any]:
    """Run inside the child; returns what it measured besides time and RSS."""
    src = work / f"src{n}.jsonl"
    if step == "load":
        from sneakersync.store import home as home_mod
        from sneakersync.store.load import read_records

        h = home_mod.create(work / f"a{n}", "A")
        s = h.open_store()
        s.write_many("households", read_records(src))
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        s.close()
        return {"store_bytes": os.path.getsize(h.store_path)}
    if step == "insert_all":
        import sqlite3

        import sqlite_utils

        db_path = work / f"plain{n}.db"
        conn = sqlite3.connect(db_path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        db = sqlite_utils.Database(conn)

        def rows() -> Any:
            with open(src, "rb") as fh:
                for line in fh:
                    obj = json.loads(line)
                    rid = obj.pop("id")
                    yield {"id": rid, "data": json.dumps(obj, ensure_ascii=False)}
        db["records"].insert_all(rows(), pk="id", batch_size=5000)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        return {"store_bytes": os.path.getsize(db_path)}
    if step == "export":
        from sneakersync.store import home as home_mod
        from sneakersync.store import peers
        from sneakersync.sync.engine import build_exports

        a = home_mod.load(work / f"a{n}")
        b = home_mod.load(work / "b")
        s = a.open_store()
        if peers.by_id(s, b.device_id) is None:
            peers.add(s, b.card.encode())
        p = peers.by_id(s, b.device_id)
        assert p is not None
        total = parts = 0
        for out in build_exports(a, s, [p], full=True, pad_to=0):  # split past 10k changes
            (work / f"packet{n}-{parts}.pkt").write_bytes(out.data)
            total += len(out.data)
            parts += 1
        s.close()
        return {"bytes": total, "packets": parts}
    if step == "zstd_age":
        import pyrage
        import zstandard

        from sneakersync.store import home as home_mod

        b = home_mod.load(work / "b")
        from sneakersync.wire import age

        rcpt = pyrage.x25519.Recipient.from_str(age.encode_recipient(b.keys.enc_public))
        comp = zstandard.ZstdCompressor(level=3).compress(src.read_bytes())
        data = pyrage.encrypt(comp, [rcpt])
        (work / f"floor{n}.age").write_bytes(data)
        return {"bytes": len(data)}
    if step == "import":
        from sneakersync.store import home as home_mod
        from sneakersync.store import peers
        from sneakersync.sync.engine import ImportReport, import_packet

        d = work / f"bi{n}"
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(work / "b", d)
        for f in ("store.db", "store.db-wal", "store.db-shm"):
            (d / f).unlink(missing_ok=True)
        b = home_mod.load(d)
        a = home_mod.load(work / f"a{n}")
        s = b.open_store()
        peers.add(s, a.card.encode())
        rep = ImportReport()
        for f in sorted(work.glob(f"packet{n}-*.pkt")):
            import_packet(b, s, f.read_bytes(), rep)
        assert rep.changes_applied == n, rep.as_json()
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        s.close()
        return {"store_bytes": os.path.getsize(b.store_path)}
    if step == "srv_prep":
        # a server enrolls device A; A (which forgets peer B: only the server is left to
        # confirm its changes, for the settle step) writes its split export to a stick
        from sneakersync.media.drive import Drive
        from sneakersync.server.backends import open_server_db
        from sneakersync.server.enroll import enroll
        from sneakersync.server.setup import use_server
        from sneakersync.store import home as home_mod
        from sneakersync.store import peers
        from sneakersync.sync.engine import build_exports
        from sneakersync.wire.identity import KIND_SERVER

        srv = home_mod.create(work / f"srv{n}", "Server", kind=KIND_SERVER)
        with open_server_db(srv).session() as ss:
            enroll(srv, ss, home_mod.load(work / f"a{n}").card.encode())
        shutil.copytree(srv.path, work / f"srvh{n}")  # the same server, fresh, for HTTP
        a = home_mod.load(work / f"a{n}")
        s = a.open_store()
        b = home_mod.load(work / "b")
        peers.remove(s, b.device_id)
        dest = use_server(s, srv.card.encode())
        (work / f"stick{n}").mkdir()
        drive = Drive(work / f"stick{n}", create=True)
        names = []
        for out in build_exports(a, s, [dest], pad_to=0):
            names.append(drive.write_packet(out.data).name)
            out.commit(s)
        s.close()
        (work / f"order{n}.txt").write_text("\n".join(names))  # export order, for upload
        parts = len(names)
        return {"packets": parts}
    if step == "ingest":
        from sneakersync.server.backends import open_server_db
        from sneakersync.server.ingest import ingest_drive
        from sneakersync.store import home as home_mod

        srv = home_mod.load(work / f"srv{n}")
        with open_server_db(srv).session() as ss:
            rep = ingest_drive(srv, ss, work / f"stick{n}")
            assert rep.changes_stored == n and rep.receipts_written == 1, rep.as_json()
            ss.core.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return {"packets": rep.stored, "store_bytes": os.path.getsize(srv.store_path)}
    if step == "upload":
        # the same packets POSTed to `server serve` (uvicorn, loopback) in a process of its
        # own: its peak RSS and CPU are read from RUSAGE_CHILDREN once it has exited
        import signal
        import socket

        import httpx

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        code = ("import sys; from pathlib import Path; from sneakersync.store import home; "
                "from sneakersync.server.app import serve; "
                f"serve(home.load(Path(sys.argv[1])), port={port})")
        proc = subprocess.Popen([sys.executable, "-c", code, str(work / f"srvh{n}")])
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(timeout=600) as client:
                for _ in range(600):
                    try:
                        client.get(url + "/v1/status")
                        break
                    except httpx.TransportError:
                        time.sleep(0.05)
                t0 = time.perf_counter()
                stored = 0
                folder = work / f"stick{n}" / "sneakersync" / "v1" / "packets"
                for name in (work / f"order{n}.txt").read_text().split("\n"):
                    # in export order, as `push` sends them (a stick is read in name order)
                    r = client.post(url + "/v1/packets", content=(folder / name).read_bytes(),
                                    headers={"Content-Type": "application/octet-stream"})
                    assert r.status_code == 200, r.text
                    stored += int(r.headers["X-Sneakersync-Changes"])
                wall = time.perf_counter() - t0
            assert stored == n, stored
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"server_wall_s": wall, "server_cpu_s": ru.ru_utime + ru.ru_stime,
                "server_rss_mb": ru.ru_maxrss / 1024}
    if step == "settle":
        # A takes the server's receipt from the stick, then compacts; then prunes what the
        # receipt covers (retention after-receipt) and compacts again
        from sneakersync.media.drive import Drive
        from sneakersync.store import home as home_mod
        from sneakersync.sync import compact, prune, receipts

        a = home_mod.load(work / f"a{n}")
        s = a.open_store()
        phases: dict[str, float] = {}
        t = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal t
            phases[name] = round(time.perf_counter() - t, 3)
            t = time.perf_counter()
        got = receipts.import_receipts(a, s, Drive(work / f"stick{n}"))
        assert got["receipts"] == 1, got
        lap("receipt")
        before = os.path.getsize(a.store_path)
        compact.compact(s)
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        lap("compact")
        compacted = os.path.getsize(a.store_path)
        s.conn.execute("VACUUM")
        lap("vacuum")
        vacuumed = os.path.getsize(a.store_path)
        prune.set_retention(s, "households", "after-receipt")
        res = prune.prune(a, s)
        assert res["records"] == n, res
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        lap("prune")
        pruned = os.path.getsize(a.store_path)
        s.close()
        return {"store_bytes_receipt": before, "store_bytes_compacted": compacted,
                "store_bytes_vacuumed": vacuumed, "store_bytes_pruned": pruned,
                "phases_s": phases}
    raise SystemExit(f"unknown step {step}")


STEPS = ("insert_all", "load", "zstd_age", "export", "import", "srv_prep", "ingest", "upload",
         "settle")
PAIRED = ("zstd_age", "export")  # the export figure and its floor, run alternately
REPEATS = 3
NEEDS = {"export": {"load"}, "import": {"export"}, "zstd_age": set(), "srv_prep": {"load"},
         "ingest": {"srv_prep"}, "upload": {"srv_prep"}, "settle": {"ingest"}}


def child(step: str, work: Path, n: int) -> None:
    t0 = time.perf_counter()
    c0 = time.process_time()
    extra = _step(step, work, n)
    out = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
           "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}
    print("RESULT " + json.dumps(out))


def run_step(step: str, work: Path, n: int) -> dict[str, Any]:
    p = subprocess.run([sys.executable, __file__, "--child", step, "--work", str(work),
                        "--counts", str(n)], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{step} at {n} failed:\n{p.stderr[-3000:]}")
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return dict(json.loads(line[7:]))


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    got = dict(sorted(runs, key=lambda r: float(r["wall_s"]))[len(runs) // 2])
    got["wall_s_runs"] = [round(float(r["wall_s"]), 4) for r in runs]
    return got


def _ratios(row: dict[str, Any]) -> None:
    n = row["count"]

    def put(key: str, a: str, b: str, fa: str, fb: str, digits: int = 2) -> None:
        if a in row and b in row:
            row[key] = round(row[a][fa] / row[b][fb], digits)

    put("load_vs_insert_all_cpu", "load", "insert_all", "cpu_s", "cpu_s")
    put("import_vs_insert_all_cpu", "import", "insert_all", "cpu_s", "cpu_s")
    put("export_vs_zstd_age_wall", "export", "zstd_age", "wall_s", "wall_s")
    put("export_vs_zstd_age_cpu", "export", "zstd_age", "cpu_s", "cpu_s")
    put("ingest_vs_insert_all_cpu", "ingest", "insert_all", "cpu_s", "cpu_s")
    for key, step, field in (("store_bytes_per_record", "load", "store_bytes"),
                             ("insert_all_bytes_per_record", "insert_all", "store_bytes"),
                             ("server_bytes_per_record", "ingest", "store_bytes"),
                             ("compacted_bytes_per_record", "settle", "store_bytes_vacuumed"),
                             ("pruned_bytes_per_record", "settle", "store_bytes_pruned")):
        if step in row:
            row[key] = round(row[step][field] / n)


def _summary(r: dict[str, Any]) -> str:
    n = r["count"]
    us = lambda step: f"{r[step]['wall_s'] / n * 1e6:.0f} us/rec"  # noqa: E731
    parts = []
    if "load" in r:
        parts.append(f"load {us('load')} {r['load']['rss_mb']:.0f} MB")
    if "export" in r:
        parts.append(f"export {r['export']['rss_mb']:.0f} MB")
    if "import" in r:
        parts.append(f"import {us('import')} {r['import']['rss_mb']:.0f} MB")
    if "ingest" in r:
        parts.append(f"ingest {us('ingest')} {r['ingest']['rss_mb']:.0f} MB")
    if "upload" in r:
        parts.append(f"upload {r['upload']['server_wall_s'] / n * 1e6:.0f} us/rec "
                     f"{r['upload']['server_rss_mb']:.0f} MB")
    for key, label in (("import_vs_insert_all_cpu", "import/insert_all cpu"),
                       ("export_vs_zstd_age_wall", "export/zstd|age"),
                       ("export_vs_zstd_age_cpu", "export/zstd|age cpu"),
                       ("ingest_vs_insert_all_cpu", "ingest/insert_all cpu")):
        if key in r:
            parts.append(f"{label} {r[key]}x")
    if "store_bytes_per_record" in r:
        parts.append(f"{r['store_bytes_per_record']} B/rec"
                     + (f" (insert_all {r['insert_all_bytes_per_record']})"
                        if "insert_all_bytes_per_record" in r else ""))
    if "settle" in r:
        parts.append(f"settle {us('settle')} {r['settle']['rss_mb']:.0f} MB")
    if "compacted_bytes_per_record" in r:
        parts.append(f"settled {r['compacted_bytes_per_record']} B/rec, pruned "
                     f"{r['pruned_bytes_per_record']} B/rec")
    return "; ".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="10000,100000")
    ap.add_argument("--child")
    ap.add_argument("--work")
    ap.add_argument("--steps", default=",".join(STEPS),
                    help="a subset of the steps (those a later step needs run anyway)")
    args = ap.parse_args()
    counts = [int(x) for x in args.counts.split(",")]
    if args.child:
        child(args.child, Path(args.work), counts[0])
        return
    from sneakersync.demo import fielddata
    from sneakersync.store import home as home_mod

    wanted = set(args.steps.split(","))
    while True:
        more = set().union(*(NEEDS.get(x, set()) for x in wanted)) - wanted
        if not more:
            break
        wanted |= more
    work = Path(tempfile.mkdtemp(prefix="snk-bench-scale-"))
    results: list[dict[str, Any]] = []
    try:
        home_mod.create(work / "b", "B")
        for n in counts:
            fielddata.write_jsonl(work / f"src{n}.jsonl", "households", n, seed=42)
            row: dict[str, Any] = {"count": n, "ndjson_bytes": (work / f"src{n}.jsonl").stat().st_size}
            for step in [x for x in STEPS if x in wanted]:
                if step in row:
                    continue
                if step in PAIRED and all(x in wanted for x in PAIRED):
                    runs: dict[str, list[dict[str, Any]]] = {x: [] for x in PAIRED}
                    for _ in range(REPEATS):
                        for x in PAIRED:
                            runs[x].append(run_step(x, work, n))
                    for x in PAIRED:
                        row[x] = _median_run(runs[x])
                        print(f"{n:>9,} {x:<10} {json.dumps(row[x])}", flush=True)
                    continue
                row[step] = run_step(step, work, n)
                print(f"{n:>9,} {step:<10} {json.dumps(row[step])}", flush=True)
            _ratios(row)
            results.append(row)
            for f in work.glob(f"*{n}*"):
                if f.is_dir():
                    shutil.rmtree(f, ignore_errors=True)
                else:
                    f.unlink()
        table([(f"{r['count']:,}", _summary(r)) for r in results])
        if wanted == set(STEPS):  # a partial run does not replace the results file
            save("scale", {"results": results, "loadavg": os.getloadavg()[0]})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
