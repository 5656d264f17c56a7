"""The format vectors in formats/vectors/{card,packet,drive}: outcome classes and reproducibility.

Each card/packet vector file is ``key: value`` header lines, a blank line, then the
raw bytes (formats/README.md section 4).  A packet vector is read the way
``sync._apply`` reads a packet, with the reader's keys and peers taken from the
header; the failing layer (``SneakersyncError.layer``) must equal ``expect``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from sneakersync.wire import age
from sneakersync.wire import packet
from sneakersync.wire import body as body_mod
from sneakersync.media.drive import Drive, _valid_name
from sneakersync.errors import AuthError, RevokedError, SneakersyncError, UntrustedError
from sneakersync.wire.identity import decode_card

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "formats" / "vectors"
EXPECTS = {"success", "card", "header", "hmac", "no-match", "payload", "envelope", "auth",
           "body", "revoked", "untrusted"}


def load(path: Path) -> tuple[dict[str, list[str]], bytes]:
    head, sep, data = path.read_bytes().partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the header"
    headers: dict[str, list[str]] = {}
    for line in head.decode("utf-8").split("\n"):
        key, colon, value = line.partition(": ")
        assert colon, f"{path.name}: bad header line {line!r}"
        headers.setdefault(key, []).append(value)
    assert headers["expect"][0] in EXPECTS and len(headers["expect"]) == 1
    assert headers.get("comment"), f"{path.name}: every vector says what it tests"
    return headers, data


def names(kind: str) -> list[str]:
    d = VECTORS / kind
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


# --- packets -------------------------------------------------------------------------------

def read_packet(headers: dict[str, list[str]], data: bytes) -> tuple[bytes, int]:
    """Open, decode and verify like ``sync._apply``; returns (body, number of changes)."""
    identity = age.decode_identity(headers["identity"][0])
    me = decode_card(headers["reader"][0])
    peers = {c.sign_public: c for c in map(decode_card, headers.get("peer", []))}
    revoked = {decode_card(c).sign_public for c in headers.get("revoked", [])}

    def accept_sender(sign_public: bytes) -> None:
        if sign_public in revoked:
            raise RevokedError("the sender is revoked")
        if sign_public not in peers:  # sync quarantines these; a vector reader rejects
            raise UntrustedError("the sender is not an accepted peer")

    max_body = int(headers.get("max-body", [str(1 << 31)])[0])
    opened = packet.open_packet(data, identity, accept_sender=accept_sender, max_body=max_body)
    b = body_mod.decode(opened.body)
    body_mod.card_for(b, b.sender)  # a carried sender card must be valid and belong to it
    if peers[opened.envelope.sender_sign_public].device_id != b.sender:
        raise AuthError("the body names a different sender than the signer")
    if me.device_id not in b.to:
        raise AuthError("the body does not list the reader as a recipient")
    keys = {c.device_id: c.sign_public for c in peers.values()}
    keys[me.device_id] = me.sign_public
    verified = body_mod.verify_segments(b, keys.get)
    return opened.body, sum(len(v.versions) for v in verified)


@pytest.mark.parametrize("name", names("packet"))
def test_packet_vector(name: str) -> None:
    headers, data = load(VECTORS / "packet" / name)
    expect = headers["expect"][0]
    try:
        body, changes = read_packet(headers, data)
    except SneakersyncError as exc:
        assert exc.layer == expect, f"{name}: got {exc.layer} ({exc}), expected {expect}"
        return
    assert expect == "success", f"{name}: opened, but expected {expect}"
    assert hashlib.sha256(body).hexdigest() == headers["payload-sha256"][0]
    assert changes == int(headers["changes"][0])
    assert packet.packet_id(data) == headers["packet-id"][0]


def test_packet_vector_coverage() -> None:
    counts: dict[str, int] = {}
    for name in names("packet"):
        expect = load(VECTORS / "packet" / name)[0]["expect"][0]
        counts[expect] = counts.get(expect, 0) + 1
    assert sum(counts.values()) >= 100
    assert set(counts) == EXPECTS - {"card"}, counts


# --- cards ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", names("card"))
def test_card_vector(name: str) -> None:
    headers, data = load(VECTORS / "card" / name)
    expect = headers["expect"][0]
    try:
        card = decode_card(data.decode("ascii"))
    except SneakersyncError as exc:
        assert exc.layer == expect, f"{name}: got {exc.layer} ({exc}), expected {expect}"
        return
    assert expect == "success", f"{name}: decoded, but expected {expect}"
    assert card.device_id == headers["device-id"][0]
    assert card.kind == int(headers["kind"][0])
    assert card.name.encode("utf-8").hex() == headers["name-utf8"][0]
    assert card.sign_public.hex() == headers["sign-public"][0]
    assert card.enc_public.hex() == headers["enc-public"][0]
    # the canonical encoding of a valid card is its upper-case text without whitespace
    assert card.encode() == "".join(data.decode("ascii").split()).upper()


# --- drive ---------------------------------------------------------------------------------

def drive_cases() -> list[dict[str, object]]:
    path = VECTORS / "drive" / "names.json"
    return json.loads(path.read_text("utf-8")) if path.exists() else []


@pytest.mark.parametrize("case", drive_cases(), ids=lambda c: str(c["comment"]))
def test_drive_vector(case: dict[str, object], tmp_path: Path) -> None:
    kind, name, expect = str(case["dir"]), str(case["name"]), str(case["expect"])
    suffix = ".rcpt" if kind == "receipts" else ".pkt"
    assert _valid_name(name, suffix) == (expect != "ignored")
    ftype = str(case.get("type", "file"))
    if case["content"] is None and ftype == "file":  # not a plain name: never listed
        assert "/" in name
        return
    drive = Drive(tmp_path, create=True)
    target = drive.root / kind / name
    if ftype == "file":
        target.write_bytes(bytes.fromhex(str(case["content"])))
    elif ftype == "symlink":
        elsewhere = tmp_path / "elsewhere"
        elsewhere.write_bytes(bytes.fromhex(str(case["content"])))
        target.symlink_to(elsewhere)
    elif ftype == "symlink-dev-zero":
        target.symlink_to("/dev/zero")
    elif ftype == "fifo":
        os.mkfifo(target)
    else:
        assert ftype == "folder"
        target.mkdir()
    listed = drive.entries(kind, suffix) if kind != "tmp" else []
    if expect == "ignored":
        assert [p.name for p in listed] == []
        return
    assert [p.name for p in listed] == [name]
    try:
        data = drive.read(listed[0])
    except SneakersyncError as exc:
        assert exc.layer == expect
        return
    assert expect == "read" and data == bytes.fromhex(str(case["content"]))


# --- reproducibility -----------------------------------------------------------------------

def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sneakersync_vector_generator",
                                                  VECTORS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


def test_generator_reproduces_committed_files(tmp_path: Path) -> None:
    gen = generator()
    gen.main(["--out", str(tmp_path)])
    for kind in ("card", "packet", "drive"):
        made = sorted(p.name for p in (tmp_path / kind).iterdir())
        assert made == names(kind), f"{kind}: the committed file set differs from the generator's"
        for n in made:
            assert (tmp_path / kind / n).read_bytes() == (VECTORS / kind / n).read_bytes(), \
                f"{kind}/{n} differs when regenerated"
