from __future__ import annotations

from pathlib import Path

from sneakersync.store import peers
from sneakersync.sync.prune import DAY_MS, parse_policy, prune, set_retention
from sneakersync.store.records import now_ms
from sneakersync.sync.engine import ImportReport, build_export, import_packet

import pytest

from server_support import export, import_, setup


def _delivered(tmp_path: Path, make_device, n: int = 10):
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.write_many("hh", [(f"r{i}", {"i": i}) for i in range(n)])
    export(a, stick)  # to b and the server
    import_(b, stick)
    srv.ingest(stick)
    return srv, a, b, stick


def test_policy_parsing() -> None:
    assert parse_policy("keep") == ("keep", None)
    assert parse_policy("after-receipt") == ("after-receipt", None)
    assert parse_policy("days:30") == ("after-receipt-days", 30)
    assert parse_policy("after-receipt-days:7") == ("after-receipt-days", 7)
    with pytest.raises(Exception):
        parse_policy("soon")


def test_keep_is_default_and_dry_run_changes_nothing(tmp_path: Path, make_device) -> None:
    srv, a, b, stick = _delivered(tmp_path, make_device)
    import_(a, stick)
    assert prune(a.home, a.store)["records"] == 0
    set_retention(a.store, "hh", "after-receipt")
    before = a.store.snapshot()
    dry = prune(a.home, a.store, dry_run=True)
    assert dry["records"] == 10 and a.store.snapshot() == before


def test_edited_record_is_kept_and_nothing_propagates(tmp_path: Path, make_device) -> None:
    srv, a, b, stick = _delivered(tmp_path, make_device)
    a.store.put("hh", {"i": "edited"}, "r3")  # after the export: not covered
    import_(a, stick)  # picks up the receipt
    set_retention(a.store, "hh", "after-receipt")
    counter = a.store.counter
    res = prune(a.home, a.store)
    assert res["records"] == 9 and res["edited_since"] == 1
    assert [rid for rid, _ in a.store.rows("hh")] == ["r3"]
    assert a.store.counter == counter  # no change, no tombstone
    # the field values are gone from the log too, and the emptied rows with them: only
    # their hashes stay, packed in the hash log (compaction folds the stubs)
    # (r3 keeps both versions: b has not confirmed it holds the old one)
    assert a.store.conn.execute("SELECT COUNT(*) FROM changes").fetchone()[0] == 2
    assert res["compaction"]["rows_folded"] == 9
    assert len(a.store.hashes(a.store.device_id, 1, 10)) == 1  # only r3's old version
    # future syncs still work: the edit goes to b and the server, b keeps everything
    export(a, stick)
    rep = import_(b, stick)
    assert not rep.rejected and rep.changes_applied == 1
    assert len(list(b.store.rows("hh"))) == 10
    assert srv.ingest(stick)["rejected"] == []
    # the server's next receipt covers the pruned changes too: a checks it from the block
    # hashes it kept with the last receipt, not from the hashes compaction removed
    rep = import_(a, stick)
    assert rep.receipts == 1 and not rep.receipt_detail["rejected"], rep.receipt_detail
    # a later edit of a pruned record by b makes it visible again at a
    b.store.put("hh", {"i": "b edit"}, "r5")
    export(b, stick)
    import_(a, stick)
    assert dict(a.store.rows("hh"))["r5"] == {"i": "b edit"}


def test_days_policy_waits(tmp_path: Path, make_device) -> None:
    srv, a, b, stick = _delivered(tmp_path, make_device, n=4)
    import_(a, stick)
    set_retention(a.store, "hh", "days:3")
    res = prune(a.home, a.store)
    assert res["records"] == 0 and res["waiting"] == 4
    res = prune(a.home, a.store, now=now_ms() + 3 * DAY_MS + 1000)
    assert res["records"] == 4


def test_changes_a_peer_lacks_keep_their_bytes(tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.write_many("hh", [(f"r{i}", {"i": i}) for i in range(5)])
    export(a, stick, ["Office server"])  # only to the server; b has not got them
    srv.ingest(stick)
    import_(a, stick)
    set_retention(a.store, "hh", "after-receipt")
    res = prune(a.home, a.store)
    assert res["records"] == 5 and res["changes_kept_for_peers"] == 5
    # b still gets valid changes from a
    export(a, stick, [b.home.name])
    rep = import_(b, stick)
    assert not rep.rejected and rep.changes_applied == 5
    # ... and the next prune erases the bytes b now has
    again = prune(a.home, a.store)
    assert again["changes_erased"] == 5


def test_pruned_relayed_records_do_not_come_back(tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    b.store.write_many("hh", [(f"b{i}", {"i": i}) for i in range(6)])
    export(b, stick, [a.home.name])
    import_(a, stick)
    export(a, stick, ["Office server"])  # a relays b's records to the server
    srv.ingest(stick)
    import_(a, stick)
    set_retention(a.store, "hh", "after-receipt")
    assert prune(a.home, a.store)["records"] == 6
    # b sends everything again (a full export): a's store already holds those changes
    out = build_export(b.home, b.store, [peers.by_id(b.store, a.id)], full=True)
    rep = ImportReport()
    import_packet(a.home, a.store, out.data, rep)
    assert not rep.rejected and rep.changes_applied == 0
    assert list(a.store.rows("hh")) == []


def test_prune_forgets_old_seen_packets_and_reimport_stays_a_no_op(make_device) -> None:
    from conftest import befriend, recv, send
    from sneakersync.sync import prune as prune_mod
    a, b = make_device("seen-a"), make_device("seen-b")
    befriend(a, b)
    a.store.put("c", {"x": 1}, "r1")
    data = send(a, [b]).data
    assert recv(b, data).imported == 1
    before = b.store.snapshot()
    later = 10**13  # far in the future: every settled packet is old
    assert prune_mod.compact_seen(b.store, later) == 1
    rep = recv(b, data)
    assert rep.imported == 1 and rep.changes_applied == 0 and b.store.snapshot() == before
