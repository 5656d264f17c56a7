from __future__ import annotations

import tracemalloc
from pathlib import Path

import zstandard

from sneakersync.wire import age
from sneakersync.wire import body as body_mod
from sneakersync.wire import crypto
from sneakersync.wire import envelope
from sneakersync.wire import packet
from sneakersync.store import peers
from sneakersync.media.drive import export_to_drive, import_from_drive
from sneakersync.sync.engine import build_export

from conftest import befriend, recv, send


def test_round_trip_and_idempotent_reimport(make_device) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("shelters", [(f"s{i}", {"n": i, "name": f"Shelter {i}"}) for i in range(50)])
    a.store.delete("shelters", "s3")
    out = send(a, [b])
    rep = recv(b, out.data)
    assert rep.imported == 1 and rep.changes_applied == 51 and not rep.rejected
    assert b.store.snapshot() == a.store.snapshot()
    before = b.store.snapshot()
    for _ in range(3):
        rep = recv(b, out.data)
        assert rep.duplicates == 1 and rep.changes_applied == 0
    assert b.store.snapshot() == before


def test_delta_export_holds_only_new_changes(make_device) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(200)])
    first = send(a, [b])
    assert first.changes == 200
    assert send(a, [b]) is None  # nothing new: nothing to write
    a.store.put("c", {"i": -1}, "r7")
    second = send(a, [b])
    assert second.changes == 1
    # b imports in the reverse order: still converges
    recv(b, second.data)
    recv(b, first.data)
    assert b.store.snapshot() == a.store.snapshot()


def test_relay_keeps_origin_attribution(make_device) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b)
    befriend(b, c)  # c does not know a
    a.store.write_many("h", [(f"r{i}", {"i": i}) for i in range(30)])
    recv(b, send(a, [b]).data)
    b.store.put("h", {"from": "b"}, "rb")
    out = send(b, [c])
    rep = recv(c, out.data)
    assert rep.changes_applied == 31 and not rep.rejected
    origins = {r[0] for r in c.store.conn.execute("SELECT DISTINCT origin FROM changes")}
    assert origins == {a.id, b.id}
    assert c.store.get("h", "r5").origin == a.id
    # c forwards a's changes onward to d, with a's signature still checked
    d = make_device("d")
    befriend(c, d)
    rep = recv(d, send(c, [d]).data)
    assert rep.changes_applied == 31 and d.store.snapshot()["records"] == c.store.snapshot()["records"]


def test_relay_of_a_subset_uses_merkle_proofs(make_device) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b, c)
    a.store.write_many("h", [(f"r{i}", {"i": i}) for i in range(40)])
    recv(c, send(a, [c]).data)  # c has everything from a already
    recv(b, send(a, [b]).data)
    a.store.put("h", {"i": 99}, "r1")
    recv(b, send(a, [b]).data)
    c.store.put("h", {"c": 1}, "rc")
    recv(b, send(c, [b]).data)  # b learns from c's manifest what c holds
    # c lacks only a's 41st change; b relays it with a proof
    out = send(b, [c])
    assert out is not None and out.changes == 1
    rep = recv(c, out.data)
    assert rep.changes_applied == 1 and c.store.get("h", "r1").data == {"i": 99}


def test_tampered_relay_is_rejected(make_device) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b, c)
    a.store.put("h", {"amount": 10}, "r1")
    recv(b, send(a, [b]).data)
    # b edits a's change inside its own (validly signed) packet
    recips = [peers.by_id(b.store, c.id)]
    out = build_export(b.home, b.store, recips)
    opened = packet.open_packet(out.data, c.home.keys.enc_secret, accept_sender=lambda k: None)
    bd = body_mod.decode(opened.body)
    seg = [s for s in bd.segments if s.origin == a.id][0]
    seg.changes[0] = seg.changes[0].replace(b'"amount":10', b'"amount":99')
    forged = packet.seal(b.home.keys, [c.home.keys.enc_public], body_mod.encode(bd))
    rep = recv(c, forged)
    assert rep.rejected and "auth" in rep.rejected[0]["error"]
    assert c.store.counter == 0 and list(c.store.rows("h")) == []


