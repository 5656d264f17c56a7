"""Generate the receipt-v1 test vectors deterministically (one JSON file per vector).

    python formats/vectors/receipt/generate.py          # rewrite the files
    python formats/vectors/receipt/generate.py --check  # fail if a file would change

Keys come from fixed seeds; nothing random.  Each vector holds the signed receipt
(``receipt``, hex, the inner form without the age wrapping), the verifier's context
(its server's id and key, its own device id, the change hashes it holds, the last
receipt it accepted from that server) and ``expect``: "accepted", "duplicate",
"stale", or "reject:<reason>" (a ReceiptError, layer "receipt"; reasons in
formats/receipt-v1.md).  Checking order: decode, verify (issuer, signature,
addressee), compare with the previous receipt, then roots (only if newer).
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from sneakersync.wire import canonical
from sneakersync.wire import crypto
from sneakersync.wire import merkle  # noqa: E402
from sneakersync.wire import receipt as rc  # noqa: E402
from sneakersync.wire.identity import DeviceKeys  # noqa: E402


def keys(name: str) -> DeviceKeys:
    return DeviceKeys(crypto.sha256(b"receipt vector sign " + name.encode()),
                      crypto.sha256(b"receipt vector enc " + name.encode()))


SERVER, OTHER_SERVER, DEVICE, OTHER_DEVICE, ORIGIN_X = (
    keys("server"), keys("other server"), keys("device"), keys("other device"), keys("x"))
D, X = DEVICE.device_id, ORIGIN_X.device_id


def change(origin: str, n: int) -> bytes:
    return canonical.dumpb({"c": n, "d": {"n": n}, "i": f"r{n}", "k": "c", "o": origin,
                            "op": "put", "t": 1_750_000_000_000 + n, "v": {}})


HELD = {D: {n: merkle.leaf_hash(change(D, n)) for n in range(1, 8)},
        X: {n: merkle.leaf_hash(change(X, n)) for n in range(1, 4)}}


def covered(spec: dict[str, list[list[int]]], bad_root: bool = False) -> dict[str, rc.Covered]:
    out = {}
    for origin, ranges in spec.items():
        hs = [HELD[origin].get(n) or merkle.leaf_hash(change(origin, n))
              for lo, hi in ranges for n in range(lo, hi + 1)]
        root = rc.root_of(hs if not bad_root else list(reversed(hs)))
        out[origin] = rc.Covered(ranges, root)
    return out


def make(spec: dict[str, list[list[int]]], *, signer: DeviceKeys = SERVER,
         server_id: str | None = None, device: str = D, bad_root: bool = False) -> bytes:
    body = rc.ReceiptBody(server_id or signer.device_id, signer.sign_public, device,
                          covered(spec, bad_root))
    return rc.encode(body, signer.sign_secret)


def resign(text: bytes, signer: DeviceKeys = SERVER) -> bytes:
    signed = rc.MAGIC + struct.pack(">I", len(text)) + text
    return signed + crypto.sign(signer.sign_secret, rc.SIG_DOMAIN + signed)


def flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1:]


FIRST = make({D: [[1, 5]], X: [[1, 3]]})
NEWER = make({D: [[1, 7]], X: [[1, 3]]})
_body = FIRST[12:-64]
_obj = json.loads(_body)

VECTORS: list[tuple[str, str, bytes, bytes | None, str]] = [
    ("ok-first", "first receipt from the server", FIRST, None, "accepted"),
    ("ok-newer", "covers more than the last one accepted", NEWER, FIRST, "accepted"),
    ("ok-duplicate", "the same receipt again (re-issued byte for byte)", FIRST, FIRST,
     "duplicate"),
    ("stale-older", "an older receipt after a newer one: ignored", FIRST, NEWER, "stale"),
    ("forged-signature", "one bit of the signature flipped", flip(FIRST, len(FIRST) - 5),
     None, "reject:forged"),
    ("forged-root", "a covered root changed after signing (still canonical hex)",
     FIRST.replace(_obj["covered"][D]["h"].encode(),
                   ("0" if _obj["covered"][D]["h"][0] != "0" else "1").encode()
                   + _obj["covered"][D]["h"][1:].encode()), None, "reject:forged"),
    ("foreign-server", "well signed by a server this device does not use",
     make({D: [[1, 5]]}, signer=OTHER_SERVER), None, "reject:foreign-server"),
    ("foreign-server-claims-id", "another key claiming our server's id",
     make({D: [[1, 5]]}, signer=OTHER_SERVER, server_id=SERVER.device_id), None,
     "reject:foreign-server"),
    ("wrong-device", "a valid receipt for another device", make({D: [[1, 5]]},
     device=OTHER_DEVICE.device_id), None, "reject:wrong-device"),
    ("truncated-signature", "last 10 bytes missing", FIRST[:-10], None, "reject:truncated"),
    ("truncated-header", "only the first 10 bytes", FIRST[:10], None, "reject:truncated"),
    ("non-canonical-spaces", "body JSON with spaces, correctly signed",
     resign(json.dumps(_obj, sort_keys=True).encode()), None, "reject:non-canonical"),
    ("non-canonical-key-order", "body keys not sorted, correctly signed",
     resign(json.dumps(dict(reversed(list(_obj.items()))), separators=(",", ":")).encode()),
     None, "reject:non-canonical"),
    ("malformed-adjacent-ranges", "[[1,2],[3,5]] must be written [[1,5]]",
     resign(canonical.dumpb({**_obj, "covered": {**_obj["covered"], D: {
         "h": _obj["covered"][D]["h"], "r": [[1, 2], [3, 5]]}}})), None, "reject:malformed"),
    ("malformed-magic", "wrong magic", b"SNKRCT2\n" + FIRST[8:], None, "reject:malformed"),
    ("malformed-trailing", "bytes after the signature", FIRST + b"\x00", None,
     "reject:malformed"),
    ("malformed-seq", "seq is not the covered count", resign(canonical.dumpb(
        {**_obj, "seq": _obj["seq"] + 1})), None, "reject:malformed"),
    ("root-mismatch", "signed, but the root is not over this device's hashes",
     make({D: [[1, 5]]}, bad_root=True), None, "reject:root-mismatch"),
    ("not-held", "covers a change this device does not hold", make({D: [[1, 9]]}), None,
     "reject:not-held"),
    ("not-cumulative", "newer, but drops X:3 that the last receipt covered",
     make({D: [[1, 7]], X: [[1, 2]]}), FIRST, "reject:not-cumulative"),
    ("equivocation", "same seq as the last one, different content",
     make({D: [[1, 6]], X: [[1, 2]]}), FIRST, "reject:equivocation"),
]


def vector(name: str, desc: str, data: bytes, prev: bytes | None, expect: str) -> dict:
    return {"name": name, "description": desc, "expect": expect, "receipt": data.hex(),
            "previous": prev.hex() if prev else None,
            "server": {"device_id": SERVER.device_id, "sign_public": SERVER.sign_public.hex()},
            "device": {"device_id": D},
            "held": {o: {str(n): h.hex() for n, h in hs.items()} for o, hs in HELD.items()}}


def main() -> int:
    check = "--check" in sys.argv
    bad = 0
    for name, desc, data, prev, expect in VECTORS:
        text = json.dumps(vector(name, desc, data, prev, expect), indent=1) + "\n"
        path = HERE / f"{name}.json"
        if check:
            if not path.exists() or path.read_text() != text:
                print(f"would change: {path.name}")
                bad += 1
        else:
            path.write_text(text)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
