"""Start-up of commands that only read the store vs ``python -c pass``, same run.

Run: python benchmarks/bench_startup.py [--runs 21]
Goal (issue 15): ``collections`` and ``get`` within 2x ``python -c pass``.  Also shown: ``get``
on a sealed home that ``unlock`` opened (real Argon2id parameters; the agent hands the opened
keys over, so no key derivation runs per command).

Each command runs as a fresh process through the installed console script, the way
a user types it; the three commands are interleaved run by run and the median wall
time of each is kept, so load from other work on the machine hits all of them alike.
Byte code is compiled first and may be cached (as in any normal install).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, table  # noqa: E402

import sneakersync  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=21)
    args = ap.parse_args()
    compileall.compile_dir(str(Path(sneakersync.__file__).parent), quiet=1)
    exe = Path(sys.executable).with_name("sneakersync")
    if not exe.exists():
        sys.exit("sneakersync console script not found beside this python (pip install -e .)")
    tmp = Path(tempfile.mkdtemp(prefix="snk-bench-start-"))
    try:
        env = dict(os.environ, SNEAKERSYNC_HOME=str(tmp / "h"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        # unsealed (--no-passphrase): a sealed home costs an Argon2id unlock by design (#13)
        subprocess.run([str(exe), "init", "--name", "bench", "--no-passphrase"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([str(exe), "put", "households", '{"name": "Kibera school"}', "--id", "r1"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        # a sealed home (real Argon2id parameters) opened once by `unlock`: its commands get
        # the opened keys from the agent instead of deriving them again
        sealed = str(tmp / "sealed")
        senv = dict(env, SNEAKERSYNC_PASSPHRASE="bench passphrase",
                    XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="snk-", dir="/tmp"))
        senv.pop("SNEAKERSYNC_TEST_WEAK_KDF", None)
        for cmd in (["init", "--name", "sealed"],
                    ["put", "households", '{"name": "Kibera school"}', "--id", "r1"],
                    ["unlock", "--for", "1h"]):
            subprocess.run([str(exe), "--home", sealed, *cmd], env=senv, check=True,
                           stdout=subprocess.DEVNULL)
        cmds = {"python -c pass": [sys.executable, "-c", "pass"],
                "sneakersync collections": [str(exe), "collections"],
                "sneakersync get": [str(exe), "get", "households", "r1"],
                "sneakersync get (sealed, unlocked)": [str(exe), "--home", sealed, "get",
                                                       "households", "r1"]}
        unlocked_env = dict(senv)
        unlocked_env.pop("SNEAKERSYNC_PASSPHRASE")  # nothing but the agent opens it
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for i in range(args.runs + 2):
            for name, cmd in cmds.items():
                t0 = time.perf_counter()
                subprocess.run(cmd, env=unlocked_env if "sealed" in name else env, check=True,
                               stdout=subprocess.DEVNULL)
                if i >= 2:  # two warm-up rounds
                    times[name].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        base = med["python -c pass"]
        out = {"runs": args.runs, "median_ms": {k: round(v * 1000, 1) for k, v in med.items()},
               "collections_ratio": round(med["sneakersync collections"] / base, 2),
               "get_ratio": round(med["sneakersync get"] / base, 2),
               "sealed_get_ratio": round(med["sneakersync get (sealed, unlocked)"] / base, 2)}
        table([(k, f"{v * 1000:.1f} ms ({v / base:.2f}x)") for k, v in med.items()])
        save("startup", out)
        subprocess.run([str(exe), "--home", sealed, "lock"], env=unlocked_env,
                       stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
