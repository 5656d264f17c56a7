"""Fuzz campaign: run every target for N executions and record what happened.

Engines:
  mutate   our mutation engine (tests/fuzz/mutate.py): bit flips, truncation,
           splicing, insertion of interesting bytes, over the seed corpus; the
           corpus grows with inputs that reach a new outcome.
  atheris  coverage-guided (libFuzzer) when ``atheris`` is importable; one child
           process per target, code instrumented, seeded with the same corpus.
  auto     atheris if importable, else mutate.

Every finding (an exception outside SneakersyncError, a broken invariant, an
input taking more than 1 s) is saved under tests/fuzz/regressions/<target>/ and
replayed by tests/test_fuzz.py.  Results go to benchmarks/results/fuzz.json.

Examples:
  python benchmarks/fuzz_campaign.py --execs 1000000                # full campaign
  python benchmarks/fuzz_campaign.py --execs 20000 --targets card,body
  python benchmarks/fuzz_campaign.py --engine atheris --seconds 120
Runs on one core (targets one after another); use ``nice`` while others work.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(HERE))

from common import RESULTS, save  # noqa: E402


def _outcome(exc_layer: str) -> str:
    return exc_layer


def run_mutate(name: str, execs: int, seconds: float | None, seed: int) -> dict[str, Any]:
    from fuzz import targets as T
    from fuzz.mutate import Mutator
    from sneakersync.errors import SneakersyncError

    fn = T.TARGETS[name]
    corpus = T.seeds(name)
    mut = Mutator(corpus, random.Random(seed))
    findings: dict[str, Any] = {}
    hangs = crashes = other = 0
    slowest = 0.0
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds if seconds else None
    inputs = iter(corpus)

    def one(data: bytes) -> None:
        nonlocal hangs, crashes, other, slowest
        t = time.perf_counter()
        try:
            fn(data)
            outcome = "ok"
        except SneakersyncError as exc:
            outcome = f"{exc.layer}:{str(exc)[:40]}"
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            f = T.run_one(name, data)  # classify (and re-check) the same input
            outcome = "finding"
            if f is not None:
                _record(findings, f)
                if f.kind == "invariant":
                    crashes += 1
                else:
                    other += 1
        dt = time.perf_counter() - t
        slowest = max(slowest, dt)
        if dt > T.HANG_S and outcome != "finding":
            hangs += 1
            from fuzz.targets import Finding
            _record(findings, Finding(name, "hang", f"took {dt:.2f} s", data, dt))
        mut.note(data, outcome)

    while n < execs:
        data = next(inputs, None)
        if data is None:
            data = mut.next()
        one(data)
        n += 1
        if deadline and (n & 255) == 0 and time.perf_counter() > deadline:
            break
    elapsed = time.perf_counter() - t0
    integrity = T.integrity() if name.startswith("import") else "n/a"
    return {"engine": "mutate", "execs": n, "seconds": round(elapsed, 1),
            "exec_per_s": round(n / elapsed, 1) if elapsed else None,
            "invariant_failures": crashes, "foreign_exceptions": other, "hangs": hangs,
            "slowest_input_s": round(slowest, 4), "corpus": len(corpus) + len(mut.extra),
            "distinct_outcomes": len(mut.outcomes), "store_integrity": integrity,
            "findings": list(findings.values())}


def _record(findings: dict[str, Any], f: Any) -> None:
    from fuzz import targets as T

    if f.signature in findings:
        findings[f.signature]["count"] += 1
        return
    path = T.save_regression(f)
    findings[f.signature] = {"kind": f.kind, "detail": f.detail[:400], "count": 1,
                             "saved": str(path.relative_to(REPO))}
    print(f"  FINDING {f.target}: {f.kind}: {f.detail[:200]}  -> {path.name}", flush=True)


# --- atheris: one instrumented child per target ----------------------------------------


def _atheris_child(name: str, execs: int, seconds: float | None, stats_path: str,
                   corpus_dir: str) -> None:
    import atheris

    with atheris.instrument_imports():
        from fuzz import targets as T
        import sneakersync.wire.qr_frame  # noqa: F401
        import sneakersync.wire.beacon  # noqa: F401
        import sneakersync.wire.age
        import sneakersync.wire.body
        import sneakersync.wire.envelope  # noqa: F401,E401
        import sneakersync.wire.identity
        import sneakersync.media.drive
        import sneakersync.sync.engine  # noqa: F401,E401
        import sneakersync.wire.merkle
        import sneakersync.store.records
        import sneakersync.wire.canonical  # noqa: F401,E401
    T.context()
    findings: dict[str, Any] = {}
    st = {"engine": "atheris", "execs": 0, "hangs": 0, "invariant_failures": 0,
          "foreign_exceptions": 0, "slowest_input_s": 0.0}
    t0 = time.perf_counter()
    last = [t0]

    def flush(final: bool = False) -> None:
        el = time.perf_counter() - t0
        st["seconds"] = round(el, 1)
        st["exec_per_s"] = round(st["execs"] / el, 1) if el else None
        st["findings"] = list(findings.values())
        st["corpus"] = len(os.listdir(corpus_dir))
        st["store_integrity"] = T.integrity() if name.startswith("import") and final else "n/a"
        Path(stats_path).write_text(json.dumps(st))

    def test_one(data: bytes) -> None:
        t = time.perf_counter()
        f = T.run_one(name, data)
        st["slowest_input_s"] = max(st["slowest_input_s"], round(time.perf_counter() - t, 4))
        st["execs"] += 1
        if f is not None:
            key = {"hang": "hangs", "invariant": "invariant_failures"}.get(f.kind,
                                                                         "foreign_exceptions")
            st[key] += 1
            _record(findings, f)
        now = time.perf_counter()
        if st["execs"] >= execs or (seconds and now - t0 > seconds):
            flush(final=True)
            shutil.rmtree(T.context().root, ignore_errors=True)  # os._exit skips atexit
            os._exit(0)
        if now - last[0] > 2:
            last[0] = now
            flush()

    atheris.Setup([sys.argv[0], f"-runs={execs + 10**6}", "-max_len=65536", "-timeout=30",
                   "-print_final_stats=0", "-close_fd_mask=1", corpus_dir], test_one)
    atheris.Fuzz()


def run_atheris(name: str, execs: int, seconds: float | None, seed: int) -> dict[str, Any]:
    from fuzz import targets as T

    work = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    corpus = work / "corpus"
    corpus.mkdir()
    for i, s in enumerate(T.seeds(name)):
        if len(s) <= 65536:
            (corpus / f"seed{i:04d}").write_bytes(s)
    stats = work / "stats.json"
    cmd = [sys.executable, __file__, "--child", name, "--execs", str(execs),
           "--stats", str(stats), "--corpus", str(corpus), "--seed", str(seed)]
    if seconds:
        cmd += ["--seconds", str(seconds)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, errors="replace")
    try:
        st = json.loads(stats.read_text())
    except (OSError, ValueError):
        st = {"engine": "atheris", "execs": 0, "findings": []}
    st["child_exit"] = proc.returncode
    if proc.returncode not in (0,):
        st["child_stderr_tail"] = proc.stderr[-2000:]
        st["foreign_exceptions"] = st.get("foreign_exceptions", 0) + 1
    st["wall_seconds"] = round(time.perf_counter() - t0, 1)
    shutil.rmtree(work, ignore_errors=True)
    return st


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--execs", type=int, default=1_000_000, help="executions per target")
    ap.add_argument("--seconds", type=float, default=None, help="time cap per target")
    ap.add_argument("--targets", default="", help="comma-separated; default: all available")
    ap.add_argument("--engine", choices=("auto", "mutate", "atheris"), default="mutate")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--out", default="fuzz", help="result name under benchmarks/results/")
    ap.add_argument("--merge", action="store_true",
                    help="add these targets to the engine's previous results instead of "
                         "replacing them")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _atheris_child(a.child, a.execs, a.seconds, a.stats, a.corpus)
        return
    from fuzz import targets as T

    engine = a.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "mutate"
    names = [t for t in a.targets.split(",") if t] or T.available()
    print(f"engine: {engine}; targets: {', '.join(names)}; up to {a.execs:,} execs each",
          flush=True)
    results: dict[str, Any] = {}
    t_all = time.perf_counter()
    for name in names:
        runner = run_atheris if engine == "atheris" else run_mutate
        r = runner(name, a.execs, a.seconds, a.seed)
        results[name] = r
        print(f"  {name:<16} {r.get('execs', 0):>10,} execs  {r.get('exec_per_s') or 0:>9,.0f}/s"
              f"  findings {len(r.get('findings', []))}  hangs {r.get('hangs', 0)}", flush=True)
        _save(a, engine, names, results, time.perf_counter() - t_all)
    missing = [t for t in T.TARGETS if t not in T.available()]
    print(f"done in {time.perf_counter() - t_all:.0f} s; skipped (module absent): {missing}")


_BASE_WALL: dict[str, float] = {}  # an engine's earlier wall time, read once per run


def _save(a: argparse.Namespace, engine: str, names: list[str], results: dict[str, Any],
          total_s: float) -> None:
    from fuzz import targets as T

    prev: dict[str, Any] = {}
    path = RESULTS / f"{a.out}.json"
    if path.exists():  # keep other engines' results side by side
        try:
            prev = json.loads(path.read_text()).get("campaigns", {})
        except ValueError:
            prev = {}
    entry = prev.get(engine, {}) if a.merge else {}
    targets = {**entry.get("targets", {}), **results}
    commands = [c for c in entry.get("commands", [entry.get("command")]) if c] \
        if a.merge else []
    cmd = "python benchmarks/fuzz_campaign.py " + " ".join(sys.argv[1:])
    if cmd not in commands:
        commands.append(cmd)
    base = _BASE_WALL.setdefault(engine, entry.get("wall_seconds", 0.0) if a.merge else 0.0)
    prev[engine] = {
        "commands": commands, "execs_target": a.execs, "seconds_cap": a.seconds, "seed": a.seed,
        "wall_seconds": round(base + total_s, 1),
        "targets": targets,
        "total_execs": sum(r.get("execs", 0) for r in targets.values()),
        "total_findings": sum(len(r.get("findings", [])) for r in targets.values()),
        "min_execs_per_target": min((r.get("execs", 0) for r in targets.values()), default=0),
        "skipped_targets": [t for t in T.TARGETS if t not in T.available()],
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save(a.out, {"property": "only SneakersyncError escapes; no input over 1 s; import never "
                 "applies a rejected packet", "campaigns": prev})


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
