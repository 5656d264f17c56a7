"""Settling a large store in bounded memory (issue 15): taking a receipt, compacting and
pruning read the store page by page (``compact.BATCH``, ``prune.BATCH``) instead of
whole tables, and the receipt root is recomputed by a streaming Merkle accumulator.

The page size must not change any result: the same store settled with pages of 3 rows
and with pages larger than the store ends byte-for-byte equal in every table, with the
same reports.  Each page is read and written in one transaction: a failure in the
middle of a prune leaves the pages before it pruned completely and the rest untouched,
and a re-run reaches the clean result.  (``kill -9`` at commit points is the crash
campaign's, tests/test_crash.py.)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sneakersync.media.drive import Drive
from sneakersync.store import home as home_mod
from sneakersync.store.records import Store
from sneakersync.sync import compact, prune, receipts

from server_support import export, import_, setup

NOW = 1_900_000_000_000


def _dump(store: Store) -> dict[str, list[Any]]:
    """Every row of every table, in a fixed order (the whole store, not just records),
    without the wall-clock columns a receipt's acceptance stamps (``at``, ``last_seen``)."""
    out = {}
    for (name,) in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                      "AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall():
        cols = [c[1] for c in store.conn.execute(f'PRAGMA table_info("{name}")')
                if c[1] not in ("at", "last_seen")]
        out[name] = sorted(store.conn.execute(
            f'SELECT {", ".join(cols)} FROM "{name}"').fetchall(), key=repr)
    return out


@pytest.fixture
def unsettled(tmp_path: Path, make_device) -> tuple[Path, Path]:
    """A device 'a' holding its own and relayed changes (edits, deletions, two collections,
    one kept), with the server's receipt waiting on the stick; returns (a's home, stick)."""
    srv, (a, b), stick = setup(tmp_path, make_device)
    # b's changes reach the server only through a (relayed segments), in two collections
    b.store.write_many("hh", [(f"b{i}", {"i": i}) for i in range(60)])
    b.store.write_many("notes", [(f"n{i}", {"i": i}) for i in range(20)])
    export(b, stick, [a.home.name])
    import_(a, stick)
    a.store.write_many("hh", [(f"r{i:04}", {"i": i}) for i in range(1500)])
    a.store.write_many("hh", [(f"r{i:04}", {"i": -i}) for i in range(0, 1500, 7)])  # edits
    for i in range(3, 1500, 50):
        a.store.delete("hh", f"r{i:04}")
    export(a, stick, [b.home.name])
    import_(b, stick)
    b.store.put("notes", {"i": "x"}, "nx")
    export(b, stick, [a.home.name])  # b's manifest confirms what it holds
    import_(a, stick)
    a.store.write_many("hh", [(f"late{i}", {"i": i}) for i in range(40)])  # b lacks these
    export(a, stick, ["Office server"])
    assert srv.ingest(stick)["receipts_written"] >= 1
    a.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return a.home.path, stick


