"""Safety numbers: symmetric, 12 groups of 5 digits, and any key change shows."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from sneakersync.wire import safety
from sneakersync.errors import CardError, UsageError
from sneakersync.wire.identity import DeviceKeys, decode_card, encode_card

from conftest import det_rng


def card(seed: int, name: str = "dev"):
    return DeviceKeys.generate(det_rng(seed)).card(name)


def test_equal_on_both_sides_and_shaped_like_signal() -> None:
    a, b = card(1, "Amina"), card(2, "Juma")
    n = safety.safety_number(a, b)
    assert n == safety.safety_number(b, a)
    assert len(n) == 60 and n.isdigit()
    gs = safety.groups(n)
    assert len(gs) == 12 and all(len(g) == 5 for g in gs)
    assert safety.format_number(n).count("\n") == 2
    assert safety.matches(n, safety.format_number(n)) and not safety.matches(n, n[:-1] + "x")


def test_names_do_not_matter_but_every_key_does() -> None:
    a, b = card(1, "Amina"), card(2, "Juma")
    n = safety.safety_number(a, b)
    assert safety.safety_number(dataclasses.replace(a, name="Other"), b) == n
    other = card(3)
    for changed in (dataclasses.replace(a, sign_public=other.sign_public),
                    dataclasses.replace(a, enc_public=other.enc_public),
                    dataclasses.replace(b, sign_public=other.sign_public),
                    dataclasses.replace(b, enc_public=other.enc_public),
                    other):
        assert safety.safety_number(changed, b if changed is not b else a) != n


def test_swapped_key_in_a_card_is_detected() -> None:
    """An edited card fails its own check; a re-made card (attacker keys, same name)
    decodes, but the safety number on the victim's screen no longer matches."""
    a, b = card(1, "Amina"), card(2, "Juma")
    text = encode_card(a)
    raw = bytearray(base64.b32decode(text[5:] + "=" * (-len(text[5:]) % 8)))
    raw[12:44] = card(9).sign_public  # swap the signing key, keep id and checksum
    forged = "SNK1:" + base64.b32encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(CardError):
        decode_card(forged)
    mallory = DeviceKeys.generate(det_rng(66)).card("Amina")  # same name, own keys
    assert safety.safety_number(mallory, b) != safety.safety_number(a, b)


def test_same_device_twice_is_refused() -> None:
    a = card(1)
    with pytest.raises(UsageError):
        safety.safety_number(a, a)


def test_vector_is_stable() -> None:
    """Pins the derivation (domain, ordering, 5200 rounds of SHA-512, 5-byte chunks)."""
    a, b = card(1, "a"), card(2, "b")
    import hashlib

    lo, hi = sorted((a.sign_public + a.enc_public, b.sign_public + b.enc_public))
    h = hashlib.sha512(b"sneakersync safety number v1\x00" + lo + hi).digest()
    for _ in range(5199):
        h = hashlib.sha512(h + lo + hi).digest()
    want = "".join(f"{int.from_bytes(h[5 * j:5 * j + 5], 'big') % 100000:05d}" for j in range(12))
    assert safety.safety_number(a, b) == want
