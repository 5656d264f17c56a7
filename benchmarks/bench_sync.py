"""Export / import of N records vs the floor of the same work done plainly.

Run: python benchmarks/bench_sync.py [--count 100000]

Figures (issue 3 goals):
- export time vs floor (read rows with sqlite-utils, NDJSON, zstd -3, age-encrypt): <= 1.5x;
  packet size vs the floor's output: within 5%;
- import time vs a plain bulk insert of the same rows: <= 3x;
- re-import of the same packet vs hashing the file: <= 2x;
- delta export after 1% of records change: packet size <= 1.2x the compressed changed rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import sqlite_utils
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, save, table  # noqa: E402

from sneakersync.wire import age
from sneakersync.demo import fielddata
from sneakersync.store import home as home_mod
from sneakersync.store import peers  # noqa: E402
from sneakersync.sync.engine import ImportReport, build_export, import_packet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="snk-bench-sync-"))
    try:
        run(tmp, args.count, args.repeat)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, count: int, repeat: int) -> None:
    a = home_mod.create(tmp / "a", "A")
    b = home_mod.create(tmp / "b", "B")
    sa = a.open_store()
    rows = list(fielddata.generate("households", count, seed=7, with_ids=True))
    sa.write_many("households", ((r.pop("id"), r) for r in rows))
    peers.add(sa, b.card.encode())
    pb = peers.get(sa, "B")

    # --- export vs floor ---------------------------------------------------------
    def export() -> bytes:
        out = build_export(a, sa, [pb], full=True, pad_to=0)
        assert out is not None
        return out.data

    def floor() -> bytes:
        db = sqlite_utils.Database(sqlite3.connect(a.store_path))
        lines = [json.dumps({"id": rid, "data": json.loads(data)}, ensure_ascii=False,
                            separators=(",", ":"))
                 for rid, data in db.execute("SELECT rid, data FROM records")]
        raw = ("\n".join(lines) + "\n").encode()
        comp = zstandard.ZstdCompressor(level=3).compress(raw)
        return age.encrypt(comp, [b.keys.enc_public])

    t_floor, floor_bytes = best_of(floor, repeat)
    t_export, packet = best_of(export, repeat)

    # --- import vs plain bulk insert -----------------------------------------------
    counter = [0]

    def fresh_b():
        counter[0] += 1
        d = tmp / f"b{counter[0]}"
        shutil.copytree(b.path, d)
        for f in ("store.db", "store.db-wal", "store.db-shm"):
            (d / f).unlink(missing_ok=True)
        h = home_mod.load(d)
        s = h.open_store()
        peers.add(s, a.card.encode())
        return h, s

    def do_import() -> int:
        h, s = fresh_b()
        rep = ImportReport()
        import_packet(h, s, packet, rep)
        s.close()
        assert rep.changes_applied == count, rep.as_json()
        return rep.changes_applied

    def plain_insert() -> int:
        counter[0] += 1
        conn = sqlite3.connect(tmp / f"plain{counter[0]}.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        db = sqlite_utils.Database(conn)
        db["records"].insert_all(({"id": r_id, "data": json.dumps(r, ensure_ascii=False)}
                                  for r_id, r in zip(ids, rows)), pk="id", batch_size=5000)
        conn.close()
        return count

    ids = [rid for rid, _ in sa.rows("households")]
    rows = [data for _, data in sa.rows("households")]
    t_plain, _ = best_of(plain_insert, repeat)
    t_import, _ = best_of(do_import, repeat)

    # --- re-import vs hashing ------------------------------------------------------
    hb, sb = fresh_b()
    import_packet(hb, sb, packet, ImportReport())

    def reimport() -> None:
        rep = ImportReport()
        import_packet(hb, sb, packet, rep)
        assert rep.duplicates == 1

    t_hash, _ = best_of(lambda: hashlib.sha256(packet).digest(), 5)
    t_reimport, _ = best_of(reimport, 5)
    sb.close()

    # --- delta after 1% changes ----------------------------------------------------
    out_full = build_export(a, sa, [pb], pad_to=0)
    assert out_full is not None
    out_full.commit(sa)
    changed = []
    for i, (rid, data) in enumerate(zip(ids, rows)):
        if i % 100 == 0:
            data = dict(data)
            data["priority"] = "revisited"
            changed.append({"id": rid, "data": data})
            sa.put("households", data, rid)
    delta = build_export(a, sa, [pb], pad_to=0)
    assert delta is not None and delta.changes == len(changed)
    changed_comp = zstandard.ZstdCompressor(level=3).compress(
        ("\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in changed)
         + "\n").encode())
    sa.close()

    res = {
        "count": count,
        "export_s": round(t_export, 3), "export_floor_s": round(t_floor, 3),
        "export_ratio": round(t_export / t_floor, 2),
        "packet_bytes": len(packet), "floor_bytes": len(floor_bytes),
        "size_ratio": round(len(packet) / len(floor_bytes), 3),
        "import_s": round(t_import, 3), "plain_insert_s": round(t_plain, 3),
        "import_ratio": round(t_import / t_plain, 2),
        "reimport_s": round(t_reimport, 4), "hash_s": round(t_hash, 4),
        "reimport_ratio": round(t_reimport / t_hash, 2),
        "delta_changes": len(changed), "delta_bytes": len(delta.data),
        "changed_rows_zstd_bytes": len(changed_comp),
        "delta_ratio": round(len(delta.data) / len(changed_comp), 3),
    }
    print(f"sync of {count:,} household records (best of {repeat})")
    table([
        ("export", f"{t_export:.2f} s vs floor {t_floor:.2f} s: {res['export_ratio']}x (goal <= 1.5x)"),
        ("packet size", f"{len(packet):,} B vs floor {len(floor_bytes):,} B: "
                        f"{res['size_ratio']}x (goal within 5%)"),
        ("import", f"{t_import:.2f} s vs bulk insert {t_plain:.2f} s: {res['import_ratio']}x (goal <= 3x)"),
        ("re-import", f"{t_reimport * 1000:.1f} ms vs sha256 {t_hash * 1000:.1f} ms: "
                      f"{res['reimport_ratio']}x (goal <= 2x)"),
        ("delta (1%)", f"{len(delta.data):,} B vs changed rows zstd {len(changed_comp):,} B: "
                       f"{res['delta_ratio']}x (goal <= 1.2x)"),
    ])
    save("sync", res)


if __name__ == "__main__":
    main()