def _receipt_compact(home_path: Path, stick: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The device takes the server's receipt, compacts and sets retention after-receipt
    on 'hh' ('notes' is kept: partly folded segments); its home, store and compaction."""
    h = home_mod.load(home_path)
    s = h.open_store()
    got = receipts.import_receipts(h, s, Drive(stick))
    assert got["receipts"] == 1, got
    first = compact.compact(s)
    prune.set_retention(s, "hh", "after-receipt")
    return h, s, first


def _settle(home_path: Path, stick: Path, batch: int, monkeypatch: pytest.MonkeyPatch
            ) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    monkeypatch.setattr(compact, "BATCH", batch)
    monkeypatch.setattr(prune, "BATCH", batch)
    h, s, first = _receipt_compact(home_path, stick)
    try:
        dry = prune.prune(h, s, dry_run=True, now=NOW)
        res = prune.prune(h, s, now=NOW)
        return {"compact": first, "dry": dry, "prune": res}, _dump(s)
    finally:
        s.close()


def test_tiny_pages_give_the_same_store_and_reports(unsettled: tuple[Path, Path],
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    home_path, stick = unsettled
    copy = tmp_path / "copy"
    shutil.copytree(home_path, copy)
    whole, whole_db = _settle(home_path, stick, 1_000_000, monkeypatch)
    paged, paged_db = _settle(copy, stick, 3, monkeypatch)
    assert paged == whole
    assert paged_db == whole_db
    # and the run did real work on every path the pages cover
    res = whole["prune"]
    assert res["records"] > 1000 and res["changes_kept_for_peers"] > 0
    assert res["compaction"]["rows_folded"] > 1000
    assert whole["compact"]["values_erased"] > 200  # superseded values and tombstones
    folded = [k for *_, k in whole_db["segments"] if k != "{}"]
    assert folded, "a relayed segment was folded around the changes that stay"
    left = {r[0] for r in whole_db["records"]}
    assert left == {"notes"} | ({"hh"} if any(r[0] == "hh" for r in whole_db["records"])
                                else set())
    assert all(r[1].startswith(("n", "late")) for r in whole_db["records"])


def test_a_crash_between_pages_leaves_whole_records_and_a_rerun_finishes(
        unsettled: tuple[Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Prune commits a page of records at a time; a failure inside a page rolls that
    page back, the pages before it stay pruned completely, and a re-run ends in
    exactly the store of an uninterrupted run."""
    home_path, stick = unsettled
    clean = tmp_path / "clean"
    shutil.copytree(home_path, clean)
    _, clean_db = _settle(clean, stick, 5, monkeypatch)

    h, s, _ = _receipt_compact(home_path, stick)
    before = _dump(s)
    going = sorted(rid for _, rid in prune.plan(s, now=NOW).records)
    calls = {"n": 0}
    real = prune._Needs.needed

    def dies_late(self: Any, *args: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 403:  # inside a page of 5 records, well past the first ones
            raise RuntimeError("power cut")
        return real(self, *args)

    monkeypatch.setattr(prune._Needs, "needed", dies_late)
    with pytest.raises(RuntimeError):
        prune.prune(h, s, now=NOW)
    assert not s.conn.in_transaction  # the failing page was rolled back at once
    after = _dump(s)
    left = {r[1] for r in after["records"] if r[0] == "hh"}
    pruned = [rid for rid in going if rid not in left]
    # the pages before the failure, whole pages of 5 records, in rid order
    assert 0 < len(pruned) < len(going) and len(pruned) % 5 == 0
    assert pruned == going[:len(pruned)]

    def changes_of(db: dict[str, list[Any]], rids: set[str]) -> list[Any]:
        return [c for c in db["changes"] if c[2] == "hh" and c[3] in rids]

    # every record still here is untouched; every pruned one lost its values, but for
    # the 'late' ones, which b has not confirmed (kept for b)
    assert changes_of(after, left) == changes_of(before, left)
    late = {rid for rid in pruned if rid.startswith("late")}
    assert late and all(c[6] for c in changes_of(after, late))
    assert all(c[6] == b"" for c in changes_of(after, set(pruned) - late))
    assert len(changes_of(after, set(pruned))) >= len(pruned)
    monkeypatch.setattr(prune._Needs, "needed", real)
    again = prune.prune(h, s, now=NOW)
    assert again["records"] == len(going) - len(pruned)
    assert _dump(s) == clean_db
    s.close()


@pytest.mark.parametrize("damage", ["missing", "altered"])
def test_a_receipt_whose_root_does_not_match_the_store_deletes_nothing(
        unsettled: tuple[Path, Path], damage: str) -> None:
    """The streamed root check still refuses a receipt over a change this device lacks
    (a gap in the middle of a covered range) or holds with another hash."""
    home_path, stick = unsettled
    h = home_mod.load(home_path)
    s = h.open_store()
    try:
        (n,) = s.conn.execute("SELECT counter FROM changes WHERE origin=? ORDER BY counter "
                              "LIMIT 1 OFFSET 700", (h.device_id,)).fetchone()
        with s.transaction():
            if damage == "missing":
                s.conn.execute("DELETE FROM changes WHERE origin=? AND counter=?",
                               (h.device_id, n))
            else:
                s.conn.execute("UPDATE changes SET hash=? WHERE origin=? AND counter=?",
                               (b"\x07" * 32, h.device_id, n))
        got = receipts.import_receipts(h, s, Drive(stick))
        assert got["receipts"] == 0
        reason = {"missing": "not-held", "altered": "root-mismatch"}[damage]
        assert [r["reason"] for r in got["rejected"]] == [reason]
        if damage == "missing":
            assert f":{n}," in got["rejected"][0]["error"]  # names the first gap
        assert receipts.covered_ranges(s) == {} and receipts.status(s) == []
        prune.set_retention(s, "hh", "after-receipt")
        res = prune.prune(h, s, now=NOW)
        assert res["records"] == 0 and res["not_delivered"] > 1000
    finally:
        s.close()


def test_a_crash_between_folded_pages_keeps_relayed_changes_provable(
        unsettled: tuple[Path, Path], tmp_path: Path, make_device,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Compaction folds stubs a page at a time, with the segment hashes that stand for
    them: stopped half-way, the relayed changes left still travel with valid proofs to
    a new peer, and a re-run ends in the store of an uninterrupted run."""
    from sneakersync.store import peers
    from sneakersync.sync.engine import ImportReport, build_export, import_packet

    home_path, stick = unsettled
    clean = tmp_path / "clean"
    shutil.copytree(home_path, clean)
    _, clean_db = _settle(clean, stick, 3, monkeypatch)

    h, s, _ = _receipt_compact(home_path, stick)
    calls = {"n": 0}
    real = compact._fold_segments

    def dies(*args: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("power cut")
        real(*args)

    monkeypatch.setattr(compact, "_fold_segments", dies)
    with pytest.raises(RuntimeError):
        prune.prune(h, s, now=NOW)
    assert not s.conn.in_transaction
    b_id = next(o for (o,) in s.conn.execute("SELECT DISTINCT origin FROM changes")
                if o != h.device_id)
    stubs = s.conn.execute("SELECT COUNT(*) FROM changes WHERE origin=? AND raw=x''",
                           (b_id,)).fetchone()[0]
    assert stubs == 60 - 4 * 3  # four pages of b's stubs folded away, the rest still there
    monkeypatch.setattr(compact, "_fold_segments", real)
    s.close()

    # a copy of the half-folded store relays b's remaining changes to a new peer
    half = tmp_path / "half"
    shutil.copytree(home_path, half)
    ha = home_mod.load(half)
    sa = ha.open_store()
    c = make_device("devc", seed=9)
    peers.add(sa, c.home.card.encode())
    peers.add(c.store, ha.card.encode())
    peers.add(c.store, home_mod.load(tmp_path / "dev1").card.encode())  # b, the origin
    out = build_export(ha, sa, [peers.by_id(sa, c.id)], full=True)
    rep = ImportReport()
    import_packet(c.home, c.store, out.data, rep)
    assert not rep.rejected and not rep.quarantined, rep.as_json()
    assert {rid for rid, _ in c.store.rows("notes")} >= {f"n{i}" for i in range(20)}
    sa.close()

    s = h.open_store()
    prune.prune(h, s, now=NOW)
    assert _dump(s) == clean_db
    s.close()
