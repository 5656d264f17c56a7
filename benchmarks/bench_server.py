"""Server ingest throughput vs. device import of the same packets, in one run.

    python benchmarks/bench_server.py [--devices 4] [--packets 10] [--changes 500]

Each of N devices writes P packets of C changes, each packet encrypted to both the
server and one receiving device ("sink").  We time the server ingesting every
packet (verify, dedup, store, delivery bookkeeping, then receipts for all devices)
and the sink importing the same packets (verify, apply), on fresh stores, and
print packets/s, changes/s and the ratio.  Results: benchmarks/results/server.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import save, table  # noqa: E402
from sneakersync.store import home as home_mod
from sneakersync.store import peers  # noqa: E402
from sneakersync.wire.identity import KIND_SERVER  # noqa: E402
from sneakersync.server.ingest import ingest_packet, issue_receipt  # noqa: E402
from sneakersync.server.store import SqliteServerStore  # noqa: E402
from sneakersync.sync.engine import ImportReport, build_export, import_packet  # noqa: E402


def make_packets(root: Path, n_dev: int, n_pkt: int, n_chg: int):
    srv = home_mod.create(root / "srv", "Server", kind=KIND_SERVER)
    sink = home_mod.create(root / "sink", "Sink")
    sink_store = sink.open_store()
    srv_store = srv.open_store()
    packets: list[bytes] = []
    for d in range(n_dev):
        h = home_mod.create(root / f"d{d}", f"Device {d}")
        st = h.open_store()
        peers.add(st, srv.card.encode())
        peers.add(st, sink.card.encode())
        peers.add(sink_store, h.card.encode())
        peers.add(srv_store, h.card.encode())  # enrolled on the server
        recips = [peers.by_id(st, srv.device_id), peers.by_id(st, sink.device_id)]
        for p in range(n_pkt):
            st.write_many("households", [(f"d{d}-{p}-{i}", {
                "name": f"Household {d}-{p}-{i}", "members": i % 9, "district": "Kibera",
                "notes": "x" * 40}) for i in range(n_chg)])
            out = build_export(h, st, recips)
            out.commit(st)
            packets.append(out.data)
        st.close()
    sink_store.close()
    srv_store.close()
    return srv, sink, packets


def bench(n_dev: int, n_pkt: int, n_chg: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        srv, sink, packets = make_packets(Path(tmp), n_dev, n_pkt, n_chg)
        changes = n_dev * n_pkt * n_chg
        core = srv.open_store()
        ss = SqliteServerStore(core)
        t0 = time.perf_counter()
        for data in packets:
            assert ingest_packet(srv, ss, data).status == "stored"
        t_ingest = time.perf_counter() - t0
        t0 = time.perf_counter()
        devs = ss.device_ids()
        for dev in devs:
            issue_receipt(srv, ss, dev)
        t_receipts = time.perf_counter() - t0
        t0 = time.perf_counter()
        for data in packets:  # the same sticks again: all duplicates
            ingest_packet(srv, ss, data)
        t_dup = time.perf_counter() - t0
        core.close()
        st = sink.open_store()
        rep = ImportReport()
        t0 = time.perf_counter()
        for data in packets:
            import_packet(sink, st, data, rep)
        t_import = time.perf_counter() - t0
        assert rep.changes_applied == changes, rep.as_json()
        st.close()
    n = len(packets)
    return {"devices": n_dev, "packets": n, "changes": changes,
            "packet_bytes": sum(len(p) for p in packets),
            "server_ingest_s": round(t_ingest, 3),
            "server_packets_per_s": round(n / t_ingest, 1),
            "server_changes_per_s": round(changes / t_ingest),
            "server_receipts_s": round(t_receipts, 3),
            "server_duplicate_ingest_packets_per_s": round(n / t_dup, 1),
            "device_import_s": round(t_import, 3),
            "device_packets_per_s": round(n / t_import, 1),
            "device_changes_per_s": round(changes / t_import),
            "ingest_vs_import_ratio": round(t_import / t_ingest, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=4)
    ap.add_argument("--packets", type=int, default=10)
    ap.add_argument("--changes", type=int, default=500)
    a = ap.parse_args()
    r = bench(a.devices, a.packets, a.changes)
    print(f"server ingest vs device import: {r['packets']} packets, {r['changes']} changes, "
          f"{r['packet_bytes']:,} bytes")
    table([
        ("", "packets/s      changes/s      seconds"),
        ("server ingest", f"{r['server_packets_per_s']:<14} {r['server_changes_per_s']:<14} "
                          f"{r['server_ingest_s']}"),
        ("device import", f"{r['device_packets_per_s']:<14} {r['device_changes_per_s']:<14} "
                          f"{r['device_import_s']}"),
        ("receipts (all devices)", f"{r['server_receipts_s']} s"),
        ("re-ingest (duplicates)", f"{r['server_duplicate_ingest_packets_per_s']} packets/s"),
        ("ratio ingest speed / import speed", f"{r['ingest_vs_import_ratio']}"),
    ])
    print(f"wrote {save('server', {'server': r})}")


if __name__ == "__main__":
    main()
