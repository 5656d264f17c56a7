"""Receipt look-up cost for a made-up device id vs an indexed primary-key query, with N changes stored.

python benchmarks/bench_receipt_lookup.py [--changes 300000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import save, table  # noqa: E402
from sneakersync.server.enroll import enroll  # noqa: E402
from sneakersync.server.ingest import ingest_packet, issue_receipt  # noqa: E402
from sneakersync.server.store import SqliteServerStore  # noqa: E402
from sneakersync.server.setup import use_server  # noqa: E402
from sneakersync.store import home as home_mod  # noqa: E402
from sneakersync.store import peers  # noqa: E402
from sneakersync.sync.engine import build_export  # noqa: E402
from sneakersync.wire.identity import KIND_SERVER  # noqa: E402


def best(fn, n: int = 200) -> float:
    out = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t) / n)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=300_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        srv = home_mod.create(root / "srv", "Server", kind=KIND_SERVER)
        dev = home_mod.create(root / "dev", "Device")
        st = dev.open_store()
        use_server(st, srv.card.encode())
        core = srv.open_store()
        ss = SqliteServerStore(core)
        enroll(srv, ss, dev.card.encode())
        step = 10_000  # what the server takes in one packet (server-http-v1 §2.1)
        for i in range(0, args.changes, step):
            st.write_many("households", [(f"h{j}", {"n": j}) for j in range(i, min(args.changes, i + step))])
            out = build_export(dev, st, [peers.by_id(st, srv.device_id)])
            out.commit(st)
            o = ingest_packet(srv, ss, out.data)
            assert o.status == "stored", o
        made_up = "aaaaaaaaaaaaaaaa"
        t_unknown = best(lambda: issue_receipt(srv, ss, made_up))
        issue_receipt(srv, ss, dev.device_id)
        t_known = best(lambda: issue_receipt(srv, ss, dev.device_id), 20)
        t_pk = best(lambda: core.conn.execute("SELECT card FROM cards WHERE device_id=?", (made_up,)).fetchone())
        res = {"changes": args.changes, "made_up_ms": t_unknown * 1e3, "known_reissue_ms": t_known * 1e3,
               "pk_query_ms": t_pk * 1e3, "ratio_made_up_vs_pk": t_unknown / t_pk}
        table([["receipt for a made-up id", f"{t_unknown*1e3:.3f} ms"],
                     ["one primary-key query (baseline)", f"{t_pk*1e3:.3f} ms"],
                     ["ratio", f"{t_unknown/t_pk:.2f}x"],
                     ["re-issue of a known device's receipt", f"{t_known*1e3:.3f} ms"]])
        save("receipt_lookup", res)
        core.close()
        st.close()


if __name__ == "__main__":
    main()