def test_reencrypted_by_corecipient_is_rejected(make_device) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b, c)
    a.store.put("h", {"x": 1}, "r1")
    out = send(a, [b])
    # b decrypts and re-encrypts a's signed envelope to c, as if a had sent it to c
    _, plain = age.decrypt(out.data, b.home.keys.enc_secret)
    forwarded = age.encrypt(plain, [c.home.keys.enc_public])
    rep = recv(c, forwarded)
    assert rep.rejected and rep.rejected[0]["error"].startswith("auth")
    assert list(c.store.rows("h")) == []


def test_every_bit_flip_and_truncation_is_rejected(make_device) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.put("h", {"x": 1}, "r1")
    out = send(a, [b], pad_to=0)
    data = out.data
    assert len(data) < 1200
    for i in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[i] ^= 1 << bit
            rep = recv(b, bytes(bad))
            assert rep.imported == 0, (i, bit)
            assert rep.rejected or rep.not_for_me
    for n in range(len(data)):
        rep = recv(b, data[:n])
        assert rep.imported == 0 and (rep.rejected or rep.not_for_me)
    assert b.store.counter == 0 and b.store.conn.execute("SELECT COUNT(*) FROM changes").fetchone()[0] == 0
    assert recv(b, data).imported == 1


def test_decompression_bomb_rejected_with_bounded_memory(make_device) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    huge = b"\n" * (200 * 1024 * 1024)  # 200 MiB of newlines, compresses to ~10 KB
    comp = zstandard.ZstdCompressor(level=19).compress(huge)
    enc = age.StreamEncryptor([b.home.keys.enc_public])
    import struct
    fixed = struct.pack(envelope._FMT, envelope.MAGIC, a.home.keys.sign_public,
                        crypto.sha256(enc.header.raw), len(comp), 1000, crypto.sha256(comp), 0)
    sig = crypto.sign(a.home.keys.sign_secret, envelope.SIG_DOMAIN + fixed)
    data = enc.update(fixed + sig + comp) + enc.finish()
    tracemalloc.start()
    rep = recv(b, data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rep.rejected and rep.rejected[0]["error"].startswith("body")
    assert peak < 20 * 1024 * 1024


def test_unknown_sender_is_quarantined_then_accepted(make_device) -> None:
    from sneakersync.sync.exchange import quarantine_accept, quarantine_list
    a, b = make_device("a"), make_device("b")
    peers.add(a.store, b.home.card.encode())  # a knows b, b does not know a
    a.store.put("h", {"x": 1}, "r1")
    rep = recv(b, send(a, [b]).data)
    assert rep.quarantined == 1 and rep.changes_applied == 0
    assert list(b.store.rows("h")) == []
    # the body is not read before the sender is accepted: it is named by its signing key
    sender = quarantine_list(b.home, b.store)[0]["sender"]
    assert sender == "key:" + a.home.keys.sign_public.hex()
    rep2 = quarantine_accept(b.home, b.store, sender[:24], add_peer=True)
    assert rep2.imported == 1 and b.store.get("h", "r1").data == {"x": 1}
    assert peers.by_id(b.store, a.id) is not None


def test_packets_for_others_are_left_alone(make_device, tmp_path: Path) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b, c)
    a.store.put("h", {"x": 1}, "r1")
    drive = tmp_path / "usb"
    drive.mkdir()
    export_to_drive(a.home, a.store, drive, [b.home.name])
    rep = import_from_drive(c.home, c.store, drive)
    assert rep.not_for_me == 1 and rep.imported == 0
    assert len(list((drive / "sneakersync/v1/packets").iterdir())) == 1
    assert import_from_drive(b.home, b.store, drive).imported == 1


def test_drive_reveals_no_plaintext(make_device, tmp_path: Path) -> None:
    a, b = make_device("Amina field laptop"), make_device("Juma tablet")
    befriend(a, b)
    secret_values = ["Kakuma", "Zainab Odhiambo", "cholera", "2026-03-14"]
    a.store.put("patients", {"place": "Kakuma", "name": "Zainab Odhiambo",
                             "note": "cholera suspected", "date": "2026-03-14"})
    drive = tmp_path / "usb"
    drive.mkdir()
    export_to_drive(a.home, a.store, drive, [])
    needles = secret_values + ["Amina", "Juma", a.id, b.id, "patients"]
    for p in drive.rglob("*"):
        for n in needles:
            assert n.lower() not in p.name.lower()
        if p.is_file():
            blob = p.read_bytes()
            for n in needles:
                assert n.encode() not in blob and n.lower().encode() not in blob.lower()
            assert p.stat().st_mtime == 946684800
