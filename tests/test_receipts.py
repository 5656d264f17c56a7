from __future__ import annotations

import json
from pathlib import Path

import pytest

from sneakersync.sync import receipts
from sneakersync.wire import receipt as codec
from sneakersync.sync.prune import prune, set_retention
from sneakersync.server.ingest import issue_receipt

from conftest import REPO
from server_support import export, import_, receipt_files, setup

VECTORS = sorted((REPO / "formats" / "vectors" / "receipt").glob("*.json"))


pytestmark = pytest.mark.usefixtures("server_backend")  # each test on SQLite and PostgreSQL


def evaluate(v: dict) -> str:
    data = bytes.fromhex(v["receipt"])
    held = {o: {int(n): bytes.fromhex(h) for n, h in hs.items()} for o, hs in v["held"].items()}
    try:
        rc = codec.verify(data, server_key=bytes.fromhex(v["server"]["sign_public"]),
                          server_id=v["server"]["device_id"], device_id=v["device"]["device_id"])
        prev = codec.decode(bytes.fromhex(v["previous"])) if v["previous"] else None
        status = codec.compare(rc, prev)
        if status == "accepted":
            codec.check_roots(rc, lambda o, rs: held.get(o, {}))
        return status
    except codec.ReceiptProblem as err:
        assert err.layer == "receipt"
        return f"reject:{err.reason}"


def test_vectors_exist_and_are_current() -> None:
    names = {p.stem for p in VECTORS}
    for must in ("ok-first", "forged-signature", "foreign-server", "stale-older", "wrong-device",
                 "truncated-signature", "non-canonical-spaces"):
        assert must in names
    import subprocess
    import sys
    gen = REPO / "formats" / "vectors" / "receipt" / "generate.py"
    assert subprocess.run([sys.executable, str(gen), "--check"], cwd=REPO).returncode == 0


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    assert evaluate(v) == v["expect"], v["description"]


def test_decoder_raises_only_receipt_errors_on_garbage() -> None:
    import random
    base = bytes.fromhex(json.loads(VECTORS[0].read_text())["receipt"])
    r = random.Random(5)
    for _ in range(300):
        data = bytearray(base)
        for _ in range(r.randint(1, 4)):
            data[r.randrange(len(data))] = r.randrange(256)
        try:
            codec.decode(bytes(data[: r.randint(0, len(data))]))
        except codec.ReceiptProblem:
            pass


def test_receipts_verify_and_reissue_byte_identical(tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(20)])
    export(a, stick)
    srv.ingest(stick)
    first = receipt_files(stick)
    assert len(first) == 1
    seq, data = issue_receipt(srv.home, srv.sstore, a.id)
    assert seq == 20 and data in first.values()
    # re-issue: same bytes, also from a fresh computation (cache emptied)
    srv.core.conn.execute("DELETE FROM srv_issued")
    assert issue_receipt(srv.home, srv.sstore, a.id) == (seq, data)
    srv.ingest(stick)
    assert receipt_files(stick) == first
    rep = import_(a, stick)
    assert rep.receipts == 1 and rep.as_json()["receipts"] == 1
    assert receipts.status(a.store)[0]["seq"] == 20
    # b holds the packet too, but the receipt is encrypted to a: b cannot read it
    rep_b = import_(b, stick)
    assert rep_b.receipts == 0 and rep_b.receipt_detail["not_mine"] == 1
    # a newer receipt supersedes the old file on the stick
    a.store.put("c", {"i": "new"}, "r0")
    export(a, stick)
    srv.ingest(stick)
    now = receipt_files(stick)
    assert len(now) == 1 and now != first
    assert import_(a, stick).receipts == 1
    assert receipts.status(a.store)[0]["seq"] == 21


def _bad_receipt_deletes_nothing(tmp_path: Path, make_device, mutate) -> None:
    srv, (a, _b), stick = setup(tmp_path, make_device)
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(5)])
    set_retention(a.store, "c", "after-receipt")
    export(a, stick)
    srv.ingest(stick)
    wrapped = next(iter(receipt_files(stick).values()))
    res = receipts.apply_wrapped(a.home, a.store, mutate(srv, a, wrapped))
    assert res["status"] in ("rejected", "not_mine")
    before = a.store.snapshot()
    out = prune(a.home, a.store)
    assert out["records"] == 0 and a.store.snapshot() == before


