"""Cost of data at rest: the SQLCipher store of a sealed home vs the plain store, same run.

Run: python benchmarks/bench_at_rest.py [--count 100000] [--repeat 3]

For each of load (``write_many`` of N records into an empty store), export (a full
packet of them for one peer) and import (that packet into an empty peer store),
the plain home (``--no-passphrase``: stdlib sqlite3) and the sealed home (SQLCipher
4, AES-256 + HMAC-SHA512 pages, raw key) run alternately, best of ``--repeat``,
in wall time and in this process's CPU time (steadier when others load the machine).
Goal (issue 13): sealed / plain <= 1.3 for each.  The Argon2id unlock (once per
command, MODERATE: about 0.4 s here) is timed separately: it is not per record.
Results: benchmarks/results/at_rest.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, table  # noqa: E402

from sneakersync.demo import fielddata  # noqa: E402
from sneakersync.store import home as home_mod  # noqa: E402
from sneakersync.store import keystore, peers  # noqa: E402
from sneakersync.sync.engine import ImportReport, build_export, import_packet  # noqa: E402

PASS = "benchmark passphrase"
MODES = ("plain", "sealed")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="snk-bench-atrest-"))
    try:
        run(tmp, args.count, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, count: int, repeat: int) -> dict[str, Any]:
    rows = list(fielddata.generate("households", count, seed=7, with_ids=True))
    items = [(r["id"], {k: v for k, v in r.items() if k != "id"}) for r in rows]
    made = [0]

    def new_home(mode: str, name: str) -> home_mod.Home:
        made[0] += 1
        return home_mod.create(tmp / f"{mode}-{name}-{made[0]}", name,
                               passphrase=PASS if mode == "sealed" else None)

    # one sender and one receiver identity per mode; their stores are replaced per trial
    sender = {m: new_home(m, "A") for m in MODES}
    receiver = {m: new_home(m, "B") for m in MODES}
    times: dict[str, dict[str, list[float]]] = {op: {m: [] for m in MODES}
                                                for op in ("load", "export", "import")}
    cpu: dict[str, dict[str, list[float]]] = {op: {m: [] for m in MODES} for op in times}

    class timed:
        """Wall and CPU time of this process (CPU is steadier on a shared machine)."""

        def __init__(self, op: str, mode: str) -> None:
            self.op, self.mode = op, mode

        def __enter__(self) -> None:
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def __exit__(self, *exc: object) -> None:
            times[self.op][self.mode].append(time.perf_counter() - self.t0)
            cpu[self.op][self.mode].append(time.process_time() - self.c0)

    packets: dict[str, bytes] = {}
    for _ in range(repeat):
        for m in MODES:
            a = new_home(m, "A")
            s = a.open_store()
            with timed("load", m):
                s.write_many("households", iter(items))
            s.close()
        for m in MODES:
            a, b = sender[m], receiver[m]
            if not packets.get(m):
                s = a.open_store()
                if not s.counter:
                    s.write_many("households", iter(items))
                    peers.add(s, b.card.encode())
                s.close()
            s = a.open_store()
            pb = peers.get(s, "B")
            with timed("export", m):
                out = build_export(a, s, [pb], full=True, pad_to=0)
            s.close()
            assert out is not None
            packets[m] = out.data
        for m in MODES:
            b = receiver[m]
            for f in ("store.db", "store.db-wal", "store.db-shm"):
                (b.path / f).unlink(missing_ok=True)
            s = b.open_store()
            peers.add(s, sender[m].card.encode())
            rep = ImportReport()
            with timed("import", m):
                import_packet(b, s, packets[m], rep)
            s.close()
            assert rep.changes_applied == count, rep.as_json()

    t0 = time.perf_counter()
    home_mod.load(sender["sealed"].path, PASS)
    unlock_s = time.perf_counter() - t0
    best = {op: {m: min(v) for m, v in by.items()} for op, by in times.items()}
    ratios = {op: round(b["sealed"] / b["plain"], 2) for op, b in best.items()}
    best_cpu = {op: {m: min(v) for m, v in by.items()} for op, by in cpu.items()}
    cpu_ratios = {op: round(b["sealed"] / b["plain"], 2) for op, b in best_cpu.items()}
    out = {"count": count, "repeat": repeat, "seconds": best, "ratio_sealed_vs_plain": ratios,
           "cpu_seconds": best_cpu, "cpu_ratio_sealed_vs_plain": cpu_ratios,
           "goal": 1.3, "kdf": {"ops": keystore.REAL.ops, "mem": keystore.REAL.mem},
           "unlock_seconds": round(unlock_s, 3),
           "weak_kdf_for_tests": keystore.creation_params().weak}
    table([(op, f"plain {b['plain']:.2f}s  sealed {b['sealed']:.2f}s  ratio {ratios[op]:.2f}x"
                f"  (CPU {cpu_ratios[op]:.2f}x)") for op, b in best.items()] + [("unlock (Argon2id)", f"{unlock_s:.2f}s")])
    print(f"results: {save('at_rest', out)}")
    return out


if __name__ == "__main__":
    main()
