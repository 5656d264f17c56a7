"""Lost-stick audit: what does a finder learn from everything written to the drive?

Runs the demo scenario (``sneakersync.demo.run_demo``, fast mode) in a work folder,
then scans every file and folder on the "USB stick": names, sizes, contents and
modification times, for any plaintext the devices hold: field values, record ids,
collection names, device names (and their words), device ids, public keys (raw,
hex, base64, base32, identity cards) and dates (today's and those in the records),
in UTF-8, UTF-16 and upper/lower case.  Result: benchmarks/results/lost_stick.json.

Example:
  python benchmarks/lost_stick_audit.py            # demo scenario
  python benchmarks/lost_stick_audit.py --keep /tmp/audit
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MIN_NEEDLE = 5  # shorter needles match random ciphertext by chance
FIXED_MTIME = 946684800


def _leaves(obj: Any) -> Iterable[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)
    elif obj is not None and not isinstance(obj, bool):
        yield str(obj)


def _key_forms(raw: bytes) -> list[bytes]:
    b64 = base64.b64encode(raw)
    u64 = base64.urlsafe_b64encode(raw)
    b32 = base64.b32encode(raw)
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), b64, b64.rstrip(b"="),
            u64.rstrip(b"="), b32.rstrip(b"="), b32.lower().rstrip(b"=")]


def _text_forms(s: str) -> list[bytes]:
    forms = {s, s.lower(), s.upper(), json.dumps(s)[1:-1]}
    out = []
    for f in forms:
        out += [f.encode("utf-8"), f.encode("utf-16-le")]
    return out


def collect_secrets(workdir: Path, started: float) -> dict[str, set[bytes]]:
    """Needles by category, from every device home found in ``workdir``."""
    from sneakersync.store import home as home_mod

    cat: dict[str, set[bytes]] = collections.defaultdict(set)
    for info in sorted(workdir.rglob("device.json")):
        if "usb-stick" in info.parts:
            continue
        try:
            h = home_mod.load(info.parent)
        except Exception:  # noqa: BLE001 - not a device folder
            continue
        card = h.card
        for s in _text_forms(h.name):
            cat["device name"].add(s)
        for word in h.name.replace("-", " ").split():
            if len(word) >= MIN_NEEDLE:
                cat["device name"].update(_text_forms(word))
        cat["device id"].update(_text_forms(h.device_id))
        cat["device id"].update(_key_forms(h.keys.raw_id))
        cat["public key"].update(_key_forms(card.sign_public) + _key_forms(card.enc_public))
        cat["identity card"].update(_text_forms(card.encode()[:24]))
        if (info.parent / "store.db").exists():  # through the home: a sealed store is SQLCipher
            store = h.open_store()
            try:
                rows = store.conn.execute("SELECT collection, rid, data FROM records").fetchall()
            finally:
                store.close()
            for coll, rid, data in rows:
                cat["collection"].update(_text_forms(coll))
                cat["record id"].update(_text_forms(rid))
                for leaf in _leaves(json.loads(data) if data else None):
                    cat["field value"].update(_text_forms(leaf))
    day = dt.datetime.fromtimestamp(started, dt.timezone.utc)
    for d in {day, day - dt.timedelta(days=1), day + dt.timedelta(days=1)}:
        for fmt in ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d",
                    "%d %b %Y", "%b %d"):
            cat["date"].update(_text_forms(d.strftime(fmt)))
    cat["date"].add(str(int(started))[:7].encode())  # epoch seconds, to ~3 hours
    cat["date"].add(str(int(started * 1000))[:8].encode())  # epoch ms
    for k in list(cat):
        cat[k] = {n for n in cat[k] if len(n) >= MIN_NEEDLE}
    return cat


def scan(stick: Path, secrets: dict[str, set[bytes]], started: float) -> dict[str, Any]:
    hits: list[dict[str, str]] = []
    files: list[dict[str, Any]] = []
    dir_mtimes: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk(stick):
        d = Path(dirpath)
        st = d.stat()
        dir_mtimes.append({"path": str(d.relative_to(stick)), "mtime": st.st_mtime,
                           "reveals_time": st.st_mtime >= started - 60})
        for name in dirnames + filenames:
            rel = str((d / name).relative_to(stick)).encode("utf-8", "surrogateescape")
            for c, needles in secrets.items():
                for n in needles:
                    if n in rel:
                        hits.append({"where": "name", "path": rel.decode(), "category": c,
                                     "needle": n[:40].decode("utf-8", "replace")})
        for name in filenames:
            p = d / name
            data = p.read_bytes()
            st = p.stat()
            files.append({"path": str(p.relative_to(stick)), "size": len(data),
                          "mtime": st.st_mtime, "atime": st.st_atime})
            for c, needles in secrets.items():
                for n in needles:
                    if n in data:
                        hits.append({"where": "content", "path": str(p.relative_to(stick)),
                                     "category": c, "needle": n[:40].decode("utf-8", "replace")})
            if st.st_mtime != FIXED_MTIME:
                hits.append({"where": "mtime", "path": str(p.relative_to(stick)),
                             "category": "date", "needle": str(st.st_mtime)})
    sizes = sorted(f["size"] for f in files if f["path"].endswith(".pkt"))
    return {"hits": hits, "files": files, "dir_mtimes": dir_mtimes, "sizes": sizes}


def size_report(sizes: list[int]) -> dict[str, Any]:
    if not sizes:
        return {}
    buckets = collections.Counter((s // 4096) * 4096 for s in sizes)
    return {"packets": len(sizes), "min": sizes[0], "max": sizes[-1],
            "distinct_sizes": len(set(sizes)),
            "by_4KiB_bucket": {f"{k}-{k + 4095}": v for k, v in sorted(buckets.items())},
            "size_mod_4096": sorted(collections.Counter(s % 4096 for s in sizes).items())}


def audit(workdir: Path, *, echo: Any = None) -> dict[str, Any]:
    from sneakersync.demo.scenario import run_demo

    started = time.time()
    summary = run_demo(workdir, fast=True, echo=echo or (lambda s: None))
    stick = workdir / "usb-stick"
    secrets = collect_secrets(workdir, started)
    res = scan(stick, secrets, started)
    return {
        "scenario": "sneakersync.demo.run_demo(fast=True)", "demo": summary,
        "needles": {k: len(v) for k, v in secrets.items()},
        "needles_total": sum(len(v) for v in secrets.values()),
        "files_scanned": len(res["files"]), "bytes_scanned": sum(f["size"] for f in res["files"]),
        "hits": len(res["hits"]), "hit_list": res["hits"][:50],
        "file_mtimes_fixed": all(f["mtime"] == FIXED_MTIME for f in res["files"]),
        "directory_mtimes_reveal_write_time": [d["path"] for d in res["dir_mtimes"]
                                               if d["reveals_time"]],
        "sizes": size_report(res["sizes"]), "files": res["files"],
    }


def main() -> None:
    from common import save

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temp folder)")
    a = ap.parse_args()
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
        out = audit(a.keep)
    else:
        with tempfile.TemporaryDirectory() as d:
            out = audit(Path(d))
    out["command"] = "python benchmarks/lost_stick_audit.py " + " ".join(sys.argv[1:])
    path = save("lost_stick", out)
    print(f"{out['files_scanned']} files, {out['bytes_scanned']:,} bytes, "
          f"{out['needles_total']} needles: {out['hits']} hits -> {path}")
    if out["directory_mtimes_reveal_write_time"]:
        print("note: folder mtimes show when the stick was last written: "
              + ", ".join(out["directory_mtimes_reveal_write_time"]))
    print("packet sizes:", json.dumps(out["sizes"]))


if __name__ == "__main__":
    main()
