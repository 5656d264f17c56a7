"""Beacon codec: vectors, round trips, privacy properties, tamper detection."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sneakersync.wire import crypto
from sneakersync.wire import beacon_keys as K
from sneakersync.wire.beacon import PAYLOAD_LEN, BeaconIdentity, BeaconPayload, PeerKeys, Recogniser, build_advertisement, build_payload, parse_advertisement, recognise
from sneakersync.errors import AuthError, BeaconError, SneakersyncError, UsageError

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "formats" / "vectors" / "beacon"
NOW = 1_750_000_000.0
EPOCH = K.EPOCH_SECONDS


def ident(name: str) -> BeaconIdentity:
    secret = crypto.sha256(b"test enc " + name.encode())
    return BeaconIdentity(secret, crypto.x25519_public(secret), crypto.sha256(b"sign " + name.encode()))


def peer(name: str, verified: bool = True) -> PeerKeys:
    i = ident(name)
    return PeerKeys(name, verified, i.enc_public, i.sign_public)


ALICE, BOB, CAROL = ident("alice"), ident("bob"), ident("carol")


# --- vectors --------------------------------------------------------------------------

def _load() -> list[dict]:
    files = sorted(VECTORS.glob("*.json"))
    assert len(files) >= 20
    return [json.loads(p.read_text()) for p in files]


def _identity(d: dict) -> BeaconIdentity:
    return BeaconIdentity(bytes.fromhex(d["enc_secret"]), bytes.fromhex(d["enc_public"]),
                          bytes.fromhex(d["sign_public"]))


def _peer(d: dict) -> PeerKeys:
    return PeerKeys(d["name"], d["verified"], bytes.fromhex(d["enc_public"]),
                    bytes.fromhex(d["sign_public"]))


@pytest.mark.parametrize("v", _load(), ids=lambda v: v["name"])
def test_vector(v: dict) -> None:
    me, peers, adv = _identity(v["me"]), [_peer(p) for p in v["peers"]], bytes.fromhex(v["adv"])
    expect = v["expect"]
    if expect == "ok":
        rec = recognise(adv, me, peers, now=v["now"])
        r = v["result"]
        assert (rec.name, rec.verified, rec.holds_data_for_me, rec.has_data_for_server,
                rec.epoch) == (r["peer"], r["verified"], r["holds_data_for_me"],
                               r["has_data_for_server"], r["epoch"])
        if "build" in v:
            b = v["build"]
            built = build_advertisement(_identity(b["sender"]), now=b["now"],
                                        data_for=[_peer(p) for p in b["data_for"]],
                                        has_data_for_server=b["has_data_for_server"])
            assert built == adv and len(built) == 31
            inter = v["intermediate"]
            sender = _identity(b["sender"])
            assert K.address_text(K.advertising_address(sender, b["now"])) == inter["address"]
            assert parse_advertisement(adv).encode().hex() == inter["payload"]
    elif expect == "unknown":
        rec = recognise(adv, me, peers, now=v["now"])
        assert rec.peer is None and not rec.holds_data_for_me and not rec.has_data_for_server
    else:
        with pytest.raises(SneakersyncError) as info:
            recognise(adv, me, peers, now=v["now"])
        assert info.value.layer == expect
        assert type(info.value) in (BeaconError, AuthError)


def test_vectors_are_up_to_date() -> None:
    out = subprocess.run([sys.executable, str(VECTORS / "generate.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


# --- round trip and shape -------------------------------------------------------------

@given(server=st.booleans(), n=st.integers(0, 5), now=st.floats(0, 4e9))
@settings(max_examples=60, deadline=None)
def test_round_trip(server: bool, n: int, now: float) -> None:
    others = [peer(f"p{i}") for i in range(n)]
    adv = build_advertisement(ALICE, now=now, data_for=others, has_data_for_server=server)
    assert len(adv) == 31
    payload = parse_advertisement(adv)
    assert BeaconPayload.decode(payload.encode()) == payload and len(payload.encode()) == PAYLOAD_LEN
    for i, who in enumerate(others):
        me = ident(f"p{i}")
        rec = recognise(adv, me, [peer("alice")], now=now)
        assert rec.name == "alice" and rec.has_data_for_server == server
        if n <= 3:
            assert rec.holds_data_for_me


def test_more_than_three_recipients_rotate() -> None:
    others = [peer(f"p{i}") for i in range(5)]
    for i in range(5):
        seen = [recognise(build_advertisement(ALICE, now=NOW + e * EPOCH, data_for=others),
                          ident(f"p{i}"), [peer("alice")], now=NOW + e * EPOCH).holds_data_for_me
                for e in range(5)]
        assert 2 <= sum(seen) <= 4  # each recipient gets 3 of every 5 epochs


def test_not_for_me_and_not_leaked_to_other_peers() -> None:
    adv = build_advertisement(ALICE, now=NOW, data_for=[peer("carol")])
    rec = recognise(adv, BOB, [peer("alice")], now=NOW)
    assert rec.name == "alice" and not rec.holds_data_for_me
    assert recognise(adv, CAROL, [peer("alice")], now=NOW).holds_data_for_me


def test_tags_are_directional() -> None:
    a_to_b = parse_advertisement(build_advertisement(ALICE, now=NOW, data_for=[peer("bob")]))
    b_to_a = parse_advertisement(build_advertisement(BOB, now=NOW, data_for=[peer("alice")]))
    assert not set(a_to_b.tags) & set(b_to_a.tags)


def test_deterministic_within_epoch_and_rotates() -> None:
    a = build_advertisement(ALICE, now=NOW - (NOW % EPOCH))
    b = build_advertisement(ALICE, now=NOW - (NOW % EPOCH) + EPOCH - 0.001)
    c = build_advertisement(ALICE, now=NOW - (NOW % EPOCH) + EPOCH)
    assert a == b != c
    assert K.advertising_address(ALICE, NOW) != K.advertising_address(ALICE, NOW + EPOCH)
    assert K.advertising_address(ALICE, NOW)[0] >> 6 == 0  # non-resolvable private


# --- privacy --------------------------------------------------------------------------

def test_stranger_is_unknown() -> None:
    adv = build_advertisement(ident("mallory"), now=NOW, data_for=[peer("bob")],
                              has_data_for_server=True)
    rec = recognise(adv, BOB, [peer("alice"), peer("carol")], now=NOW)
    assert rec.peer is None and not rec.holds_data_for_me and not rec.has_data_for_server


def test_unlinkable_across_rotation() -> None:
    """Without K_id, two epochs' payloads share nothing: every field differs, and
    neither is derivable from the other's values (only from the key)."""
    one = build_payload(ALICE, now=NOW, data_for=[peer("bob")], has_data_for_server=True)
    two = build_payload(ALICE, now=NOW + EPOCH, data_for=[peer("bob")], has_data_for_server=True)
    assert one.rid != two.rid and one.mac != two.mac
    assert not set(one.tags) & set(two.tags)
    assert K.advertising_address(ALICE, NOW) != K.advertising_address(ALICE, NOW + EPOCH)
    # an observer holding the first epoch's values, but no key, cannot recompute the second:
    # the obvious guesses (hash chains, the rid as a key) do not produce it
    e = K.epoch_of(NOW + EPOCH)
    for guess_key in (one.rid, one.mac, one.encode(), crypto.sha256(one.encode())):
        assert crypto.hmac_sha256(guess_key, b"rid" + K.u32(e))[:6] != two.rid
    # and the same flags bit is masked differently, so the flags byte is no constant
    masks = {K.flags_mask(K.id_key(ALICE.enc_public, ALICE.sign_public), ep)
             for ep in range(e, e + 32)}
    assert len(masks) > 16
    # a different device in the same epoch is no more alike than the same device later
    other = build_payload(CAROL, now=NOW + EPOCH, data_for=[peer("bob")], has_data_for_server=True)
    assert other.rid != two.rid


