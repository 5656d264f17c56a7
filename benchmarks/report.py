"""Write the latest benchmark figures (benchmarks/results/*.json) into README.md.

Run: python benchmarks/report.py   (after any benchmark)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _load(name: str) -> dict[str, Any] | None:
    p = RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def lines() -> list[str]:
    out = ["| figure | measured | goal |", "|---|---|---|"]
    if (d := _load("load_cmd")):
        out.append(f"| `load` {d['count']:,} records vs `insert_all` | {d['sneakersync_s']} s vs "
                   f"{d['insert_all_s']} s: **{d['ratio']}x** | ≤ 2x |")
    if (d := _load("sync")):
        out += [
            f"| export {d['count']:,} records vs floor (sqlite-utils + NDJSON + zstd -3 + age) | "
            f"{d['export_s']} s vs {d['export_floor_s']} s: **{d['export_ratio']}x** | ≤ 1.5x |",
            f"| packet size vs floor output | {d['packet_bytes']:,} B vs {d['floor_bytes']:,} B: "
            f"**{d['size_ratio']}x** | within 5% (smaller is fine) |",
            f"| import {d['count']:,} changes vs plain bulk insert | {d['import_s']} s vs "
            f"{d['plain_insert_s']} s: **{d['import_ratio']}x** | ≤ 3x |",
            f"| re-import of the same packet vs SHA-256 of the file | {d['reimport_s'] * 1000:.1f} ms"
            f" vs {d['hash_s'] * 1000:.1f} ms: **{d['reimport_ratio']}x** | ≤ 2x |",
            f"| delta after 1% edits vs zstd of the changed rows | {d['delta_bytes']:,} B vs "
            f"{d['changed_rows_zstd_bytes']:,} B: **{d['delta_ratio']}x** | ≤ 1.2x |",
        ]
    if (d := _load("qr")):
        worst = max(r["max_extra"] for r in d["overhead"])
        gp = {g["version"]: g["goodput_1MB_at_K"] for g in d["goodput"]}
        rend = d["speed"]["render"].get("v25 zxing", {}).get("fps")
        dec = d["speed"]["decode"].get("v25 camera zxing", {}).get("fps")
        out += [
            f"| QR: distinct frames needed beyond K (K 1..1000, 0-50% loss, random start) | "
            f"max **+{worst}** | ≤ K+2 |",
            f"| QR goodput at v25 (share of raw QR capacity) | **{gp.get(25, 0) * 100:.1f}%** | ≥ 95% |",
            f"| QR render / decode at 1280x720, one core (v25, zxing-cpp) | **{rend:.0f}/s** / "
            f"**{dec:.0f}/s** | ≥ 30/s / ≥ 100/s |",
        ]
        vs = d.get("vs_qrstream", {})
        cam = vs.get("camera", {})
        if cam.get("ours") and cam.get("qrstream"):
            ours = sum(x["captures"] for x in cam["ours"]) / len(cam["ours"])
            theirs = sum(x["captures"] for x in cam["qrstream"]) / len(cam["qrstream"])
            vid = vs.get("video", {})
            out.append(f"| same 200 KB through `qrstream` on the same synthetic camera | captures "
                       f"**{ours:.0f}** vs {theirs:.0f}; video decode "
                       f"{vid.get('ours', {}).get('decode_s', 0):.1f} s vs "
                       f"{vid.get('qrstream', {}).get('decode_s', 0):.1f} s | fewer frames, less time |")
    if (d := _load("dict")):
        r = d.get("3_records", {})
        if r:
            out.append(f"| small packet (3 records) with the built-in zstd dictionary | "
                       f"{r['plain_bytes']:,} B -> **{r['dict_bytes']:,} B** ({r['ratio']}x); "
                       f"QR frames {r['plain_frames']:.2f} -> **{r['dict_frames']:.2f}** | use it where it pays |")
    if (d := _load("beacon")):
        r = d["results"]
        out.append(f"| beacon discovery on virtual radios, 100 ms interval (p50 / p95, scan start) | "
                   f"in-process **{r['local/scan-start']['p50_ms']} / {r['local/scan-start']['p95_ms']} ms**,"
                   f" two processes **{r['tcp/scan-start']['p50_ms']} / {r['tcp/scan-start']['p95_ms']} ms** | < 1 s |")
    if (d := _load("server")):
        s = d["server"]
        out.append(f"| server ingest vs device import of the same {s['packets']} packets | "
                   f"{s['server_changes_per_s']:,} vs {s['device_changes_per_s']:,} changes/s: "
                   f"**{s['ingest_vs_import_ratio']}x** | (reported) |")
    if (d := _load("scale")):
        for r in d["results"]:
            n = r["count"]
            out.append(
                f"| {n:,} records: load / export / import, time per record and peak RSS | "
                f"{r['load']['wall_s'] / n * 1e6:.0f} / {r['export']['wall_s'] / n * 1e6:.0f} / "
                f"{r['import']['wall_s'] / n * 1e6:.0f} µs; **{r['load']['rss_mb']:.0f} / "
                f"{r['export']['rss_mb']:.0f} / {r['import']['rss_mb']:.0f} MB** | ≤ 256 MB at 1M |")
            out.append(
                f"| {n:,} records: import CPU vs `insert_all`; export vs `zstd -3 \\| age`; "
                f"store bytes per record vs `insert_all` | **{r['import_vs_insert_all_cpu']}x**; "
                f"**{r['export_vs_zstd_age_wall']}x**; {r['store_bytes_per_record']:,} B vs "
                f"{r['insert_all_bytes_per_record']:,} B | ≤ 1.5x at 100k; ≤ 3x |")
            if "ingest" in r and "upload" in r:
                up = r["upload"]
                out.append(
                    f"| {n:,} records: server ingest from a stick / HTTP upload to `serve` "
                    f"({r['ingest']['packets']} packet{'s' if r['ingest']['packets'] != 1 else ''}), "
                    f"time per record and peak RSS | "
                    f"{r['ingest']['wall_s'] / n * 1e6:.0f} / {up['server_wall_s'] / n * 1e6:.0f}"
                    f" µs; **{r['ingest']['rss_mb']:.0f} / {up['server_rss_mb']:.0f} MB** | "
                    f"≤ 256 MB at 1M |")
            if "compacted_bytes_per_record" in r:
                out.append(
                    f"| {n:,} records: device store bytes per record after load / after the "
                    f"server's receipt + compaction / after prune, vs `insert_all` | "
                    f"{r['store_bytes_per_record']:,} / {r['compacted_bytes_per_record']:,} / "
                    f"**{r['pruned_bytes_per_record']:,} B** vs "
                    f"{r['insert_all_bytes_per_record']:,} B | (reported) |")
            if "settle" in r:
                st = r["settle"]
                out.append(
                    f"| {n:,} records: device settle (take the server's receipt, compact, "
                    f"VACUUM, prune all), time per record and peak RSS | "
                    f"{st['wall_s'] / n * 1e6:.0f} µs; **{st['rss_mb']:.0f} MB** | "
                    f"≤ 256 MB at 1M |")
    if (d := _load("year")):
        m = {x["day"]: x for x in d["marks"]}
        days = sorted(m)
        cells = "; ".join(
            f"day {k}: {m[k]['store_bytes'] / 1e6:.2f} MB, {m[k]['rows']['changes']:,} changes, "
            f"{m[k]['stick_files']} stick files, import {m[k]['import_s_per_day'] * 1000:.0f} ms, "
            f"export {m[k]['export_s_per_day'] * 1000:.0f} ms" for k in days)
        r = d["ratios"]
        out.append(f"| a year, {d['devices']} devices on one stick, live data constant | {cells}; "
                   f"day {days[-1]} / day {days[0]}: store **{r['store_bytes']}x**, stick "
                   f"**{r['stick_files']}x**, import **{r['import_s_per_day']}x**, export "
                   f"**{r['export_s_per_day']}x** | ≤ 1.5x of day 30 |")
    if (d := _load("startup")):
        m = d["median_ms"]
        out.append(f"| start-up vs `python -c pass` (medians of {d['runs']} interleaved runs) | "
                   f"`collections` {m['sneakersync collections']} ms, `get` {m['sneakersync get']} ms"
                   f" vs {m['python -c pass']} ms: **{d['collections_ratio']}x / {d['get_ratio']}x**"
                   f" | ≤ 2x |")
        if "sealed_get_ratio" in d:
            out.append(f"| start-up of `get` on a sealed home opened by `unlock` (the agent hands "
                       f"over the opened keys: no Argon2id per command) | "
                       f"{m['sneakersync get (sealed, unlocked)']} ms: "
                       f"**{d['sealed_get_ratio']}x** `python -c pass` | (reported) |")
    if (d := _load("receipt_lookup")):
        out.append(f"| receipt look-up for a made-up id, {d['changes']:,} changes stored | "
                   f"{d['made_up_ms']:.3f} ms vs {d['pk_query_ms']:.3f} ms: "
                   f"**{d['ratio_made_up_vs_pk']:.2f}x** (was 1.3 s, a scan) | no scan |")
    if (d := _load("at_rest")):
        w, c, sec = d["ratio_sealed_vs_plain"], d["cpu_ratio_sealed_vs_plain"], d["seconds"]
        cells = " / ".join(f"{sec[k]['sealed']:.3f} vs {sec[k]['plain']:.3f} s **{w[k]}x**"
                           for k in ("load", "export", "import"))
        out.append(f"| sealed home (SQLCipher store) vs plain, {d['count']:,} records: load / "
                   f"export / import (wall, best of {d['repeat']}) | {cells} (CPU time: "
                   f"{c['load']}x / {c['export']}x / {c['import']}x); unlock (Argon2id, "
                   f"{d['kdf']['mem'] >> 20} MiB) {d['unlock_seconds']:.2f} s once per command "
                   f"| ≤ {d['goal']}x |")
    if (d := _load("eden")):
        out += [
            f"| Eden (real, loopback): {d['records']:,} records, Eden's own import of our S3JSON "
            f"file (one POST) | {d['eden_import_s']:.1f} s: **{d['eden_import_per_s']:,.0f} "
            f"records/s** | (baseline) |",
            f"| `eden push --url` of the same records (REST, chunks of 500, outcomes recorded) | "
            f"{d['push_s']:.1f} s: **{d['push_per_s']:,.0f} records/s** "
            f"(**{d['push_vs_eden_import']:.2f}x** Eden's import time) | ≤ 1.5x |",
            f"| `eden pull --url` of them into a device (S3XML, checked, written) | "
            f"{d['pull_s']:.1f} s: **{d['pull_per_s']:,.0f} records/s** "
            f"(**{d['pull_vs_eden_import']:.2f}x**) | ≤ 1.5x |",
        ]
    return out


def conditions() -> str:
    """When each result was measured and how busy the machine was (load average)."""
    seen = []
    for p in sorted(RESULTS.glob("*.json")):
        m = json.loads(p.read_text()).get("machine", {})
        if "load_average" in m:
            seen.append(f"{p.stem} {m.get('measured', '?')} (load {m['load_average']})")
    return ("\nMeasured on a 2-core machine; when and how busy it was (1-minute load average "
            "at the end of each run): " + ", ".join(seen) + ".\n") if seen else ""


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    block = ("<!-- figures -->\n" + "\n".join(lines()) + "\n" + conditions()
             + "<!-- /figures -->")
    new = re.sub(r"<!-- figures -->.*?<!-- /figures -->", lambda m: block, text, flags=re.S)
    readme.write_text(new, encoding="utf-8")
    print("\n".join(lines()))


if __name__ == "__main__":
    main()
