"""How formats/dicts/records-v1.zdict was made (for the record; zstd's trainer output
may differ between zstd versions, so the committed file, not this script, is normative).

Run: python formats/dicts/train.py   (writes records-v1.zdict here and in sneakersync/wire/data/)

Training samples are the bodies of small packets (3 records each) built from the
synthetic field data generator, across all its collections: the dictionary learns
the packet body structure (meta line keys, change line keys, common field names).
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import zstandard

DICT_ID = 0x534E4B01  # "SNK" 1
SIZE = 32768
HERE = Path(__file__).resolve().parent


def samples(n_packets: int = 300, per: int = 3, seed: int = 1) -> list[bytes]:
    from sneakersync.demo import fielddata
    from sneakersync.store import home
    from sneakersync.wire import packet
    from sneakersync.store import peers
    from sneakersync.sync.engine import build_export

    tmp = Path(tempfile.mkdtemp())
    try:
        a, b = home.create(tmp / "a", "A"), home.create(tmp / "b", "B")
        sa = a.open_store()
        peers.add(sa, b.card.encode())
        pb = peers.get(sa, "B")
        rnd = random.Random(seed)
        out = []
        for i in range(n_packets):
            coll = rnd.choice(fielddata.COLLECTIONS)
            rows = list(fielddata.generate(coll, per, seed=seed * 1000 + i, with_ids=True))
            sa.write_many(coll, ((r.pop("id"), r) for r in rows))
            o = build_export(a, sa, [pb], pad_to=0, dictionary=False)
            assert o is not None
            o.commit(sa)
            opened = packet.open_packet(o.data, b.keys.enc_secret, accept_sender=lambda k: None)
            out.append(opened.body)
        sa.close()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    d = zstandard.train_dictionary(SIZE, samples(), dict_id=DICT_ID, level=19, threads=1)
    data = d.as_bytes()
    (HERE / "records-v1.zdict").write_bytes(data)
    pkg = HERE.parents[1] / "sneakersync" / "wire" / "data" / "records-v1.zdict"
    pkg.write_bytes(data)
    print(f"wrote {len(data)} bytes, dict id {d.dict_id():#x}")


if __name__ == "__main__":
    main()
