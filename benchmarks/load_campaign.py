"""Load campaign: many packets, a big store, a large packet set with bounded memory.

Parts (each runs in its own child process, so peak RSS is that part's alone,
measured with ``resource.getrusage``):

  drive  a drive with P packets from D devices (default 10,000 from 50); one
         device imports them all: time, packets/s, peak RSS, store size.
  store  a store with R records (default 1,000,000) written through
         ``Store.write_many``: load time, db size, time to read every row of the
         collection with ``Store.rows`` and to ``get`` 1,000 random records.
  bulk   export then import a packet set of G GiB (default 1.0) made of packets of
         M MiB of incompressible records; peak RSS of the exporter and importer,
         compared with a set a tenth the size (bounded = it does not grow).

Examples:
  python benchmarks/load_campaign.py                         # everything, full size
  python benchmarks/load_campaign.py --parts drive --packets 2000 --devices 20
  python benchmarks/load_campaign.py --parts store --records 200000
  python benchmarks/load_campaign.py --parts bulk --gib 0.25 --packet-mib 8
Results: benchmarks/results/load.json (parts not run keep their previous figures).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _rng(seed: int):  # type: ignore[no-untyped-def]
    return random.Random(seed).randbytes


def part_drive(work: Path, packets: int, devices: int) -> dict[str, Any]:
    from sneakersync.store import home as home_mod
    from sneakersync.store import peers
    from sneakersync.media.drive import export_to_drive, import_from_drive

    stick = work / "stick"
    stick.mkdir()
    bob = home_mod.create(work / "bob", "Receiver", rng=_rng(0))
    sb = bob.open_store()
    t0 = time.perf_counter()
    per = max(1, packets // devices)
    made = 0
    for d in range(devices):
        h = home_mod.create(work / f"d{d}", f"Device {d}", rng=_rng(d + 1))
        st = h.open_store()
        peers.add(st, bob.card.encode())
        peers.add(sb, h.card.encode())
        st.conn.execute("PRAGMA synchronous=OFF")  # building the fixture only
        for i in range(per):
            st.write_many("visits", [(f"d{d}-v{i}-{j}", {"n": j, "site": f"Site {i % 97}",
                                                          "notes": "ok" * (j % 7)})
                                     for j in range(3)])
            export_to_drive(h, st, stick, [])
            made += 1
        st.close()
    build_s = time.perf_counter() - t0
    rss_build = _rss_mib()
    sb.close()
    # import in a fresh child so its peak RSS is the importer's alone
    code = ("import json,sys,time,resource;from pathlib import Path;"
            "from sneakersync.store import home;from sneakersync.media.drive import import_from_drive;"
            f"h=home.load(Path({str(work / 'bob')!r}));s=h.open_store();t=time.perf_counter();"
            f"r=import_from_drive(h,s,Path({str(stick)!r}));el=time.perf_counter()-t;"
            "print(json.dumps({'seconds':el,'imported':r.imported,'rejected':len(r.rejected),"
            "'changes':r.changes_applied,'rss_mib':resource.getrusage(resource.RUSAGE_SELF)"
            ".ru_maxrss/1024}))")
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout)
    pk = list((stick / "sneakersync" / "v1" / "packets").iterdir())
    # a second pass: everything is a duplicate
    t = time.perf_counter()
    sb = bob.open_store()
    rep = import_from_drive(bob, sb, stick)
    again = time.perf_counter() - t
    rows = sum(1 for _ in sb.rows("visits"))
    sb.close()
    return {"devices": devices, "packets": len(pk),
            "stick_bytes": sum(p.stat().st_size for p in pk),
            "fixture_build_s": round(build_s, 1), "import_s": round(out["seconds"], 1),
            "import_packets_per_s": round(out["imported"] / out["seconds"], 1),
            "imported": out["imported"], "rejected": out["rejected"],
            "changes_applied": out["changes"], "rows_after": rows,
            "importer_peak_rss_mib": round(out["rss_mib"], 1),
            "reimport_all_duplicates_s": round(again, 1), "reimport_duplicates": rep.duplicates,
            "store_mib": round((work / "bob" / "store.db").stat().st_size / 2**20, 1),
            "builder_peak_rss_mib": rss_build}


def part_store(work: Path, records: int) -> dict[str, Any]:
    from sneakersync.store import home as home_mod

    h = home_mod.create(work / "dev", "Big store", rng=_rng(1))
    st = h.open_store()
    rnd = random.Random(3)
    places = [f"Village {i}" for i in range(500)]

    def gen():  # type: ignore[no-untyped-def]
        for i in range(records):
            yield f"hh-{i:07d}", {"head": f"Person {rnd.randrange(10**6)}",
                                  "size": rnd.randrange(1, 12), "place": rnd.choice(places),
                                  "needs": ["water", "shelter"][: rnd.randrange(3)],
                                  "date": f"2025-0{rnd.randrange(1, 10)}-1{rnd.randrange(10)}"}

    t0 = time.perf_counter()
    st.write_many("households", gen())
    load_s = time.perf_counter() - t0
    rss_load = _rss_mib()
    st.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = (work / "dev" / "store.db").stat().st_size
    t = time.perf_counter()
    n = sum(1 for _ in st.rows("households"))
    rows_s = time.perf_counter() - t
    ids = [f"hh-{rnd.randrange(records):07d}" for _ in range(1000)]
    t = time.perf_counter()
    for rid in ids:
        st.get("households", rid)
    get_s = time.perf_counter() - t
    t = time.perf_counter()
    first = [r for _, r in zip(range(100), st.rows("households"))]
    first_s = time.perf_counter() - t
    st.close()
    return {"records": records, "load_s": round(load_s, 1),
            "records_per_s": round(records / load_s), "db_mib": round(size / 2**20, 1),
            "bytes_per_record": round(size / records), "rows_all_s": round(rows_s, 2),
            "rows_returned": n, "rows_first_100_ms": round(first_s * 1000, 2),
            "get_1000_random_ms": round(get_s * 1000, 1), "peak_rss_mib": rss_load,
            "peak_rss_after_rows_mib": _rss_mib()}


def part_bulk(work: Path, gib: float, packet_mib: float) -> dict[str, Any]:
    """Export then import ~gib GiB as packets of ~packet_mib MiB, measuring peak RSS."""
    from sneakersync.store import home as home_mod
    from sneakersync.store import peers

    a = home_mod.create(work / "a", "Sender", rng=_rng(1))
    b = home_mod.create(work / "b", "Receiver", rng=_rng(2))
    sa, sb = a.open_store(), b.open_store()
    peers.add(sa, b.card.encode())
    peers.add(sb, a.card.encode())
    sa.close()
    sb.close()
    stick = work / "stick"
    stick.mkdir()
    n_packets = max(1, round(gib * 1024 / packet_mib))
    rec_bytes = 2000
    # records are hex text, which zstd halves: aim at packet_mib *compressed*
    per_packet = max(1, int(packet_mib * 2**20 / (rec_bytes / 2 + 60)))
    child = (
        "import json,sys,time,os,random,resource;from pathlib import Path;"
        "from sneakersync.store import home;from sneakersync.media.drive import export_to_drive,"
        "import_from_drive;"
        "op,home_dir,stick,n,per,rb=sys.argv[1:7];n,per,rb=int(n),int(per),int(rb);"
        "h=home.load(Path(home_dir));s=h.open_store();t=time.perf_counter();tot=0;r=None\n"
        "if op=='export':\n"
        "  rnd=random.Random(5)\n"
        "  for i in range(n):\n"
        "    s.write_many('blobs',((f'p{i}-{j}',{'x':rnd.randbytes(rb//2).hex()}) "
        "for j in range(per)))\n"
        "    res=export_to_drive(h,s,Path(stick),[]);tot+=res['bytes']\n"
        "else:\n"
        "  r=import_from_drive(h,s,Path(stick))\n"
        "print(json.dumps({'seconds':time.perf_counter()-t,'bytes':tot,"
        "'imported':r.imported if r else None,'rejected':len(r.rejected) if r else None,"
        "'rss_mib':resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))")

    def run(op: str, home_dir: Path, n: int) -> dict[str, Any]:
        p = subprocess.run([sys.executable, "-c", child, op, str(home_dir), str(stick), str(n),
                            str(per_packet), str(rec_bytes)], capture_output=True, text=True)
        if p.returncode:
            raise RuntimeError(p.stderr[-2000:])
        return json.loads(p.stdout)

    exp = run("export", work / "a", n_packets)
    total = sum(f.stat().st_size for f in (stick / "sneakersync/v1/packets").iterdir())
    imp = run("import", work / "b", 0)
    return {"packets": n_packets, "records_per_packet": per_packet,
            "packet_mib": round(total / n_packets / 2**20, 2),
            "set_gib": round(total / 2**30, 3),
            "export_s": round(exp["seconds"], 1), "export_peak_rss_mib": round(exp["rss_mib"], 1),
            "import_s": round(imp["seconds"], 1), "import_peak_rss_mib": round(imp["rss_mib"], 1),
            "imported": imp["imported"], "rejected": imp["rejected"],
            "import_mib_per_s": round(total / 2**20 / imp["seconds"], 1)}


def main() -> None:
    from common import RESULTS, save

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="drive,store,bulk")
    ap.add_argument("--packets", type=int, default=10_000)
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--packet-mib", type=float, default=16.0)
    ap.add_argument("--compare-tenth", action="store_true",
                    help="bulk: also run a set a tenth the size, to show RSS does not grow")
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    prev: dict[str, Any] = {}
    path = RESULTS / "load.json"
    if path.exists():
        try:
            prev = json.loads(path.read_text()).get("parts", {})
        except ValueError:
            prev = {}
    for part in [p for p in a.parts.split(",") if p]:
        work = Path(tempfile.mkdtemp(prefix=f"load-{part}-", dir=a.workdir))
        t0 = time.perf_counter()
        try:
            if part == "drive":
                r = part_drive(work, a.packets, a.devices)
            elif part == "store":
                r = part_store(work, a.records)
            elif part == "bulk":
                r = part_bulk(work, a.gib, a.packet_mib)
                if a.compare_tenth:
                    shutil.rmtree(work)
                    work.mkdir()
                    r["tenth"] = part_bulk(work, a.gib / 10, a.packet_mib)
            else:
                raise SystemExit(f"unknown part {part}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        r["wall_s"] = round(time.perf_counter() - t0, 1)
        r["command"] = "python benchmarks/load_campaign.py " + " ".join(sys.argv[1:])
        prev[part] = r
        print(part, json.dumps(r), flush=True)
        save("load", {"parts": prev})


if __name__ == "__main__":
    main()
