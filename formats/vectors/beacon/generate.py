"""Generate the beacon-v1 test vectors deterministically (one JSON file per vector).

    python formats/vectors/beacon/generate.py          # rewrite the files
    python formats/vectors/beacon/generate.py --check  # fail if a file would change

Keys come from fixed seeds; nothing random.  ``expect`` is the outcome of
``recognise(adv, me, peers, now=now)``: "ok" (a known peer; see ``result``),
"unknown" (well-formed, not a known peer in now-1..now+1), or the failing layer:
"beacon" (malformed, BeaconError) or "auth" (a peer's rotating id with a bad
check value, AuthError).  Positive vectors carry ``build`` (the arguments that
produce ``adv``) and ``intermediate`` values for implementers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from sneakersync.wire import crypto  # noqa: E402
from sneakersync.wire import beacon_keys as K  # noqa: E402
from sneakersync.wire.beacon import BeaconIdentity, PeerKeys, build_advertisement, build_payload

NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z, epoch 1944444, 400 s into it


def identity(name: str) -> BeaconIdentity:
    secret = crypto.sha256(b"beacon vector enc " + name.encode())
    return BeaconIdentity(secret, crypto.x25519_public(secret),
                          crypto.sha256(b"beacon vector sign " + name.encode()))


def peer(name: str, verified: bool = True) -> PeerKeys:
    ident = identity(name)
    return PeerKeys(name, verified, ident.enc_public, ident.sign_public)


def ident_json(i: BeaconIdentity) -> dict[str, str]:
    return {"enc_secret": i.enc_secret.hex(), "enc_public": i.enc_public.hex(),
            "sign_public": i.sign_public.hex()}


def peer_json(p: PeerKeys) -> dict[str, object]:
    return {"name": p.name, "verified": p.verified, "enc_public": p.enc_public.hex(),
            "sign_public": p.sign_public.hex()}


ALICE, BOB, CAROL, DAN, ERIN, MALLORY = (identity(n) for n in
                                         ("alice", "bob", "carol", "dan", "erin", "mallory"))
BOB_PEERS = [peer("alice"), peer("carol", verified=False)]  # what bob (the scanner) knows


def adv_of(sender: str, now: float, data_for: list[str], server: bool) -> bytes:
    return build_advertisement(identity(sender), now=now, data_for=[peer(n) for n in data_for],
                               has_data_for_server=server)


def intermediate(sender: str, now: float, data_for: list[str], server: bool,
                 recipient: str) -> dict[str, object]:
    me = identity(sender)
    epoch = K.epoch_of(now)
    k_id = K.id_key(me.enc_public, me.sign_public)
    out: dict[str, object] = {
        "epoch": epoch, "K_id": k_id.hex(), "rid": K.rotating_id(k_id, epoch).hex(),
        "flags_mask": K.flags_mask(k_id, epoch),
        "address": K.address_text(K.advertising_address(me, now)),
        "payload": build_payload(me, now=now, data_for=[peer(n) for n in data_for],
                                 has_data_for_server=server).encode().hex(),
    }
    if recipient in data_for:
        r = identity(recipient)
        k_pair = K.pair_key(me.enc_secret, me.enc_public, r.enc_public)
        out["K_pair_" + recipient] = k_pair.hex()
        out["tag_for_" + recipient] = K.data_tag(k_pair, r.enc_public, epoch).hex()
    return out


def vector(name: str, description: str, expect: str, adv: bytes, *, now: float = NOW,
           result: dict[str, object] | None = None, build: dict[str, object] | None = None,
           extra: dict[str, object] | None = None) -> dict[str, object]:
    v: dict[str, object] = {
        "name": name, "description": description, "expect": expect, "now": now,
        "me": ident_json(BOB), "peers": [peer_json(p) for p in BOB_PEERS], "adv": adv.hex(),
    }
    if result is not None:
        v["result"] = result
    if build is not None:
        v["build"] = build
    if extra:
        v.update(extra)
    return v


def positive(name: str, description: str, sender: str, data_for: list[str], server: bool, *,
             built_at: float = NOW, now: float = NOW) -> dict[str, object]:
    adv = adv_of(sender, built_at, data_for, server)
    holds = "bob" in data_for
    return vector(
        name, description, "ok", adv, now=now,
        result={"peer": sender, "verified": peer(sender).verified if sender != "carol" else False,
                "holds_data_for_me": holds, "has_data_for_server": server,
                "epoch": K.epoch_of(built_at)},
        build={"sender": ident_json(identity(sender)), "now": built_at,
               "data_for": [peer_json(peer(n)) for n in data_for], "has_data_for_server": server},
        extra={"intermediate": intermediate(sender, built_at, data_for, server, "bob")},
    )


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[index] ^= mask
    return bytes(b)


def vectors() -> list[dict[str, object]]:
    base = adv_of("alice", NOW, ["bob"], True)
    sd = base[3:]  # the service data AD structure alone (28 bytes)
    epoch_len = K.EPOCH_SECONDS
    # the payload starts at byte 7 of the full advertisement:
    # 0..2 flags AD, 3 length, 4 type, 5..6 uuid, 7 version, 8..13 rid, 14 flags,
    # 15..26 tags, 27..30 check value
    swapped = bytearray(base)
    swapped[15:19], swapped[19:23] = base[19:23], base[15:19]
    four = ["bob", "carol", "dan", "erin"]
    return [
        positive("ok-plain", "alice advertises with no hints", "alice", [], False),
        positive("ok-data-for-me-and-server", "alice holds data for bob and for the server",
                 "alice", ["bob"], True),
        positive("ok-data-for-someone-else", "alice holds data for carol only", "alice",
                 ["carol"], False),
        positive("ok-unverified-peer", "carol (known, not verified) holds data for bob",
                 "carol", ["bob"], False),
        positive("ok-four-recipients", "alice holds data for four peers; three slots, "
                 "the window of this epoch includes bob", "alice", four, False),
        positive("ok-skew-advertiser-behind", "advertiser's clock one epoch behind",
                 "alice", ["bob"], False, built_at=NOW - epoch_len),
        positive("ok-skew-advertiser-ahead", "advertiser's clock one epoch ahead",
                 "alice", ["bob"], False, built_at=NOW + epoch_len),
        vector("ok-service-data-only", "no Flags AD (as rebuilt from an OS stack's service data)",
               "ok", sd, result={"peer": "alice", "verified": True, "holds_data_for_me": True,
                                 "has_data_for_server": True, "epoch": K.epoch_of(NOW)}),
        vector("ok-zero-padding", "terminator and zero padding after the structures", "ok",
               sd + b"\x00\x00\x00", result={"peer": "alice", "verified": True,
                                             "holds_data_for_me": True,
                                             "has_data_for_server": True,
                                             "epoch": K.epoch_of(NOW)}),
        vector("unknown-stranger", "mallory is nobody's peer", "unknown",
               adv_of("mallory", NOW, ["bob"], True)),
        vector("unknown-two-epochs-old", "alice's advertisement from two epochs ago", "unknown",
               adv_of("alice", NOW - 2 * epoch_len, ["bob"], False)),
        vector("unknown-rid-flipped", "one bit of the rotating id flipped", "unknown",
               flip(base, 10)),
        vector("auth-flags-flipped", "the masked flags byte flipped", "auth", flip(base, 14)),
        vector("auth-tag-flipped", "one bit of a tag flipped", "auth", flip(base, 20, 0x80)),
        vector("auth-check-flipped", "one bit of the check value flipped", "auth",
               flip(base, 30)),
        vector("auth-tags-swapped", "the first two tag slots swapped", "auth", bytes(swapped)),
        vector("auth-epoch-replay", "alice's rotating id of this epoch with the body of another",
               "auth", base[:15] + adv_of("alice", NOW + epoch_len, ["bob"], True)[15:]),
        vector("beacon-too-long", "32 bytes of advertising data", "beacon", base + b"\x00"),
        vector("beacon-truncated", "the last byte is missing", "beacon", base[:-1]),
        vector("beacon-no-service-data", "only the Flags AD", "beacon", base[:3]),
        vector("beacon-other-uuid", "service data for UUID 0xFFF6", "beacon", flip(base, 5, 0x03)),
        vector("beacon-bad-version", "version byte 0x02", "beacon", flip(base, 7, 0x03)),
        vector("beacon-short-payload", "23 payload bytes", "beacon",
               bytes([2, 1, 6, 26]) + base[4:-1]),
        vector("beacon-long-payload", "25 payload bytes (no Flags AD)", "beacon",
               bytes([29]) + sd[1:] + b"\x00"),
        vector("beacon-nonzero-padding", "a non-zero byte after the terminator", "beacon",
               sd + b"\x00\x01"),
        vector("beacon-empty", "no advertising data at all", "beacon", b""),
    ]


def main() -> int:
    check = "--check" in sys.argv
    changed = []
    wanted = set()
    for v in vectors():
        path = HERE / f"{v['name']}.json"
        wanted.add(path.name)
        text = json.dumps(v, indent=2, sort_keys=True) + "\n"
        if not path.exists() or path.read_text() != text:
            changed.append(path.name)
            if not check:
                path.write_text(text)
    stale = sorted(p.name for p in HERE.glob("*.json") if p.name not in wanted)
    if check and (changed or stale):
        print("out of date:", ", ".join(changed + stale))
        return 1
    for name in stale:
        (HERE / name).unlink()
    print(f"{len(wanted)} vectors, {len(changed)} written, {len(stale)} removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
