"""Regenerate the sealed key file vectors (formats/keys-v1.md), deterministically.

    python formats/vectors/keys/generate.py
"""

from __future__ import annotations

import json
from pathlib import Path

from sneakersync.store import keystore

HERE = Path(__file__).resolve().parent
PASS = "test vector passphrase"
SECRETS = keystore.Secrets("Vector laptop", "device", bytes(range(32)), bytes(range(32, 64)),
                           bytes(range(64, 96)))


def _rng(n: int, state: list[int] = [0]) -> bytes:  # noqa: B006 - a counter on purpose
    out = bytes((state[0] + i) % 256 for i in range(n))
    state[0] += n
    return out


def main() -> None:
    ok = keystore.seal(SECRETS, PASS, params=keystore.TEST, rng=_rng)
    doc = json.loads(ok)
    cases = {
        "ok": (ok, "ok"),
        "wrong-passphrase": (ok, "locked"),
        "salt-changed": (json.dumps(dict(doc, kdf=dict(doc["kdf"], salt="A" * 22 + "=="))).encode(),
                         "locked"),
        "mem-too-large": (json.dumps(dict(doc, kdf=dict(doc["kdf"], mem=2**31))).encode(), "store"),
        "unknown-format": (json.dumps(dict(doc, format="sneakersync-keys-v2")).encode(), "store"),
    }
    for name, (data, expect) in cases.items():
        out = {"passphrase": "not this one" if name == "wrong-passphrase" else PASS,
               "file": data.decode(), "expect": expect}
        if expect == "ok":
            out["secrets"] = {"name": SECRETS.name, "kind": SECRETS.kind,
                              "sign": SECRETS.sign_seed.hex(), "enc": SECRETS.enc_secret.hex(),
                              "store": SECRETS.store_key.hex()}
        (HERE / f"{name}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
