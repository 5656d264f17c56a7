from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from sneakersync.errors import CardError, SneakersyncError, UsageError
from sneakersync.wire.identity import DeviceKeys, decode_card, encode_card

from conftest import det_rng


def test_card_round_trip_and_id() -> None:
    keys = DeviceKeys.generate(det_rng(1))
    card = keys.card("Clinic tablet ٢ — नेपाल")
    text = encode_card(card)
    assert text.isascii() and text.startswith("SNK1:")
    back = decode_card(text)
    assert back == card
    assert back.device_id == keys.device_id and len(keys.device_id) == 16


def test_card_tolerates_whitespace_and_lowercase() -> None:
    text = DeviceKeys.generate(det_rng(2)).card("a").encode()
    assert decode_card("  " + text[:20] + "\n" + text[20:].lower().replace("snk1:", "SNK1:")) \
        .name == "a"


def test_swapped_key_is_detected() -> None:
    a = DeviceKeys.generate(det_rng(3)).card("a")
    b = DeviceKeys.generate(det_rng(4)).card("a")
    from sneakersync.wire.identity import Card
    forged = Card(name="a", sign_public=a.sign_public, enc_public=b.enc_public)
    # re-encode with a correct checksum but the id of the first card
    import base64
    from sneakersync.wire import crypto
    body = bytes([1, 1]) + a.raw_id + forged.sign_public + forged.enc_public + bytes([1]) + b"a"
    chk = crypto.sha256(b"SNK1:" + body)[:4]
    text = "SNK1:" + base64.b32encode(body + chk).decode().rstrip("=")
    with pytest.raises(CardError, match="device id"):
        decode_card(text)


def test_every_single_character_change_is_rejected() -> None:
    text = DeviceKeys.generate(det_rng(5)).card("Juma").encode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    for i in range(5, len(text)):
        ch = alphabet[(alphabet.index(text[i]) + 1) % 32]
        with pytest.raises(CardError):
            decode_card(text[:i] + ch + text[i + 1:])


def test_bad_names_refused() -> None:
    keys = DeviceKeys.generate(det_rng(6))
    for bad in ["", "   ", "x" * 65, "tab\there"]:
        with pytest.raises(UsageError):
            keys.card(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_decode_arbitrary_text_raises_only_our_errors(text: str) -> None:
    try:
        decode_card(text)
    except SneakersyncError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=0, max_size=120))
def test_decode_arbitrary_payload_raises_only_our_errors(raw: bytes) -> None:
    import base64
    try:
        decode_card("SNK1:" + base64.b32encode(raw).decode().rstrip("="))
    except SneakersyncError:
        pass
