"""The destination server under load: SQLite with 1 worker vs PostgreSQL with 1, 2, 4.

A store already holding C changes (default 1,000,000) from D devices (default 200),
all enrolled; then K HTTP clients (default 50) on loopback, for S seconds per setup,
each looping over: upload a new packet (60%), upload a packet again (25%), fetch the
device's receipt (15%).  Every setup starts from a copy of the same seeded store and
gets the same pre-built packets, and the server is the real CLI
(``sneakersync server serve --workers N --max-uploads K --per-client K``: every client is
on 127.0.0.1, as behind a load balancer) in its own processes.

Reported per setup: packets/s answered (new + duplicate), new packets/s stored,
p50/p99 latency of each kind of request, errors (any non-2xx answer or failed request),
the server's peak RSS (all its processes), and the machine's load average.
Goal (issue 16): PostgreSQL with 4 workers >= 207 packets/s, p99 < 500 ms, no errors,
duplicates <= 5 ms.

Run:  python benchmarks/bench_server_load.py                 # full size (~10 minutes)
      python benchmarks/bench_server_load.py --changes 100000 --devices 50 --seconds 10
      python benchmarks/bench_server_load.py --profile        # + where one ingest spends its time
Results: benchmarks/results/server_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

from common import save  # noqa: E402


def _rng(seed: int):  # type: ignore[no-untyped-def]
    return random.Random(seed).randbytes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- building the world ------------------------------------------------------------------

class World:
    def __init__(self, work: Path, devices: int, changes: int, per_device_new: int,
                 changes_per_packet: int) -> None:
        from sneakersync.server.setup import use_server
        from sneakersync.store import home as home_mod
        from sneakersync.store import peers
        from sneakersync.sync.engine import build_export, build_exports
        from sneakersync.wire.identity import KIND_SERVER

        self.work = work
        self.server = home_mod.create(work / "server", "National server", kind=KIND_SERVER,
                                      rng=_rng(7))
        self.cards: list[str] = []
        self.ids: list[str] = []
        self.seed_packets: list[bytes] = []
        self.new_packets: list[list[bytes]] = []
        per = changes // devices
        t0 = time.perf_counter()
        for d in range(devices):
            h = home_mod.create(work / "devices" / f"d{d}", f"Device {d}", rng=_rng(100 + d))
            st = h.open_store()
            st.conn.execute("PRAGMA synchronous=OFF")  # building the fixture only
            srv_peer = use_server(st, self.server.card.encode())
            st.write_many("visits", ((f"d{d}-{i}", {"n": i, "site": f"Site {i % 97}",
                                                    "household": f"HH-{d}-{i % 500}",
                                                    "ok": i % 3 == 0}) for i in range(per)))
            peer = peers.by_id(st, srv_peer.device_id)
            seed = build_exports(h, st, [peer])  # parts the server takes (10,000 changes)
            assert seed
            for out in seed:
                out.commit(st)
                self.seed_packets.append(out.data)
            mine = []
            for k in range(per_device_new):
                st.write_many("visits", [(f"d{d}-n{k}-{j}", {"n": j, "round": k,
                                                            "site": f"Site {j}"})
                                         for j in range(changes_per_packet)])
                o = build_export(h, st, [peer])
                assert o is not None
                o.commit(st)
                mine.append(o.data)
            self.new_packets.append(mine)
            self.cards.append(h.card.encode())
            self.ids.append(h.device_id)
            st.close()
            if d % 20 == 19:
                print(f"  built {d + 1}/{devices} devices ({time.perf_counter() - t0:.0f} s)",
                      flush=True)
        self.build_s = time.perf_counter() - t0

    def seed(self, db: Any) -> float:
        """Enroll every device and store the seed packets (in process, no HTTP)."""
        from sneakersync.server.enroll import enroll
        from sneakersync.server.ingest import ingest_packet, issue_receipt

        t0 = time.perf_counter()
        with db.session() as ss:
            for card in self.cards:
                enroll(self.server, ss, card)
            for i, data in enumerate(self.seed_packets):
                o = ingest_packet(self.server, ss, data)
                assert o.status == "stored", o
                assert o.sender is not None
                issue_receipt(self.server, ss, o.sender)  # as ingest and upload do
                if i % 50 == 49:
                    print(f"  seeded {i + 1}/{len(self.seed_packets)} packets "
                          f"({time.perf_counter() - t0:.0f} s)", flush=True)
        return time.perf_counter() - t0


# --- measuring ---------------------------------------------------------------------------

def _tree_rss_mib(root: int) -> float:
    """RSS of a process and all its descendants (from /proc)."""
    kids: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            status = (p / "status").read_text()
        except OSError:
            continue
        ppid = int(status.split("PPid:")[1].split()[0])
        kids.setdefault(ppid, []).append(int(p.name))
        if "VmRSS:" in status:
            rss[int(p.name)] = int(status.split("VmRSS:")[1].split()[0])
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(kids.get(pid, []))
    return total / 1024


async def _load(url: str, world: World, clients: int, seconds: float, seed: int
                ) -> dict[str, Any]:
    import httpx

    lat: dict[str, list[float]] = {"new": [], "duplicate": [], "receipt": []}
    errors: list[str] = []
    outcomes: dict[str, int] = {}
    queues = [list(p) for p in world.new_packets]
    sent: list[list[bytes]] = [[] for _ in world.new_packets]
    headers = {"Content-Type": "application/octet-stream"}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        async def one(cid: int) -> None:
            rnd = random.Random(seed * 1000 + cid)
            while time.perf_counter() < deadline:
                d = rnd.randrange(len(queues))
                r = rnd.random()
                if r < 0.15:
                    kind = "receipt"
                elif r < 0.40 and sent[d]:
                    kind = "duplicate"
                else:
                    kind = "new" if queues[d] else ("duplicate" if sent[d] else "receipt")
                t = time.perf_counter()
                try:
                    if kind == "receipt":
                        resp = await client.get(f"/v1/receipts/{world.ids[d]}")
                    else:
                        data = queues[d].pop(0) if kind == "new" else rnd.choice(sent[d])
                        resp = await client.post("/v1/packets", content=data, headers=headers)
                        if kind == "new":
                            sent[d].append(data)
                    ok = 200 <= resp.status_code < 300
                    if not ok:
                        errors.append(f"{kind}: HTTP {resp.status_code} {resp.text[:120]}")
                    else:
                        out = resp.headers.get("X-Sneakersync-Outcome", "receipt")
                        outcomes[out] = outcomes.get(out, 0) + 1
                except Exception as exc:  # noqa: BLE001
                    ok = False
                    errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:160])
                if ok:
                    lat[kind].append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(c) for c in range(clients)))
        elapsed = time.perf_counter() - t0
    return {"lat": lat, "errors": errors, "outcomes": outcomes, "elapsed": elapsed}


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] * 1000


def run_setup(name: str, home: Path, workers: int, world: World, clients: int,
              seconds: float, pool: int) -> dict[str, Any]:
    import httpx

    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "sneakersync", "--home", str(home), "server",
                             "serve", "--port", str(port), "--workers", str(workers), "--pool",
                             str(pool), "--max-uploads", str(clients),
                             "--per-client", str(clients)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(url + "/v1/status", timeout=30).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-800:]}")
            time.sleep(0.2)
        peak = [0.0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], _tree_rss_mib(proc.pid))
                stop.wait(0.5)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        load_before = os.getloadavg()[0]
        got = asyncio.run(_load(url, world, clients, seconds, seed=workers))
        load_after = os.getloadavg()[0]
        stop.set()
        th.join()
        status = httpx.get(url + "/v1/status", timeout=60).json()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lat = got["lat"]
    packets = len(lat["new"]) + len(lat["duplicate"])
    el = got["elapsed"]
    return {"setup": name, "workers": workers, "seconds": round(el, 1),
            "packets_per_s": round(packets / el, 1),
            "new_packets_per_s": round(len(lat["new"]) / el, 1),
            "receipts_per_s": round(len(lat["receipt"]) / el, 1),
            "p50_ms": round(_pct(lat["new"] + lat["duplicate"], 0.5), 1),
            "p99_ms": round(_pct(lat["new"] + lat["duplicate"], 0.99), 1),
            "new_p50_ms": round(_pct(lat["new"], 0.5), 1),
            "new_p99_ms": round(_pct(lat["new"], 0.99), 1),
            "dup_p50_ms": round(_pct(lat["duplicate"], 0.5), 1),
            "dup_p99_ms": round(_pct(lat["duplicate"], 0.99), 1),
            "receipt_p50_ms": round(_pct(lat["receipt"], 0.5), 1),
            "receipt_p99_ms": round(_pct(lat["receipt"], 0.99), 1),
            "errors": len(got["errors"]), "error_samples": got["errors"][:5],
            "outcomes": got["outcomes"], "server_peak_rss_mib": round(peak[0], 1),
            "load_avg_before": round(load_before, 2), "load_avg_after": round(load_after, 2),
            "changes_after": status["totals"]["changes"],
            "store": status["store"]["backend"]}


def profile_ingest(world: World, dbs: dict[str, Any], n: int) -> dict[str, str]:
    """cProfile of n new-packet ingests + receipts, in process, per backend: where the time goes."""
    from sneakersync.server.ingest import ingest_packet, issue_receipt

    out = {}
    for name, db in dbs.items():
        items = [(d, world.new_packets[d][0]) for d in range(min(n, len(world.ids)))]
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        with db.session() as ss:
            prof.enable()
            for d, data in items:
                o = ingest_packet(world.server, ss, data, via="http")
                issue_receipt(world.server, ss, o.sender or world.ids[d])
            prof.disable()
        el = time.perf_counter() - t0
        dup = []
        with db.session() as ss:
            for d, data in items:  # the same packets again: duplicates, one connection, no load
                t = time.perf_counter()
                o = ingest_packet(world.server, ss, data, via="http")
                issue_receipt(world.server, ss, o.sender or world.ids[d])
                dup.append(time.perf_counter() - t)
                assert o.status == "duplicate"
        out[name + " duplicate"] = (f"duplicate + its receipt, in process, no load: p50 "
                                    f"{_pct(dup, 0.5):.2f} ms, p99 {_pct(dup, 0.99):.2f} ms")
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(14)
        out[name] = f"{len(items)} packets in {el:.2f} s ({el / len(items) * 1000:.1f} ms each)\n" \
            + buf.getvalue()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--changes", type=int, default=1_000_000)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--new-per-device", type=int, default=40)
    ap.add_argument("--changes-per-packet", type=int, default=10)
    ap.add_argument("--setups", default="sqlite:1,postgresql:1,postgresql:2,postgresql:4")
    ap.add_argument("--pool", type=int, default=6, help="connections per worker")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    import pg_cluster
    import psycopg

    from sneakersync.server.backends import open_server_db, set_db_url

    work = Path(tempfile.mkdtemp(prefix="snk-bench-srvload-"))
    pg_dir = Path(tempfile.mkdtemp(prefix="snkpgb"))
    print(f"work folder {work}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    base = pg_cluster.start(pg_dir, fsync=True, max_connections=200)
    try:
        print(f"building {args.devices} devices, {args.changes:,} changes, "
              f"{args.new_per_device} new packets each ...", flush=True)
        world = World(work, args.devices, args.changes, args.new_per_device,
                      args.changes_per_packet)
        print(f"built in {world.build_s:.0f} s; seeding SQLite ...", flush=True)
        db = open_server_db(world.server)
        sqlite_seed_s = world.seed(db)
        db.close()
        with psycopg.connect(base, autocommit=True) as c:
            c.execute("CREATE DATABASE seed")
        seed_url = base.replace("/postgres?", "/seed?")
        print(f"SQLite seeded in {sqlite_seed_s:.0f} s; seeding PostgreSQL ...", flush=True)
        pg_db = open_server_db(world.server, url=seed_url)
        pg_seed_s = world.seed(pg_db)
        pg_db.close()
        with psycopg.connect(seed_url, autocommit=True) as c:
            c.execute("VACUUM ANALYZE")
            c.execute("CHECKPOINT")
        print(f"PostgreSQL seeded in {pg_seed_s:.0f} s", flush=True)
        results = []
        for k, spec in enumerate(args.setups.split(",")):
            backend, workers = spec.split(":")
            home = work / f"setup{k}"
            shutil.copytree(work / "server", home)
            if backend == "postgresql":
                with psycopg.connect(base, autocommit=True) as c:
                    c.execute(f"CREATE DATABASE run{k} TEMPLATE seed")
                set_db_url(home, base.replace("/postgres?", f"/run{k}?"))
            name = f"{backend}, {workers} worker{'s' if workers != '1' else ''}"
            print(f"running {name} for {args.seconds:.0f} s ...", flush=True)
            r = run_setup(name, home, int(workers), world, args.clients, args.seconds,
                          args.pool)
            print(json.dumps({k2: v for k2, v in r.items() if k2 != "error_samples"}),
                  flush=True)
            if r["error_samples"]:
                print("  errors:", r["error_samples"])
            results.append(r)
        prof = {}
        if args.profile:
            from sneakersync.store import home as home_mod

            h0 = home_mod.load(work / "setup0")
            dbs = {"sqlite": open_server_db(h0)}
            with psycopg.connect(base, autocommit=True) as c:
                c.execute("CREATE DATABASE prof TEMPLATE seed")
            dbs["postgresql"] = open_server_db(world.server,
                                               url=base.replace("/postgres?", "/prof?"))
            world_copy = world
            # profile on stores that have not seen these packets yet
            sh = work / "prof-sqlite"
            shutil.copytree(work / "server", sh)
            dbs["sqlite"].close()
            dbs["sqlite"] = open_server_db(home_mod.load(sh))
            prof = profile_ingest(world_copy, dbs, 100)
            for v in dbs.values():
                v.close()
            for name, text in prof.items():
                print(f"\n--- profile: {name} ---\n{text}")
        print("\n| setup | packets/s | new/s | p50 ms | p99 ms | duplicate p50/p99 ms | "
              "receipt p50/p99 ms | errors | server RSS MiB | load avg |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in results:
            print(f"| {r['setup']} | {r['packets_per_s']} | {r['new_packets_per_s']} | "
                  f"{r['p50_ms']} | {r['p99_ms']} | {r['dup_p50_ms']} / {r['dup_p99_ms']} | "
                  f"{r['receipt_p50_ms']} / {r['receipt_p99_ms']} | {r['errors']} | "
                  f"{r['server_peak_rss_mib']} | {r['load_avg_before']}-{r['load_avg_after']} |")
        save("server_load", {"params": vars(args), "fixture_build_s": round(world.build_s, 1),
                             "seed_s": {"sqlite": round(sqlite_seed_s, 1),
                                        "postgresql": round(pg_seed_s, 1)},
                             "results": results, "profile": prof})
    finally:
        pg_cluster.stop(pg_dir)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
