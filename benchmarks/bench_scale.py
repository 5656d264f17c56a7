"""Scaling: load, export and import at 10k / 100k / 1M records, against plain floors.

Run: python benchmarks/bench_scale.py [--counts 10000,100000,1000000]
Goals (issue 15): peak RSS <= 256 MB at 1M for load, export, import; import CPU
<= 1.5x ``insert_all`` at 100k; export <= 3x ``zstd -3 | age`` of the same NDJSON.

Every step runs in its own child process, so its peak RSS (``ru_maxrss``) and CPU
time are its own. Floors, run in the same way on the same NDJSON file:
- ``insert_all``: sqlite-utils ``insert_all`` of the rows (id primary key, JSON data),
  WAL and ``synchronous=FULL`` like the store;
- ``zstd -3 | age``: the NDJSON compressed by the zstandard module at level 3, then
  encrypted to the recipient with pyrage (the age reference format, Rust).
Figures are ratios within one run; the machine is shared and loaded, so absolute
times vary between runs.
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
    raise SystemExit(f"unknown step {step}")


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", default="10000,100000")
    ap.add_argument("--child")
    ap.add_argument("--work")
    args = ap.parse_args()
    counts = [int(x) for x in args.counts.split(",")]
    if args.child:
        child(args.child, Path(args.work), counts[0])
        return
    from sneakersync.demo import fielddata
    from sneakersync.store import home as home_mod

    work = Path(tempfile.mkdtemp(prefix="snk-bench-scale-"))
    results: list[dict[str, Any]] = []
    try:
        home_mod.create(work / "b", "B")
        for n in counts:
            fielddata.write_jsonl(work / f"src{n}.jsonl", "households", n, seed=42)
            row: dict[str, Any] = {"count": n, "ndjson_bytes": (work / f"src{n}.jsonl").stat().st_size}
            for step in ("insert_all", "load", "zstd_age", "export", "import"):
                row[step] = run_step(step, work, n)
                print(f"{n:>9,} {step:<10} {json.dumps(row[step])}", flush=True)
            row["load_vs_insert_all_cpu"] = round(row["load"]["cpu_s"] / row["insert_all"]["cpu_s"], 2)
            row["import_vs_insert_all_cpu"] = round(row["import"]["cpu_s"] / row["insert_all"]["cpu_s"], 2)
            row["export_vs_zstd_age_wall"] = round(row["export"]["wall_s"] / row["zstd_age"]["wall_s"], 2)
            row["store_bytes_per_record"] = round(row["load"]["store_bytes"] / n)
            row["insert_all_bytes_per_record"] = round(row["insert_all"]["store_bytes"] / n)
            results.append(row)
            for f in work.glob(f"*{n}*"):
                if f.is_dir():
                    shutil.rmtree(f, ignore_errors=True)
                else:
                    f.unlink()
        table([(f"{r['count']:,}", f"load {r['load']['wall_s'] / r['count'] * 1e6:.0f} us/rec "
                f"{r['load']['rss_mb']:.0f} MB; export {r['export']['rss_mb']:.0f} MB; import "
                f"{r['import']['wall_s'] / r['count'] * 1e6:.0f} us/rec {r['import']['rss_mb']:.0f} MB;"
                f" import/insert_all cpu {r['import_vs_insert_all_cpu']}x; export/zstd|age "
                f"{r['export_vs_zstd_age_wall']}x; {r['store_bytes_per_record']} B/rec") for r in results])
        save("scale", {"results": results, "loadavg": os.getloadavg()[0]})
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