def test_forged_receipt_deletes_nothing(tmp_path: Path, make_device) -> None:
    def forge(srv, a, wrapped):
        raw = codec.unwrap(wrapped, a.home.keys.enc_secret)
        raw = raw[:-1] + bytes([raw[-1] ^ 1])
        return codec.wrap(raw, a.home.keys.enc_public, b"k" * 32)
    _bad_receipt_deletes_nothing(tmp_path, make_device, forge)


def test_foreign_server_receipt_deletes_nothing(tmp_path: Path, make_device) -> None:
    from sneakersync.wire.identity import DeviceKeys

    def foreign(srv, a, wrapped):
        raw = codec.unwrap(wrapped, a.home.keys.enc_secret)
        rc = codec.decode(raw)
        other = DeviceKeys(b"o" * 32, b"p" * 32)
        body = codec.ReceiptBody(other.device_id, other.sign_public, a.id, rc.body.covered)
        return codec.wrap(codec.encode(body, other.sign_secret), a.home.keys.enc_public,
                          other.enc_secret)
    _bad_receipt_deletes_nothing(tmp_path, make_device, foreign)


def test_wrong_device_receipt_deletes_nothing(tmp_path: Path, make_device) -> None:
    def for_b(srv, a, wrapped):
        # b's receipt, re-encrypted to a (as a forwarding attacker could): the inner
        # addressee is b, so a refuses it
        rc_b = issue_receipt(srv.home, srv.sstore, srv._b.id)
        raw = codec.unwrap(rc_b[1], srv._b.home.keys.enc_secret)
        return codec.wrap(raw, a.home.keys.enc_public, b"z" * 32)

    srv, (a, b), stick = setup(tmp_path, make_device)
    srv._b = b
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(5)])
    b.store.write_many("d", [(f"r{i}", {"i": i}) for i in range(5)])
    set_retention(a.store, "c", "after-receipt")
    export(a, stick)
    export(b, stick)
    srv.ingest(stick)
    res = receipts.apply_wrapped(a.home, a.store, for_b(srv, a, None))
    assert res["status"] == "rejected" and res["reason"] == "wrong-device"
    # b's wrapped receipt itself is simply not readable by a
    assert receipts.apply_wrapped(a.home, a.store,
                                  issue_receipt(srv.home, srv.sstore, b.id)[1])["status"] \
        == "not_mine"
    assert prune(a.home, a.store)["records"] == 0


def test_stale_receipt_changes_nothing(tmp_path: Path, make_device) -> None:
    srv, (a, _b), stick = setup(tmp_path, make_device)
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(3)])
    export(a, stick)
    srv.ingest(stick)
    old = next(iter(receipt_files(stick).values()))
    a.store.put("c", {"i": 9}, "r9")
    export(a, stick)
    srv.ingest(stick)
    assert import_(a, stick).receipts == 1
    state = receipts.status(a.store)
    assert receipts.apply_wrapped(a.home, a.store, old)["status"] == "stale"
    assert receipts.status(a.store) == state


def test_deterministic_wrap_follows_the_spec_block_by_block() -> None:
    """formats/receipt-v1.md section 3: file key B(1)[:16], ephemeral B(2), nonce B(3)[:16]."""
    import base64
    import hashlib
    import hmac

    from sneakersync.wire import age, crypto

    inner = b"an inner receipt, any bytes"
    server_secret = hashlib.sha256(b"server x25519 secret").digest()
    device_secret = hashlib.sha256(b"device x25519 secret").digest()
    device_public = crypto.x25519_public(device_secret)
    wrapped = codec.wrap(inner, device_public, server_secret)

    seed = crypto.hkdf_sha256(server_secret, hashlib.sha256(inner).digest(),
                              b"sneakersync receipt wrap v1", 32)
    block = [b""] + [hmac.new(seed, i.to_bytes(8, "big"), hashlib.sha256).digest()
                     for i in (1, 2, 3)]
    header, end = age.parse_header(wrapped)
    (stanza,) = header.stanzas
    share = base64.b64decode(stanza.args[0] + "=" * (-len(stanza.args[0]) % 4))
    assert share == crypto.x25519_public(block[2])
    assert wrapped[end:end + 16] == block[3][:16]
    assert codec.unwrap(wrapped, device_secret) == inner
    assert codec.wrap(inner, device_public, server_secret) == wrapped  # re-issue: same bytes