def test_peer_without_alice_card_sees_stranger() -> None:
    adv = build_advertisement(ALICE, now=NOW, data_for=[peer("bob")])
    assert recognise(adv, BOB, [], now=NOW).peer is None


def test_clock_skew_window() -> None:
    adv = build_advertisement(ALICE, now=NOW)
    for delta in (-EPOCH, 0, EPOCH):
        assert recognise(adv, BOB, [peer("alice")], now=NOW + delta).name == "alice"
    for delta in (-2 * EPOCH, 2 * EPOCH):
        assert recognise(adv, BOB, [peer("alice")], now=NOW + delta).peer is None


# --- tampering ------------------------------------------------------------------------

def test_every_single_bit_flip_is_caught_or_harmless() -> None:
    """No flip changes what a peer learns: it is rejected, unrecognised, or (only in
    the Flags AD, which no one relies on) ignored."""
    adv = build_advertisement(ALICE, now=NOW, data_for=[peer("bob")], has_data_for_server=True)
    rec = Recogniser(BOB, [peer("alice")])
    good = rec.recognise(adv, now=NOW)
    for i in range(len(adv)):
        for bit in range(8):
            bad = bytearray(adv)
            bad[i] ^= 1 << bit
            try:
                got = rec.recognise(bytes(bad), now=NOW)
            except (BeaconError, AuthError):
                continue
            if got.peer is None:
                assert 8 <= i < 14, i  # the rotating id
            else:
                assert i < 3, i  # flags AD only
                assert got == good


