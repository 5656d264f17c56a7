"""Stick cleaning: a packet every recipient confirmed is removed by the next device
that knows it; nothing else is (formats/drive-layout-v1.md, "Cleaning")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sneakersync.media.drive import Drive, export_to_drive, import_from_drive
from sneakersync.sync.compact import clean_stick

from conftest import befriend


def _files(usb: Path) -> set[str]:
    return {p.name for p in Drive(usb).packets()}


def test_packet_leaves_the_stick_once_every_recipient_confirmed(make_device: Any,
                                                                tmp_path: Path) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b, c)
    usb = tmp_path / "usb"
    usb.mkdir()
    a.store.write_many("hh", [(f"r{i}", {"i": i}) for i in range(10)])
    first = export_to_drive(a.home, a.store, usb, ["b", "c"])["packet_id"]
    assert import_from_drive(b.home, b.store, usb).stick_cleaned == 0  # c has not confirmed
    assert first + ".pkt" in _files(usb)
    import_from_drive(c.home, c.store, usb)
    assert first + ".pkt" in _files(usb)  # c does not know yet that b holds it
    b.store.put("hh", {"from": "b"}, "rb")
    from_b = export_to_drive(b.home, b.store, usb, ["a", "c"])["packet_id"]  # b's manifest
    rep = import_from_drive(c.home, c.store, usb)
    assert rep.stick_cleaned == 1 and first + ".pkt" not in _files(usb)
    assert from_b + ".pkt" in _files(usb)  # a has not confirmed b's change yet
    # a imports b's packet: a holds it, but does a know c holds it? not yet: kept
    import_from_drive(a.home, a.store, usb)
    assert from_b + ".pkt" in _files(usb)
    c.store.put("hh", {"from": "c"}, "rc")
    export_to_drive(c.home, c.store, usb, ["a", "b"])  # c's manifest holds b's change
    import_from_drive(a.home, a.store, usb)  # a: both recipients of b's packet hold it
    assert from_b + ".pkt" not in _files(usb)
    # every device still converged, and a second pass finds nothing more to remove
    import_from_drive(b.home, b.store, usb)
    assert a.store.snapshot() == b.store.snapshot() == c.store.snapshot()


def test_a_packet_this_device_never_opened_stays(make_device: Any, tmp_path: Path) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b, c)
    usb = tmp_path / "usb"
    usb.mkdir()
    a.store.put("hh", {"x": 1}, "r1")
    pid = export_to_drive(a.home, a.store, usb, ["b"])["packet_id"]
    rep = import_from_drive(c.home, c.store, usb)
    assert rep.not_for_me == 1 and rep.stick_cleaned == 0 and pid + ".pkt" in _files(usb)
    # b imports: b is the only recipient and holds it now: b removes it
    assert import_from_drive(b.home, b.store, usb).stick_cleaned == 1
    assert not _files(usb)


def test_cleaning_survives_a_file_already_gone(make_device: Any, tmp_path: Path) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    usb = tmp_path / "usb"
    usb.mkdir()
    a.store.put("hh", {"x": 1}, "r1")
    export_to_drive(a.home, a.store, usb, ["b"])
    import_from_drive(b.home, b.store, usb)  # removes it
    # a crash after the unlink but before the note was dropped: the note stays, harmless
    b.store.conn.execute("INSERT INTO carried(packet_id, at, ranges) VALUES('00', 0, '{}')")
    assert clean_stick(b.store, Drive(usb)) == 0
    # notes older than the keep period are forgotten
    assert b.store.conn.execute("SELECT COUNT(*) FROM carried").fetchone()[0] == 0
