"""Crash-consistency campaign: kill -9 of import/export, many times.

Half the trials kill at a durability point (the k-th fsync / rename / COMMIT, just
before or just after it, k walking over every point of a clean run); the other
half kill after a uniformly random delay within the clean run's wall time.  Each
trial checks integrity, "sent only if on the stick", and that a re-run reaches
exactly the clean result (tests/crash/scenario.py).  Results:
benchmarks/results/crash.json.

Example:
  python benchmarks/crash_campaign.py --trials 1000
  python benchmarks/crash_campaign.py --trials 50 --records 300
Each trial is one child process; the campaign uses one core.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "crash"))
sys.path.insert(0, str(HERE))

import scenario as S  # noqa: E402
from common import save  # noqa: E402


def server_ops_available() -> bool:
    try:
        import sneakersync.cli.server  # noqa: F401
    except ImportError:
        return False
    return True


def _startup_s(root: Path) -> float:
    """Wall time of a child that only loads the CLI (the part of a run before any work)."""
    import subprocess

    best = 1e9
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(S.WRAPPER), "--", "--help"], capture_output=True,
                       check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--records", type=int, default=600)
    ap.add_argument("--packets", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    root = Path(tempfile.mkdtemp(prefix="crash-campaign-"))
    t_all = time.perf_counter()
    try:
        S.make_template(root / "template", records=a.records, packets=a.packets)
        ref = S.Reference(root / "template", root)
        plan = []
        points = [(op, k, ph) for op in S.OPS for k in range(1, ref.points[op][0] + 1)
                  for ph in ("before", "after")]
        startup = _startup_s(root)
        for i in range(a.trials):
            if i % 2 == 0:
                plan.append(points[(i // 2) % len(points)] + (None,))
            else:  # random moment between the CLI being loaded and the run's end
                op = S.OPS[(i // 2) % len(S.OPS)]
                plan.append((op, 0, "before",
                             rng.uniform(0.9 * startup, max(startup, ref.points[op][2]) * 1.1)))
        rows = []
        for i, (op, k, ph, delay) in enumerate(plan):
            r = S.trial(ref, op, root / "work", kill_at=k, phase=ph, delay=delay)
            rows.append(r)
            if not r["ok"]:
                print(f"  VIOLATION {r}", flush=True)
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{len(plan)} trials, {sum(not x['ok'] for x in rows)} violations",
                      flush=True)
        summary = {}
        for op in S.OPS:
            mine = [r for r in rows if r["op"] == op]
            summary[op] = {
                "trials": len(mine), "killed": sum(r["killed"] for r in mine),
                "killed_at_point": sum(1 for r in mine if r["kill_at"] and r["killed"]),
                "killed_at_random_time": sum(1 for r in mine if r["delay"] is not None and
                                             r["killed"]),
                "finished_before_kill": sum(1 for r in mine if not r["killed"]),
                "violations": sum(not r["ok"] for r in mine),
                "durability_points_per_run": ref.points[op][0],
                "point_kinds": ref.points[op][1],
                "clean_run_wall_s": round(ref.points[op][2], 2),
            }
        out = {
            "command": "python benchmarks/crash_campaign.py " + " ".join(sys.argv[1:]),
            "trials": len(rows), "violations": sum(not r["ok"] for r in rows),
            "corrupt_stores": sum(any("integrity" in p for p in r["problems"]) for r in rows),
            "state_divergences": sum(any("state" in p for p in r["problems"]) for r in rows),
            "data_lost": sum(any("sent" in p for p in r["problems"]) for r in rows),
            "by_op": summary,
            "server_ops": "included" if server_ops_available() else
                          "skipped: sneakersync.cli.server not present",
            "records": a.records, "packets_on_stick": a.packets,
            "cli_startup_s": round(startup, 2),
            "random_delay_range_s": "0.9 x startup .. 1.1 x max(startup, clean run)",
            "wall_seconds": round(time.perf_counter() - t_all, 1),
            "problems": [r for r in rows if not r["ok"]][:20],
        }
        path = save("crash", out)
        print(f"{len(rows)} trials, {out['violations']} violations -> {path}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