def test_tag_slots_swapped_is_auth_error() -> None:
    adv = bytearray(build_advertisement(ALICE, now=NOW, data_for=[peer("bob")]))
    adv[15:19], adv[19:23] = adv[19:23], adv[15:19]
    with pytest.raises(AuthError):
        recognise(bytes(adv), BOB, [peer("alice")], now=NOW)


@given(st.binary(max_size=40))
@settings(max_examples=500, deadline=None)
def test_arbitrary_bytes_raise_only_our_errors(data: bytes) -> None:
    rec = Recogniser(BOB, [peer("alice")])
    try:
        rec.recognise(data, now=NOW)
    except (BeaconError, AuthError):
        pass


@given(st.binary(min_size=24, max_size=24))
@settings(max_examples=300, deadline=None)
def test_arbitrary_payloads_are_unknown_or_rejected(body: bytes) -> None:
    adv = bytes([2, 1, 6, 27, 0x16, 0xF5, 0xFF]) + b"\x01" + body[1:]
    try:
        assert recognise(adv, BOB, [peer("alice")], now=NOW).peer is None
    except (BeaconError, AuthError):
        pass


# --- inputs ---------------------------------------------------------------------------

def test_identity_validation() -> None:
    with pytest.raises(UsageError):
        BeaconIdentity(b"\x01" * 32, b"\x02" * 32, b"\x03" * 32)  # public does not match
    with pytest.raises(UsageError):
        PeerKeys("x", False, b"short", b"\x00" * 32)
    assert "enc_secret" not in repr(ALICE)


@pytest.mark.parametrize("now", [-1.0, float("nan"), float("inf"), 2.0 ** 32 * EPOCH])
def test_bad_clock(now: float) -> None:
    with pytest.raises(UsageError):
        build_advertisement(ALICE, now=now)


def test_low_order_peer_key_is_a_usage_error_not_a_crash() -> None:
    bogus = PeerKeys("bogus", False, b"\x00" * 32, b"\x00" * 32)
    with pytest.raises(UsageError):
        build_advertisement(ALICE, now=NOW, data_for=[bogus])
    adv = build_advertisement(ident("bogus-sender"), now=NOW)
    assert recognise(adv, BOB, [bogus], now=NOW).peer is None


def test_import_does_not_pull_bumble() -> None:
    code = ("import sys, sneakersync.media.beacon, sneakersync.wire.beacon, "
            "sneakersync.media.beacon.discovery, sneakersync.media.beacon.radio; "
            "print(any(m.split('.')[0] in ('bumble', 'bleak') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
