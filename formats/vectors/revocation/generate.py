"""Write the revocation-v1 test vectors (deterministic): python formats/vectors/revocation/generate.py

Each vector: the revoker's card, one statement object as it appears in
``body.extra["revocations"]``, the hex of the signed message when the statement is
well formed, and ``expect``: ok, ignored (a later version), body
(malformed), auth (signature does not verify).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sneakersync.wire import merkle
from sneakersync.wire import revocation as rv
from sneakersync.wire.identity import DeviceKeys

HERE = Path(__file__).resolve().parent


def keys(label: str) -> DeviceKeys:
    h = hashlib.sha256(b"revocation vector " + label.encode()).digest()
    return DeviceKeys(h, hashlib.sha256(h).digest())


def flip_hex(text: str) -> str:
    return ("1" if text[0] == "0" else "0") + text[1:]


def main() -> None:
    office, tablet = keys("office"), keys("tablet")
    ocard, tcard = office.card("Office laptop"), tablet.card("Juma tablet")
    # the tablet's changes 1..41 as the office holds them (leaf hashes of packet-v1 6.1)
    leaves = [merkle.leaf_hash(b'{"change":%d}' % c) for c in range(1, 42)]
    good = rv.sign(office, tcard, 41, 1_760_000_000_000, merkle.root(leaves))
    zero = rv.sign(office, tcard, 0, 1_760_000_000_000)

    def vec(name: str, desc: str, obj: dict, expect: str, message: bool = False) -> None:
        out = {"description": desc, "revoker_card": ocard.encode(), "statement": obj,
               "expect": expect}
        if message:
            r = rv.from_json(obj)
            assert r is not None
            out["message_hex"] = rv.message(r.revoker, r.revoked_card, r.last, r.at,
                                            r.root).hex()
        (HERE / f"{name}.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")

    vec("ok-basic", "office revokes the tablet after its change 41", good.to_json(), "ok", True)
    vec("ok-nothing-accepted", "revoked before any change was accepted (last 0)",
        zero.to_json(), "ok", True)
    bad = dict(good.to_json(), last=42)
    vec("auth-last-raised", "'last' raised after signing", bad, "auth")
    bad = dict(good.to_json(), card=ocard.encode())
    vec("body-card-mismatch", "card is not the revoked device's", bad, "body")
    bad = dict(good.to_json(), reason="stolen")
    vec("body-unknown-field", "an extra field", bad, "body")
    bad = dict(good.to_json(), sig=good.sig.hex().upper())
    vec("body-sig-uppercase", "signature hex not lowercase", bad, "body")
    bad = dict(good.to_json(), root=flip_hex(good.to_json()["root"]))
    vec("auth-root-changed", "'root' changed after signing (another history for 1..41)",
        bad, "auth")
    bad = dict(good.to_json())
    del bad["root"]
    vec("body-root-missing", "no 'root' (every statement commits to what was accepted)",
        bad, "body")
    bad = dict(good.to_json(), root=good.to_json()["root"].upper())
    vec("body-root-uppercase", "'root' hex not lowercase", bad, "body")
    bad = dict(good.to_json(), root="00" * 32)
    vec("body-root-zero-with-last", "an all-zero 'root' with 'last' 41", bad, "body")
    bad = dict(zero.to_json(), root=good.to_json()["root"])
    vec("body-root-with-last-zero", "a non-zero 'root' with 'last' 0", bad, "body")
    bad = dict(good.to_json(), last=1 << 53)
    vec("body-last-huge", "'last' is 2^53 (above 2^53-1)", bad, "body")
    bad = dict(good.to_json(), at=-1)
    vec("body-at-negative", "'at' is -1", bad, "body")
    later = dict(good.to_json(), v=2, anything="goes")
    vec("ignored-version-2", "a later version: skipped, not an error", later, "ignored")


if __name__ == "__main__":
    main()
