"""`load` of N generated records vs a plain sqlite-utils insert_all of the same rows.

Run: python benchmarks/bench_load.py [--count 100000]
Goal (issue 2): ratio within 2x.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import sqlite_utils

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, save, table  # noqa: E402

from sneakersync.demo import fielddata
from sneakersync.store import home as home_mod  # noqa: E402
from sneakersync.store.load import read_records  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="snk-bench-load-"))
    try:
        src = tmp / "households.jsonl"
        fielddata.write_jsonl(src, "households", args.count, seed=42)
        n = 0

        def ours() -> int:
            d = tmp / f"dev{n_runs()}"
            h = home_mod.create(d, "bench")
            s = h.open_store()
            ids = s.write_many("households", read_records(src))
            s.close()
            return len(ids)

        runs = [0]

        def n_runs() -> int:
            runs[0] += 1
            return runs[0]

        def plain() -> int:
            db_path = tmp / f"plain{n_runs()}.db"
            conn = sqlite3.connect(db_path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            db = sqlite_utils.Database(conn)
            rows = []
            with open(src, "rb") as fh:
                for line in fh:
                    obj = json.loads(line)
                    rid = obj.pop("id")
                    rows.append({"id": rid, "data": json.dumps(obj, ensure_ascii=False)})
            db["records"].insert_all(rows, pk="id", batch_size=5000)
            conn.close()
            return len(rows)

        t_plain, n_plain = best_of(plain, args.repeat)
        t_ours, n = best_of(ours, args.repeat)
        assert n == n_plain == args.count
        ratio = t_ours / t_plain
        print(f"load of {args.count:,} records (best of {args.repeat})")
        table([("sneakersync load", f"{t_ours:.2f} s  ({args.count / t_ours:,.0f} records/s)"),
               ("sqlite-utils insert_all", f"{t_plain:.2f} s  ({args.count / t_plain:,.0f} rows/s)"),
               ("ratio", f"{ratio:.2f}x  (goal <= 2x)")])
        save("load_cmd", {"count": args.count, "sneakersync_s": round(t_ours, 3),
                      "insert_all_s": round(t_plain, 3), "ratio": round(ratio, 2)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
