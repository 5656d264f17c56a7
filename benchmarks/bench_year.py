"""A year of use: does the store, the stick and the daily sync stay flat?

Run: python benchmarks/bench_year.py [--days 365] [--devices 3]
Goal (issue 15): store size, stick files and per-day export/import times at day 365
within 1.5x of day 30, with live data held constant.

Three devices share one USB stick (a folder). Each day every device, in turn,
imports what is on the stick, makes 20 new records, edits 50 and deletes 20 (so
the live set stays constant), and exports for the others. Every 30 days each
device runs compaction (``sneakersync.sync.compact.compact``) and forgets seen
packets settled over 90 days ago, as ``prune`` does (every 5 days by default, so day
30, 180 and 365 are all compaction days; the store's wall-clock stamps are moved to
the simulated day). Import and export clean the stick themselves.
Times are wall clock on a shared, loaded machine: compare days within one run.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, table  # noqa: E402

from sneakersync.media.drive import Drive, export_to_drive, import_from_drive  # noqa: E402
from sneakersync.store import home as home_mod  # noqa: E402
from sneakersync.store import peers  # noqa: E402
from sneakersync.sync.compact import compact  # noqa: E402
from sneakersync.sync.prune import compact_seen  # noqa: E402

DAY_MS = 86_400_000


def _size(h: Any) -> int:
    return sum(os.path.getsize(p) for p in (h.store_path, Path(str(h.store_path) + "-wal"))
               if os.path.exists(p))


def _rows(store: Any) -> dict[str, int]:
    out = {}
    for t in ("changes", "records", "segments", "packets", "knowledge", "held", "hashlog",
              "carried"):
        try:
            out[t] = int(store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
        except Exception:  # table not made yet
            out[t] = 0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--devices", type=int, default=3)
    ap.add_argument("--new", type=int, default=20)
    ap.add_argument("--edits", type=int, default=50)
    ap.add_argument("--every", type=int, default=5, help="compaction period, days")
    ap.add_argument("--keep", action="store_true", help="keep the folder (print its path)")
    args = ap.parse_args()
    rnd = random.Random(15)
    tmp = Path(tempfile.mkdtemp(prefix="snk-bench-year-"))
    marks = sorted({d for d in (30, 180, 365, args.days) if d <= args.days})
    try:
        usb = tmp / "usb"
        usb.mkdir()
        homes = [home_mod.create(tmp / f"d{i}", f"dev{i}") for i in range(args.devices)]
        stores = [h.open_store() for h in homes]
        for s in stores:
            for h in homes:
                if h.device_id != s.device_id:
                    peers.add(s, h.card.encode())
        live: list[list[str]] = [[] for _ in homes]
        start = 1_700_000_000_000
        report: list[dict[str, Any]] = []
        for day in range(1, args.days + 1):
            now = start + day * DAY_MS
            t_imp = t_exp = 0.0
            for i, (h, s) in enumerate(zip(homes, stores)):
                t0 = time.perf_counter()
                import_from_drive(h, s, usb)
                t_imp += time.perf_counter() - t0
                mine = live[i]
                new = [f"d{i}-{day}-{k}" for k in range(args.new)]
                s.write_many("households", [(rid, {"name": f"household {rid}", "members":
                                                   rnd.randint(1, 9), "day": day}) for rid in new],
                             ts=now)
                mine.extend(new)
                for rid in rnd.sample(mine, min(args.edits, len(mine))):
                    s.put("households", {"name": f"household {rid}", "members": rnd.randint(1, 9),
                                         "day": day, "edited": True}, rid, ts=now)
                for rid in mine[:args.new] if len(mine) > 3 * args.new else []:
                    s.delete("households", rid, ts=now)
                del mine[:args.new if len(mine) > 3 * args.new else 0]
                t0 = time.perf_counter()
                export_to_drive(h, s, usb, [])
                t_exp += time.perf_counter() - t0
            for s in stores:  # the store stamps wall-clock times: move them to the simulated day
                for t in ("packets", "carried"):
                    s.conn.execute(f"UPDATE {t} SET at=? WHERE at>?", (now, start + (args.days + 1) * DAY_MS))
            if day % args.every == 0:
                for s in stores:
                    compact(s)
                    compact_seen(s, now)  # forget packets settled over 90 days ago, as prune does
            if day in marks:
                s0 = stores[0]
                s0.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file, not the WAL
                row = {"day": day, "store_bytes": _size(homes[0]),
                       "live_records": int(s0.conn.execute(
                           "SELECT COUNT(*) FROM records WHERE deleted=0").fetchone()[0]),
                       "rows": _rows(s0), "stick_files": len(list(Drive(usb).packets())),
                       "import_s_per_day": round(t_imp, 3), "export_s_per_day": round(t_exp, 3)}
                report.append(row)
                print(f"day {day}: {row}", flush=True)
        base = report[0]
        last = report[-1]
        ratios = {k: round(last[k] / base[k], 2) if base[k] else None for k in
                  ("store_bytes", "stick_files", "import_s_per_day", "export_s_per_day")}
        table([(f"day {r['day']}", f"store {r['store_bytes'] / 1e6:.2f} MB, changes "
                f"{r['rows']['changes']}, stick {r['stick_files']} files, import "
                f"{r['import_s_per_day']} s, export {r['export_s_per_day']} s") for r in report])
        table([(f"day {last['day']} / day {base['day']}", str(ratios))])
        save("year", {"days": args.days, "devices": args.devices, "marks": report,
                      "ratios": ratios, "loadavg": os.getloadavg()[0]})
        for s in stores:
            s.close()
    finally:
        if args.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
