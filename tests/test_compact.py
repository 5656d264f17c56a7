"""Compaction (sneakersync.sync.compact): old values erased, emptied rows folded into the
hash log, and every sync path (own segments, relays, re-imports) still works after it."""

from __future__ import annotations

from typing import Any

from sneakersync.sync.compact import compact, stable_ranges

from conftest import befriend, recv, send


def _rows(d: Any) -> int:
    return int(d.store.conn.execute("SELECT COUNT(*) FROM changes").fetchone()[0])


def _history(a: Any) -> None:
    a.store.write_many("hh", [(f"r{i}", {"i": i, "note": "x" * 50}) for i in range(20)])
    for round_ in range(3):
        a.store.write_many("hh", [(f"r{i}", {"i": i, "round": round_}) for i in range(20)])
    for i in range(5):
        a.store.delete("hh", f"r{i}")


def test_settled_history_is_erased_and_folded(make_device: Any) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b)
    befriend(b, c)
    _history(a)  # 20 records, 80 puts + 5 deletes: 15 live records
    first = send(a, [b])
    recv(b, first.data)
    assert compact(a.store)["values_erased"] == 0  # b has not confirmed anything yet
    b.store.put("hh", {"from": "b"}, "rb")
    recv(a, send(b, [a]).data)  # b's manifest: it holds all of a's changes
    before = a.store.snapshot()
    got = compact(a.store)
    # 65 superseded puts, and the 5 settled tombstones with their records rows
    assert got["values_erased"] == 70 and got["rows_folded"] == 70 and not got["blocked_by"]
    assert a.store.snapshot() == before
    # freed pages are given back (new stores use incremental auto-vacuum)
    assert a.store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert a.store.conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert _rows(a) == 15 + 1  # current versions + b's change
    assert a.store.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 16
    # no old value is left anywhere in the file's live pages
    dump = b"".join(bytes(r[0]) for r in a.store.conn.execute("SELECT raw FROM changes"))
    assert b'"round":0' not in dump and b'"note"' not in dump
    # a's own later edits still get signed segments b verifies (hashes come from the log)
    a.store.put("hh", {"i": 7, "round": 9}, "r7")
    rep = recv(b, send(a, [b]).data)
    assert not rep.rejected and rep.changes_applied == 1
    assert b.store.snapshot() == a.store.snapshot()
    # b compacts relayed changes (c has none yet: nothing a's is settled for b)
    assert compact(b.store)["values_erased"] == 0
    rep = recv(c, send(b, [c]).data)
    assert not rep.rejected and c.store.snapshot() == b.store.snapshot()


def test_relay_after_folding_keeps_origin_proofs(make_device: Any) -> None:
    a, b, c = make_device("a"), make_device("b"), make_device("c")
    befriend(a, b, c)
    _history(a)
    out = send(a, [b, c])
    recv(b, out.data)
    recv(c, out.data)
    recv(b, send(c, [b]).data) if send(c, [b]) else None
    c.store.put("hh", {"from": "c"}, "rc")
    recv(b, send(c, [b]).data)
    a.store.put("hh", {"late": True}, "r9")
    recv(b, send(a, [b]).data)
    recv(b, send(a, [b]).data) if send(a, [b]) else None
    # b: c confirmed all of a's first packet; a holds b's nothing; make a confirm via a packet
    b.store.put("hh", {"from": "b"}, "rbb")
    recv(a, send(b, [a]).data)
    recv(c, send(b, [c]).data)
    recv(b, send(a, [b]).data) if send(a, [b]) else None
    recv(b, send(c, [b]).data) if send(c, [b]) else None
    got = compact(b.store)
    assert got["values_erased"] > 0, got
    # b still proves a's latest change to c with a's original signature
    rep = recv(c, send(b, [c], full=True).data)
    assert not rep.rejected
    assert c.store.snapshot() == b.store.snapshot()


def test_a_peer_not_caught_up_blocks_erasure(make_device: Any) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    _history(a)
    recv(b, send(a, [b]).data)
    b.store.put("hh", {"from": "b"}, "rb")
    lost = send(b, [a])  # a never imports it: b claims a change a does not hold
    b.store.put("hh", {"from": "b2"}, "rb2")
    ack = send(b, [a])
    recv(a, ack.data)
    assert lost is not None
    got = compact(a.store)
    assert got["values_erased"] == 0 and got["blocked_by"] == ["b"]
    recv(a, lost.data)
    assert compact(a.store)["values_erased"] == 70


def test_compaction_is_idempotent_and_stable_ranges_read_only(make_device: Any) -> None:
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    _history(a)
    recv(b, send(a, [b]).data)
    b.store.put("hh", {"from": "b"}, "rb")
    recv(a, send(b, [a]).data)
    assert stable_ranges(a.store)[a.store.device_id] == [[1, 85]]
    compact(a.store)
    snap, rows = a.store.snapshot(), _rows(a)
    again = compact(a.store)
    assert again["values_erased"] == 0 and again["rows_folded"] == 0
    assert a.store.snapshot() == snap and _rows(a) == rows


def test_merkle_fold_and_blocks_stand_for_removed_leaves() -> None:
    import hashlib
    import random

    from sneakersync.wire import merkle

    rnd = random.Random(3)
    for n in [1, 2, 3, 5, 8, 13, 64, 100, 257]:
        leaves = [hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(n)]
        full = merkle._root(leaves, 0, n)  # the recursive RFC 6962 definition
        assert merkle.root(leaves) == full
        # a relay that keeps a third of the leaves still proves them against the signed root
        first = 7
        keep = sorted(rnd.sample(range(first, first + n), max(1, n // 3)))
        sub = merkle.subtree_from({first + i: h for i, h in enumerate(leaves)}, {})
        known = merkle.fold(first, first + n - 1, keep, sub)
        kept = {c: leaves[c - first] for c in keep}
        proof = merkle.prove(merkle.subtree_from(kept, known), first, first + n - 1, keep)
        assert merkle.verify_root(first, first + n - 1, kept, proof)[0] == full
        # block hashes of a prefix, plus the leaves after it, give the root of the whole
        for k in {1, n // 2, n}:
            if k:
                blocks = merkle.peaks(0, leaves[:k])
                assert merkle.subtree_from(dict(enumerate(leaves[k:], k)), blocks)(0, n) == full


def test_fast_long_number_prefilter_matches_the_regex() -> None:
    import random

    from sneakersync.wire import body

    rnd = random.Random(5)
    samples = [b'{"a":1e+300}', b'{"a":12345678901234567}', b'{"a":"E-123"}', b'{"a":1.5e-07}',
               b'{"a":123456789012345}', b'{"a":1E300}']
    samples += [bytes(rnd.choice(b"0123456789eE+-.a\x22") for _ in range(rnd.randint(0, 40)))
                for _ in range(20000)]
    for raw in samples:
        assert body._long_number(raw) == bool(body._LONG_NUMBER.search(raw)), raw
