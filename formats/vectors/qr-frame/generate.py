#!/usr/bin/env python3
"""Regenerate the QR frame test vectors (deterministic: same bytes on every run).

    python formats/vectors/qr-frame/generate.py [OUT_DIR]

Payloads come from SHA-256 in counter mode over a label, so nothing is random.
"""

from __future__ import annotations

import hashlib
import json
import random
import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from sneakersync.media.qr.fountain import encode_packet  # noqa: E402
from sneakersync.wire.qr_frame import Frame, encode_frame, packet_id  # noqa: E402


def det_bytes(label: str, n: int) -> bytes:
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{label}/{i}".encode()).digest()
        i += 1
    return out[:n]


def raw(pid: bytes, total: int, t: int, index: int, count: int, sbn: int, esi: int,
        symbol: bytes, *, magic: bytes = b"\xa5\x53", ver: int = 1, flags: int = 0) -> bytes:
    """Build a frame field by field, bypassing the encoder's checks; CRC is correct."""
    body = struct.pack(">2sBB8sIHHHB", magic, ver, flags, pid, total, t, index, count, sbn)
    body += esi.to_bytes(3, "big") + symbol
    return body + zlib.crc32(body).to_bytes(4, "big")


def fields(f: Frame) -> dict[str, object]:
    return {"packet_id": f.packet_id.hex(), "total_len": f.total_len,
            "symbol_size": f.symbol_size, "packet_index": f.index, "packet_count": f.count,
            "sbn": f.sbn, "esi": f.esi}


def vectors() -> dict[str, dict[str, object]]:
    v: dict[str, dict[str, object]] = {}

    def ok(name: str, desc: str, f: Frame) -> bytes:
        data = encode_frame(f)
        v[name] = {"kind": "frame", "description": desc, "expect": "ok", "reason": None,
                   "frame": data.hex(), "fields": fields(f), "symbol": f.symbol.hex()}
        return data

    def bad(name: str, desc: str, reason: str, data: bytes) -> None:
        v[name] = {"kind": "frame", "description": desc, "expect": "frame", "reason": reason,
                   "frame": data.hex()}

    pkt = det_bytes("packet-a", 3000)
    pid = packet_id(pkt)
    sym = det_bytes("symbol", 1240)
    good = ok("ok-v25-source", "v25 symbol size (T=1240), source symbol ESI 1 of K=3",
              Frame(pid, 3000, 1240, 0, 1, 0, 1, sym))
    ok("ok-repair-last-of-batch", "repair symbol ESI 70000, packet 5 of 5",
       Frame(pid, 3000, 1240, 4, 5, 0, 70000, sym))
    ok("ok-minimal", "smallest frame: T=8, a 5-byte packet (K=1)",
       Frame(packet_id(b"hello"), 5, 8, 0, 1, 0, 0, b"hello\0\0\0"))
    ok("ok-max-esi", "ESI 2^24-1 and K = 56403 exactly (T=8)",
       Frame(pid, 8 * 56403, 8, 0, 1, 0, (1 << 24) - 1, det_bytes("s8", 8)))

    bad("bad-empty", "empty payload", "length", b"")
    bad("bad-short", "37 bytes: shorter than any frame", "length", good[:37])
    bad("bad-magic-text", "a URL QR code", "magic", b"https://example.org/" + bytes(30))
    bad("bad-magic", "first magic byte changed", "magic", b"\xa4" + good[1:])
    bad("bad-version", "format version 2", "version", raw(pid, 3000, 1240, 0, 1, 0, 1, sym, ver=2))
    bad("bad-truncated", "last byte missing", "length", good[:-1])
    bad("bad-extended", "one byte appended", "length", good + b"\0")
    flip = bytearray(good)
    flip[500] ^= 0x01
    bad("bad-crc-symbol", "one symbol bit flipped", "crc", bytes(flip))
    flip = bytearray(good)
    flip[-1] ^= 0x80
    bad("bad-crc-trailer", "CRC bit flipped", "crc", bytes(flip))
    flip = bytearray(good)
    flip[13] ^= 0x01  # total_len: a damaged header is caught by the CRC too
    bad("bad-crc-header", "total_len bit flipped", "crc", bytes(flip))
    bad("bad-flags", "reserved flag bit set (CRC valid)", "header",
        raw(pid, 3000, 1240, 0, 1, 0, 1, sym, flags=0x80))
    bad("bad-sbn", "source block number 1", "header", raw(pid, 3000, 1240, 0, 1, 1, 1, sym))
    bad("bad-index", "packet index 5 of 5", "header", raw(pid, 3000, 1240, 5, 5, 0, 1, sym))
    bad("bad-count-zero", "packet count 0", "header", raw(pid, 3000, 1240, 0, 0, 0, 1, sym))
    bad("bad-total-zero", "total length 0", "header", raw(pid, 0, 1240, 0, 1, 0, 1, sym))
    bad("bad-symbol-align", "symbol size 12, not a multiple of 8", "header",
        raw(pid, 3000, 12, 0, 1, 0, 1, sym[:12]))
    bad("bad-k-too-large", "K = 56404 (more than one source block)", "header",
        raw(pid, 8 * 56404, 8, 0, 1, 0, 0, sym[:8]))

    # streams: real RaptorQ symbols
    spkt = det_bytes("stream-packet", 700)
    frames = encode_packet(spkt, 64, n_frames=40)  # K = 11; ESIs 0..39
    rng = random.Random(6330)
    chosen = [frames[i] for i in (1, 4, 9)] + frames[11:40:3]  # 3 source + 10 repair
    rng.shuffle(chosen)
    v["stream-ok"] = {
        "kind": "stream", "expect": "ok", "reason": None,
        "description": "K=11 (F=700, T=64): 3 source + 10 repair frames, shuffled",
        "packet": spkt.hex(), "packet_sha256": hashlib.sha256(spkt).hexdigest(),
        "fingerprint": "-".join(hashlib.sha256(spkt).hexdigest()[i:i + 4] for i in (0, 4, 8)),
        "frames": [f.hex() for f in chosen],
    }
    other = det_bytes("other-packet", 700)
    forged = []
    for f in encode_packet(other, 64, n_frames=20):  # right symbols of another packet,
        forged.append(raw(packet_id(spkt), 700, 64, 0, 1, f[22], int.from_bytes(f[23:26], "big"),
                          f[26:-4]))  # relabelled with spkt's packet id
    v["stream-id-mismatch"] = {
        "kind": "stream", "expect": "frame", "reason": "packet_id",
        "description": "valid frames whose symbols decode to bytes with another SHA-256",
        "packet": spkt.hex(), "packet_sha256": hashlib.sha256(spkt).hexdigest(),
        "frames": [f.hex() for f in forged],
    }
    return v


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    out.mkdir(parents=True, exist_ok=True)
    for name, vec in vectors().items():
        (out / f"{name}.json").write_text(json.dumps(vec, indent=1) + "\n")


if __name__ == "__main__":
    main()
