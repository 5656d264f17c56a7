"""Share rules: honoured by export (one packet per visibility group) and by relays."""

from __future__ import annotations

from pathlib import Path

from sneakersync.store import peers
from sneakersync.sync import selection
from sneakersync.media.drive import export_to_drive, import_from_drive
from sneakersync.sync.engine import ImportReport, build_export, import_packet, peer_knowledge

from conftest import befriend


def rule(dev, coll: str, mode: str, names=(), where=None) -> None:
    selection.set_rule(dev.store, coll, mode, [peers.by_id(dev.store, n.id) for n in names],
                       where)


def ids(dev, coll: str) -> set[str]:
    return {rid for rid, _ in dev.store.rows(coll)}


def sync_via(src, dsts, drive: Path, names=None) -> dict:
    drive.mkdir(exist_ok=True)
    for p in drive.glob("**/*.pkt"):
        p.unlink()
    res = export_to_drive(src.home, src.store, drive, names or [d.home.name for d in dsts])
    for d in dsts:
        import_from_drive(d.home, d.store, drive)
    return res


def test_rules_evaluate_as_documented() -> None:
    R, r = selection.Rules, selection.Rule
    rules = R({"sec": {"B": r(True)}, "pub": {"*": r(True), "C": r(False)},
               "hh": {"*": r(True, "district", "north")}})
    assert rules.rule("B", "other") is None  # no rule: shared
    assert rules.rule("B", "sec").allow and not rules.rule("C", "sec").allow
    assert rules.rule("B", "pub").allow and not rules.rule("C", "pub").allow
    sel = rules.selector()
    assert sel is not None
    raw = b'{"c":1,"d":{"district":"north"},"i":"1","k":"hh","o":"x","op":"put","t":0,"v":{}}'
    other = raw.replace(b"north", b"south")
    gone = b'{"c":2,"d":null,"i":"1","k":"hh","o":"x","op":"del","t":0,"v":{}}'

    class P:
        device_id = "B"
    assert sel(P(), "hh", raw) and not sel(P(), "hh", other) and sel(P(), "hh", gone)
    typed = selection.Rule(True, "n", "120")
    assert selection.record_matches(typed, b'{"d":{"n":120}}')
    assert selection.record_matches(typed, b'{"d":{"n":"120"}}')
    assert not selection.record_matches(selection.Rule(True, "f", "true"), b'{"d":{"f":1}}')


def test_export_splits_by_visibility_and_bookkeeping_follows(make_device, tmp_path) -> None:
    a, b, c = (make_device(n, s) for n, s in (("a", 1), ("b", 2), ("c", 3)))
    befriend(a, b, c)
    drive = tmp_path / "usb"
    a.store.put("pub", {"x": 1}, "p1")
    a.store.put("sec", {"x": 2}, "s1")
    rule(a, "sec", "with", [b])
    res = sync_via(a, [b, c], drive)
    assert res["packets"] == 2 and len(res["files"]) == 2 and len(res["written"]) == 2
    assert sorted(w["recipients"] for w in res["written"]) == [["b"], ["c"]]
    assert ids(b, "sec") == {"s1"} and ids(c, "sec") == set() and ids(c, "pub") == {"p1"}
    # not sent, so not recorded as sent: a later rule change makes it flow
    sent_c = peer_knowledge(a.store, c.id)[a.id]
    assert sent_c == [[1, 1]]  # p1 only (s1 is counter 2)
    assert sync_via(a, [b, c], drive)["packets"] == 0
    rule(a, "sec", "all")
    res = sync_via(a, [b, c], drive)
    assert res["packets"] == 1 and res["changes"] == 1  # same rules again: one packet
    assert ids(c, "sec") == {"s1"}


def test_one_packet_for_several_recipients_carries_only_what_all_may_see(make_device) -> None:
    a, b, c = (make_device(n, s) for n, s in (("a", 1), ("b", 2), ("c", 3)))
    befriend(a, b, c)
    a.store.put("pub", {"x": 1}, "p1")
    a.store.put("sec", {"x": 2}, "s1")
    rule(a, "sec", "except", [c])
    out = build_export(a.home, a.store, peers.all_peers(a.store))
    assert out is not None and out.changes == 1
    assert out.sent == {b.id: {a.id: [[1, 1]]}, c.id: {a.id: [[1, 1]]}}
    for d in (b, c):
        rep = ImportReport()
        import_packet(d.home, d.store, out.data, rep)
        assert ids(d, "sec") == set()


def test_relay_never_forwards_a_collection_not_shared_with_the_target(make_device,
                                                                       tmp_path) -> None:
    a, b, c = (make_device(n, s) for n, s in (("a", 1), ("b", 2), ("c", 3)))
    befriend(a, b, c)
    drive = tmp_path / "usb"
    a.store.put("sec", {"x": 1}, "s1")
    a.store.put("pub", {"x": 2}, "p1")
    sync_via(a, [b], drive)  # a gives both to b only
    assert ids(b, "sec") == {"s1"}
    rule(b, "sec", "except", [c])
    b.store.put("pub", {"x": 3}, "p2")
    res = sync_via(b, [c], drive)
    assert res["packets"] == 1
    assert ids(c, "pub") == {"p1", "p2"} and ids(c, "sec") == set()
    # c asks again and again: still nothing of sec, ever
    assert sync_via(b, [c], drive)["packets"] == 0


def test_where_filter(make_device, tmp_path) -> None:
    a, b = make_device("a", 1), make_device("b", 2)
    befriend(a, b)
    rule(a, "hh", "all", where="district=north")
    a.store.put("hh", {"district": "north"}, "n1")
    a.store.put("hh", {"district": "south"}, "s1")
    a.store.put("hh", {"district": "north"}, "n2")
    drive = tmp_path / "usb"
    sync_via(a, [b], drive)
    assert ids(b, "hh") == {"n1", "n2"}
    a.store.delete("hh", "n1")
    sync_via(a, [b], drive)
    assert ids(b, "hh") == {"n2"}


def test_with_only_rule_still_delivers_to_the_destination_server(make_device) -> None:
    from sneakersync.store import home as home_mod
    from sneakersync.store import peers as peers_mod
    from sneakersync.wire.identity import KIND_SERVER
    from sneakersync.sync.selection import set_rule
    from sneakersync.sync.engine import build_exports
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    srv = home_mod.create(a.home.path.parent / "srv", "District server", kind=KIND_SERVER)
    peers_mod.add(a.store, srv.card.encode())
    a.store.put("households", {"size": 4}, "h1")
    set_rule(a.store, "households", "with", [peers_mod.by_id(a.store, b.id)])
    outs = build_exports(a.home, a.store, peers_mod.all_peers(a.store))
    got = {p.name: o.changes for o in outs for p in o.recipients}
    assert got.get("District server") == 1 and got.get(b.home.name) == 1
    set_rule(a.store, "households", "except", [peers_mod.by_id(a.store, srv.device_id)])
    outs = build_exports(a.home, a.store, [peers_mod.by_id(a.store, srv.device_id)], full=True)
    assert all(o.changes == 0 for o in outs)
