"""Small packets with and without the built-in zstd dictionary (records-v1).

Run: python benchmarks/bench_dict.py
Reports the average packet size and QR frames (v25, 1,240-byte symbols) for
deltas of 1, 3 and 10 records drawn from the synthetic field data (a different
seed from the dictionary's training data).
"""

from __future__ import annotations

import math
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, table  # noqa: E402

from sneakersync.demo import fielddata
from sneakersync.store import home
from sneakersync.store import peers  # noqa: E402
from sneakersync.sync.engine import build_export  # noqa: E402

SYMBOL = 1240  # v25 ECC L symbol size of the QR stream


def run(per: int, packets: int, use_dict: bool, seed: int) -> tuple[float, float]:
    tmp = Path(tempfile.mkdtemp())
    try:
        a, b = home.create(tmp / "a", "A"), home.create(tmp / "b", "B")
        sa = a.open_store()
        peers.add(sa, b.card.encode())
        pb = peers.get(sa, "B")
        rnd = random.Random(seed)
        sizes = []
        for i in range(packets):
            coll = rnd.choice(fielddata.COLLECTIONS)
            rows = list(fielddata.generate(coll, per, seed=seed * 7919 + i, with_ids=True))
            sa.write_many(coll, ((r.pop("id"), r) for r in rows))
            out = build_export(a, sa, [pb], pad_to=0, dictionary=use_dict)
            assert out is not None
            out.commit(sa)
            sizes.append(len(out.data))
        sa.close()
        avg = sum(sizes) / len(sizes)
        frames = sum(math.ceil(s / SYMBOL) for s in sizes) / len(sizes)
        return avg, frames
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    res = {}
    rows = []
    for per in (1, 3, 10):
        plain, f_plain = run(per, 40, False, seed=99)
        withd, f_dict = run(per, 40, True, seed=99)
        res[f"{per}_records"] = {"plain_bytes": round(plain), "dict_bytes": round(withd),
                                 "ratio": round(withd / plain, 3), "plain_frames": f_plain,
                                 "dict_frames": f_dict}
        rows.append((f"{per} record(s) per packet",
                     f"{plain:,.0f} B -> {withd:,.0f} B ({withd / plain:.2f}x); "
                     f"QR frames at v25 (K) {f_plain:.2f} -> {f_dict:.2f}"))
    print("small packets without -> with the records-v1 dictionary (40 packets each)")
    table(rows)
    save("dict", res)


if __name__ == "__main__":
    main()
