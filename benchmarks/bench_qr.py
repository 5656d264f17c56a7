#!/usr/bin/env python3
"""QR stream benchmarks: fountain overhead, goodput, render/decode speed, vs qrstream.

    .venv/bin/python benchmarks/bench_qr.py [--quick] [--no-qrstream]

Prints a table and writes ``benchmarks/results/qr.json``.  The qrstream
comparison needs a separate venv, because qrstream's dependency
``raptorq-wheel`` installs over our ``raptorq`` module; it is created on
first use at $QRSTREAM_VENV (default /tmp/qrstream-venv):

    python3 -m venv /tmp/qrstream-venv && /tmp/qrstream-venv/bin/pip install qrstream

All numbers come from one run on this machine, single-threaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import zxingcpp  # noqa: E402

from sneakersync.media.qr import receive, send  # noqa: E402
from sneakersync.media.qr.camera_sim import CameraModel, SyntheticCamera  # noqa: E402
from sneakersync.media.qr.decoders import available_decoders, get_decoder  # noqa: E402
from sneakersync.media.qr.fountain import StreamDecoder, encode_packet  # noqa: E402
from sneakersync.wire.qr_frame import QR_BYTE_CAPACITY_L, decode_frame, symbol_size_for_version  # noqa: E402
from sneakersync.media.qr.receiver import Receiver  # noqa: E402
from sneakersync.media.qr.render import qr_matrix, to_image  # noqa: E402
from sneakersync.media.qr.sender import plan_stream  # noqa: E402

cv2.setNumThreads(1)
W, H = 1280, 720
VENV = Path(os.environ.get("QRSTREAM_VENV", "/tmp/qrstream-venv"))


def timeit(fn, n: int) -> float:
    """Per-call seconds (median of 3 batches)."""
    runs = []
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t) / n)
    return statistics.median(runs)


# --- 1. frames needed vs K under loss ------------------------------------------------
def bench_overhead(quick: bool) -> list[dict]:
    rows = []
    rng = random.Random(1)
    for k in (1, 10, 100, 1000) if not quick else (1, 10, 100):
        t = 64
        pkt = rng.randbytes(k * t - rng.randrange(t))
        frames = encode_packet(pkt, t, n_frames=3 * k + 10)
        for loss in (0.0, 0.3, 0.5):
            extra = []
            trials = 40 if k < 1000 else 8
            for _ in range(trials):
                start = rng.randrange(len(frames))
                order = frames[start:] + frames[:start]
                dec = StreamDecoder(decode_frame(order[0]))
                for f in order * 2:
                    if rng.random() < loss:
                        continue
                    dec.add(decode_frame(f))
                    if dec.result is not None:
                        break
                assert dec.result == pkt
                extra.append(dec.received - k)
            rows.append({"k": k, "loss": loss, "trials": trials,
                         "mean_extra": statistics.mean(extra), "max_extra": max(extra)})
    return rows


# --- 2. goodput ---------------------------------------------------------------------------
def bench_goodput() -> list[dict]:
    rows = []
    for v in (15, 20, 25, 30, 35, 40):
        t = symbol_size_for_version(v)
        cap = QR_BYTE_CAPACITY_L[v]
        size = 1_000_000
        k = -(-size // t)
        rows.append({"version": v, "capacity": cap, "symbol_size": t,
                     "symbol_share": t / cap, "goodput_1MB_at_K": size / (k * cap)})
    return rows


# --- 3. render and decode speed at 1280x720, one core -----------------------------------
def bench_speed(quick: bool) -> dict:
    n = 20 if quick else 60
    rng = random.Random(2)
    out: dict = {"render": {}, "decode": {}}
    for v in (15, 25, 40):
        frames = encode_packet(rng.randbytes(50_000), symbol_size_for_version(v), n_frames=8)
        encoders = [("zxing", None), ("zxing", 0), ("segno", 0)]
        try:
            import qrcode  # noqa: F401
            encoders.append(("qrcode", 0))
        except ImportError:
            pass
        for enc, mask in encoders:
            it = iter(range(10**9))
            def render(enc=enc, mask=mask) -> None:
                to_image(qr_matrix(frames[next(it) % 8], v, encoder=enc, mask=mask), width=W, height=H)
            # correctness first: byte for byte through zxing
            img = to_image(qr_matrix(frames[0], v, encoder=enc, mask=mask), width=W, height=H)
            ok = get_decoder("zxing").decode(img) == [frames[0]]
            s = timeit(render, n if enc == "zxing" else max(5, n // 4))
            out["render"][f"v{v} {enc}{'' if mask is None else ' mask' + str(mask)}"] = {
                "fps": 1 / s, "ms": s * 1000, "exact": ok}
        # decode: clean 720p and synthetic-camera 720p frames
        screens = [to_image(qr_matrix(f, v), scale=4) for f in frames]
        cam = SyntheticCamera(screens, CameraModel(seed=v, drop=0.0, blur=1.0))
        caps = list(cam.captures(24))
        clean = [to_image(qr_matrix(f, v), width=W, height=H) for f in frames]
        for name in available_decoders():
            dec = get_decoder(name)
            for label, imgs in (("clean", clean), ("camera", caps)):
                it2 = iter(range(10**9))
                reads = sum(1 for im in imgs if dec.decode(im) and decode_frame(dec.decode(im)[0]))
                s = timeit(lambda: dec.decode(imgs[next(it2) % len(imgs)]),
                           n if name == "zxing" else max(4, n // 6))
                out["decode"][f"v{v} {label} {name}"] = {
                    "fps": 1 / s, "ms": s * 1000, "read_rate": reads / len(imgs)}
    return out


# --- 4. ours vs qrstream through the same synthetic camera ------------------------------
_QRS_HELPER = r'''
import json, sys, time, hashlib
mode = sys.argv[1]
if mode == "extract":
    import cv2, zxingcpp
    cap = cv2.VideoCapture(sys.argv[2]); texts = []
    while True:
        ok, img = cap.read()
        if not ok: break
        r = zxingcpp.read_barcodes(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), formats=zxingcpp.QRCode)
        if r and (not texts or texts[-1] != r[0].text): texts.append(r[0].text)
    print(json.dumps(texts))
else:
    from qrstream.decoder import _try_decode_qr_payload, _create_decoder_for_block
    seq = json.load(open(sys.argv[2])); want = sys.argv[3]
    dec = None; seen = set(); t = time.perf_counter(); done_at = None
    for i, text in enumerate(seq):
        if text is None: continue
        r = _try_decode_qr_payload(text)
        if r is None: continue
        block, seed, _ = r
        seen.add(seed)
        try:
            if dec is None:
                dec, h, d = _create_decoder_for_block(block); done, _ = dec.consume_block(h, d)
            else:
                done, _ = dec.decode_bytes(block)
        except ValueError:
            continue
        if done:
            done_at = i + 1; break
    ok = done_at is not None and hashlib.sha256(dec.bytes_dump()).hexdigest() == want
    print(json.dumps({"captures": done_at, "distinct": len(seen), "k": dec.K if dec else None,
                      "ok": ok, "feed_s": time.perf_counter() - t}))
'''


def ensure_qrstream() -> Path | None:
    exe = VENV / "bin" / "qrstream"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "qrstream"], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"qrstream venv unavailable: {exc}", file=sys.stderr)
        return None
    return exe if exe.exists() else None


def camera_run(screens: list, seed: int, start_frac: float, decode_fn, max_caps: int = 6000):
    cam = SyntheticCamera(screens, CameraModel(seed=seed, blur=1.2),
                          start_frame=int(start_frac * len(screens)))
    dec = get_decoder("zxing")
    seq = []
    for img in cam.captures(max_caps):
        res = decode_fn(dec, img)
        seq.append(res)
        yield res


def bench_vs_qrstream(quick: bool) -> dict | None:
    exe = ensure_qrstream()
    if exe is None:
        return None
    py = str(VENV / "bin" / "python")
    size = 60_000 if quick else 200_000
    payload = random.Random(3).randbytes(size)
    want = hashlib.sha256(payload).hexdigest()
    res: dict = {"payload_bytes": size, "qr_version": 25, "fps": 10, "camera": "CameraModel(blur=1.2), 30% dropped"}
    with tempfile.TemporaryDirectory() as td:
        tdp = Path(td)
        (tdp / "p.bin").write_bytes(payload)
        # sender: render to MP4 (each with its own defaults otherwise)
        t = time.perf_counter()
        subprocess.run([str(exe), "encode", str(tdp / "p.bin"), "-o", str(tdp / "q.mp4"),
                        "--qr-version", "25", "--fps", "10", "--no-compress", "--overhead", "2.0",
                        "--output-mode", "quiet", "-w", "1"], check=True, capture_output=True)
        q_enc = time.perf_counter() - t
        t = time.perf_counter()
        ours = send([payload], str(tdp / "o.mp4"), density=25, fps=10)
        o_enc = time.perf_counter() - t
        # receiver on the clean videos: end to end
        t = time.perf_counter()
        subprocess.run([str(exe), "decode", str(tdp / "q.mp4"), "-o", str(tdp / "q.out"), "-w", "1",
                        "--output-mode", "quiet"], check=True, capture_output=True)
        q_dec = time.perf_counter() - t
        q_ok = hashlib.sha256((tdp / "q.out").read_bytes()).hexdigest() == want
        t = time.perf_counter()
        got = list(receive(f"video:{tdp / 'o.mp4'}", state_dir=tdp / "st"))
        o_dec = time.perf_counter() - t
        res["video"] = {
            "qrstream": {"frames": None, "encode_s": q_enc, "decode_s": q_dec, "ok": q_ok},
            "ours": {"frames": ours["frames"], "encode_s": o_enc, "decode_s": o_dec,
                     "ok": [g.packet for g in got] == [payload]},
        }
        # same kind of frames through the same synthetic camera
        out = subprocess.run([py, "-c", _QRS_HELPER, "extract", str(tdp / "q.mp4")],
                             check=True, capture_output=True, text=True)
        texts = json.loads(out.stdout)
        res["video"]["qrstream"]["frames"] = len(texts)
        q_screens = []
        for text in texts:
            bc = zxingcpp.create_barcode(text, zxingcpp.QRCode, ec_level="M", version=25)  # their ECC M, alnum
            q_screens.append(to_image(np.asarray(zxingcpp.write_barcode_to_image(
                bc, scale=1, add_quiet_zones=False)) < 128, scale=4))
        plan = plan_stream([payload], density=25)
        o_screens = [to_image(qr_matrix(f, 25), scale=4) for f in plan.frames]
        trials = 2 if quick else 4
        res["camera"] = {"qrstream": [], "ours": []}
        for trial in range(trials):
            frac = random.Random(trial).random()
            # qrstream: collect decoded texts per capture, then feed its decoder
            seq = []
            t = time.perf_counter()
            for r in camera_run(q_screens, trial, frac,
                                lambda d, im: (lambda b: b[0].decode("latin-1") if b else None)(d.decode(im)),
                                max_caps=len(q_screens) * 9):
                seq.append(r)
            cam_s = time.perf_counter() - t
            (tdp / "seq.json").write_text(json.dumps(seq))
            out = subprocess.run([py, "-c", _QRS_HELPER, "feed", str(tdp / "seq.json"), want],
                                 check=True, capture_output=True, text=True)
            q = json.loads(out.stdout.strip().splitlines()[-1])
            q["capture_decode_s_per_capture"] = cam_s / max(1, len(seq))
            res["camera"]["qrstream"].append(q)
            # ours
            rx = Receiver(None)
            n = 0
            t = time.perf_counter()
            done = False
            for r in camera_run(o_screens, trial, frac, lambda d, im: d.decode(im),
                                max_caps=len(o_screens) * 9):
                n += 1
                _, got = rx.feed_capture(r, n / 29.97)
                if got:
                    done = got[0].packet == payload
                    break
            res["camera"]["ours"].append({"captures": n, "distinct": rx.stats["new"],
                                          "k": plan.packets[0].k, "ok": done,
                                          "wall_s": time.perf_counter() - t})
    cq, co = res["camera"]["qrstream"], res["camera"]["ours"]
    mq = statistics.mean(x["captures"] or float("inf") for x in cq)
    mo = statistics.mean(x["captures"] for x in co)
    res["ratio"] = {
        "captures_qrstream_over_ours": mq / mo,
        "display_seconds_ours": mo / 29.97, "display_seconds_qrstream": mq / 29.97,
        "distinct_frames_qrstream_over_ours": statistics.mean(x["distinct"] for x in cq)
        / statistics.mean(x["distinct"] for x in co),
        "decode_video_time_qrstream_over_ours": res["video"]["qrstream"]["decode_s"]
        / res["video"]["ours"]["decode_s"],
        "encode_video_time_qrstream_over_ours": res["video"]["qrstream"]["encode_s"]
        / res["video"]["ours"]["encode_s"],
    }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-qrstream", action="store_true")
    args = ap.parse_args()
    results: dict = {"machine": {"python": platform.python_version(), "cpu": platform.processor()
                                 or platform.machine(), "cores_used": 1,
                                 "zxing-cpp": zxingcpp.__version__ if hasattr(zxingcpp, "__version__") else "?",
                                 "opencv": cv2.__version__},
                     "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    results["overhead"] = bench_overhead(args.quick)
    results["goodput"] = bench_goodput()
    results["speed"] = bench_speed(args.quick)
    if not args.no_qrstream:
        results["vs_qrstream"] = bench_vs_qrstream(args.quick)
    print_table(results)
    out = ROOT / "benchmarks" / "results" / "qr.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}")


def print_table(r: dict) -> None:
    print("\n== distinct frames needed beyond K (goal <= 2) ==")
    print(f"{'K':>6} {'loss':>5} {'mean':>6} {'max':>4}")
    for row in r["overhead"]:
        print(f"{row['k']:>6} {row['loss']:>5.0%} {row['mean_extra']:>6.2f} {row['max_extra']:>4}")
    print("\n== goodput, share of raw QR byte capacity at ECC L (goal >= 95% at v25) ==")
    for row in r["goodput"]:
        print(f"v{row['version']:<3} C={row['capacity']:>5} T={row['symbol_size']:>5} "
              f"T/C={row['symbol_share']:.1%}  1MB packet={row['goodput_1MB_at_K']:.1%}")
    print("\n== render 1280x720, one core (goal >= 30/s) ==")
    for k, v in r["speed"]["render"].items():
        print(f"{k:<22} {v['fps']:>8.0f}/s {v['ms']:>7.2f} ms exact={v['exact']}")
    print("\n== decode 1280x720, one core (goal >= 100/s with zxing) ==")
    for k, v in r["speed"]["decode"].items():
        print(f"{k:<22} {v['fps']:>8.0f}/s {v['ms']:>7.2f} ms read={v['read_rate']:.0%}")
    q = r.get("vs_qrstream")
    if q:
        print(f"\n== vs qrstream ({q['payload_bytes']} B, v25, 10 fps) ==")
        for who in ("ours", "qrstream"):
            v = q["video"][who]
            print(f"{who:<9} video frames={v['frames']} encode={v['encode_s']:.2f}s "
                  f"decode={v['decode_s']:.2f}s ok={v['ok']}")
        for who in ("ours", "qrstream"):
            for x in q["camera"][who]:
                print(f"{who:<9} camera captures={x['captures']} distinct={x['distinct']} "
                      f"K={x['k']} ok={x['ok']}")
        for k, v in q["ratio"].items():
            print(f"  {k}: {v:.2f}")


if __name__ == "__main__":
    main()
