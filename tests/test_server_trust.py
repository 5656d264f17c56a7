"""Attacks on the server through a stick (issue #12, server side): each one performed.

A stranger (a throw-away identity), a courier planting files, a revoked device, a
second "server" card: each test does what the attacker would, on a real stick
folder, and checks the attack is refused and nothing is lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sneakersync.cli.main import main
from sneakersync.server import enroll as enroll_mod
from sneakersync.server.ingest import ingest_packet, release
from sneakersync.server.setup import use_server
from sneakersync.store import peers
from sneakersync.store.revocations import revoke_peer
from sneakersync.sync import receipts
from sneakersync.sync.prune import prune, set_retention

from server_support import Server, export, import_, setup
from trust_support import forged_packet, plant

BIG = (1 << 53) - 1


pytestmark = pytest.mark.usefixtures("server_backend")  # each test on SQLite and PostgreSQL


def _record(srv: Server, coll: str, rid: str) -> dict | None:
    got = [r for r in srv.sstore.records(coll) if r["id"] == rid]
    return got[0]["data"] if got else None


def test_stranger_poisoned_version_on_stick_is_held_and_nothing_is_lost(
        tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.put("households", {"head": "Amina", "size": 4}, "h1")
    export(a, stick)
    # a stranger plants a change claiming to descend from every edit the victim will ever make
    stranger = make_device("stranger", seed=66)
    poison = forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                           [("households", "h1", {"head": "X"}, {a.id: BIG})])
    # and a concurrent edit that would leave an open conflict (export exit 7)
    conflict = forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                             [("households", "h1", {"head": "Y"}, {})], first=2)
    plant(stick, poison)
    plant(stick, conflict)
    rep = srv.ingest(stick)
    assert rep["stored"] == 1 and rep["held"] == 2 and rep["rejected"] == []
    assert rep["held_signers"] == [enroll_mod.signer_text(stranger.home.keys.sign_public)]
    assert _record(srv, "households", "h1") == {"head": "Amina", "size": 4}
    assert srv.sstore.open_conflicts(None) == []
    # the victim edits again; the edit is stored, its receipt covers it, prune is right
    a.store.put("households", {"head": "Amina", "size": 5}, "h1")
    export(a, stick)
    assert srv.ingest(stick)["stored"] == 1
    assert _record(srv, "households", "h1") == {"head": "Amina", "size": 5}
    assert import_(a, stick).receipts == 1
    set_retention(a.store, "households", "after-receipt")
    assert prune(a.home, a.store)["records"] == 1  # the server holds exactly this version
    # the held packets stay held (not even re-opened) however often the stick comes back
    again = srv.ingest(stick)
    assert again["held"] == 2 and again["stored"] == 0
    assert len(list((srv.home.quarantine_dir).glob("*.pkt"))) == 2


def test_reject_drops_held_copies_and_the_stick_does_not_refill_them(
        tmp_path: Path, make_device) -> None:
    srv, (a, _b), stick = setup(tmp_path, make_device)
    stranger = make_device("stranger", seed=66)
    plant(stick, forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                               [("c", "r1", {"x": 1}, {})]))
    srv.ingest(stick)
    [held] = enroll_mod.held(srv.sstore)
    assert held["packets"] == 1 and held["device"] is None
    res = enroll_mod.reject(srv.home, srv.sstore, held["short"])
    assert res["refused"] == 1 and not list(srv.home.quarantine_dir.glob("*.pkt"))
    rep = srv.ingest(stick)
    assert rep["held"] == 0 and rep["rejected"][0]["layer"] == "untrusted"
    assert enroll_mod.held(srv.sstore) == [] and srv.sstore.totals()["changes"] == 0


def test_enrolling_releases_held_packets_and_forgets_refusals(tmp_path: Path,
                                                              make_device) -> None:
    srv, (a, _b), stick = setup(tmp_path, make_device)
    late = make_device("late", seed=31)
    use_server(late.store, srv.home.card.encode())
    late.store.put("c", {"x": 1}, "r1")
    export(late, stick)
    assert srv.ingest(stick)["held"] == 1
    signer = enroll_mod.signer_text(late.home.keys.sign_public)
    enroll_mod.reject(srv.home, srv.sstore, signer[:16])  # by mistake
    srv.enroll(late)
    assert enroll_mod.forget_refusals(srv.sstore, signer) == 1
    rep = srv.ingest(stick)
    assert rep["stored"] == 1 and _record(srv, "c", "r1") == {"x": 1}
    assert import_(late, stick).receipts == 1


def test_accept_once_stores_but_the_strangers_revocation_counts_for_nothing(
        tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    stranger = make_device("stranger", seed=66)
    peers.add(stranger.store, b.home.card.encode())
    statement = revoke_peer(stranger.home, stranger.store, peers.by_id(stranger.store, b.id),
                            last=0)
    plant(stick, forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                               [("c", "s1", {"from": "stranger"}, {})],
                               extra={"revocations": [statement.to_json()]}))
    srv.ingest(stick)
    rep = release(srv.home, srv.sstore, enroll_mod.signer_text(stranger.home.keys.sign_public),
                  once=True).as_json()
    assert rep["stored"] == 1 and _record(srv, "c", "s1") == {"from": "stranger"}
    assert not peers.by_id(srv.core, b.id).revoked
    assert peers.by_id(srv.core, stranger.id) is None
    b.store.put("c", {"from": "b"}, "b1")
    export(b, stick)
    assert srv.ingest(stick)["stored"] == 1 and _record(srv, "c", "b1") == {"from": "b"}
    # its next packet is held again
    plant(stick, forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                               [("c", "s2", {"from": "stranger"}, {})], first=2))
    assert srv.ingest(stick)["held"] == 1


def test_held_space_is_bounded_per_signer(tmp_path: Path, make_device, monkeypatch) -> None:
    monkeypatch.setattr(enroll_mod, "MAX_HELD_PER_SIGNER", 3)
    srv, _devs, stick = setup(tmp_path, make_device)
    stranger = make_device("stranger", seed=66)
    for i in range(5):
        plant(stick, forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                                   [("c", f"r{i}", {"i": i}, {})], first=i + 1))
    rep = srv.ingest(stick)
    assert rep["held"] == 3 and len(rep["rejected"]) == 2
    assert all(r["layer"] == "untrusted" and "not held" in r["error"] for r in rep["rejected"])
    assert len(list(srv.home.quarantine_dir.glob("*.pkt"))) == 3


def test_held_space_is_bounded_in_bytes(tmp_path: Path, make_device, monkeypatch) -> None:
    srv, _devs, stick = setup(tmp_path, make_device)
    stranger = make_device("stranger", seed=66)
    data = forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                         [("c", "r", {"i": 1}, {})])
    monkeypatch.setitem(enroll_mod.MAX_HELD_BYTES, "drive", len(data) - 1)
    o = ingest_packet(srv.home, srv.sstore, data, via="drive")
    assert o.status == "rejected" and "full" in (o.error or "")
    assert enroll_mod.held(srv.sstore) == []


def test_relayed_changes_of_an_unenrolled_origin_are_not_stored(tmp_path: Path,
                                                                make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    stranger = make_device("stranger", seed=66)
    peers.add(a.store, stranger.home.card.encode())  # a trusts it; the server does not
    peers.add(stranger.store, a.home.card.encode())
    stranger.store.put("c", {"from": "stranger"}, "s1")
    data = forged_packet(stranger.home, [a.home.keys.enc_public], [a.id],
                         [("c", "s1", {"from": "stranger"}, {})])
    from conftest import recv
    assert recv(a, data).imported == 1
    a.store.put("c", {"from": "a"}, "a1")
    export(a, stick, [srv.home.name])
    rep = srv.ingest(stick)
    assert rep["stored"] == 1 and rep["changes_stored"] == 1 and rep["changes_not_enrolled"] == 1
    assert _record(srv, "c", "a1") == {"from": "a"} and _record(srv, "c", "s1") is None


def test_server_honours_team_revocations(tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    b.store.put("c", {"v": 1}, "b1")
    export(b, stick, [srv.home.name, a.home.name])
    import_(a, stick)
    assert srv.ingest(stick)["stored"] == 1
    # b is stolen; a revokes it, and the statement reaches the server in a's next packet
    revoke_peer(a.home, a.store, peers.by_id(a.store, b.id))
    a.store.put("c", {"v": "a"}, "a1")
    export(a, stick, [srv.home.name])
    assert srv.ingest(stick)["stored"] == 1
    assert peers.by_id(srv.core, b.id).revoked
    # the thief keeps writing with b's key: refused, and nothing of it is stored or exported
    b.store.put("c", {"v": "thief"}, "b1")
    b.store.put("c", {"v": "thief"}, "b2")
    export(b, stick, [srv.home.name])
    rep = srv.ingest(stick)
    assert rep["stored"] == 0 and [r["layer"] for r in rep["rejected"]] == ["revoked"]
    assert _record(srv, "c", "b1") == {"v": 1} and _record(srv, "c", "b2") is None
    with pytest.raises(Exception, match="revoked"):
        srv.enroll(b)


def test_revoked_changes_relayed_by_an_honest_device_stop_at_the_limit(
        tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    b.store.put("c", {"v": 1}, "b1")
    export(b, stick, [a.home.name])
    import_(a, stick)
    revoke_peer(srv.home, srv.core, peers.by_id(srv.core, b.id), last=0)  # the admin revokes
    export(a, stick, [srv.home.name])
    rep = srv.ingest(stick)
    assert rep["stored"] == 1 and _record(srv, "c", "b1") is None


def test_only_the_destination_servers_receipts_count(tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.put("c", {"v": 1}, "r1")
    # a second server card, added as an ordinary peer, receives the data and answers
    rogue = Server(tmp_path / "rogue", seed=5)
    rogue.enroll(a)
    peers.add(a.store, rogue.home.card.encode(), "Rogue server")
    export(a, stick, ["Rogue server"])
    assert rogue.ingest(stick)["stored"] == 1
    got = import_(a, stick)
    assert got.receipts == 0
    assert got.receipt_detail["rejected"][0]["reason"] == "foreign-server"
    set_retention(a.store, "c", "after-receipt")
    assert prune(a.home, a.store)["records"] == 0
    assert a.store.get("c", "r1") is not None
    assert [s.device_id for s in receipts.servers(a.store)] == [srv.id]
    rogue.close()


def run(capsys, home: Path, *args: str, code: int = 0) -> str:
    capsys.readouterr()
    try:
        main(["--home", str(home), *args])
        got = 0
    except SystemExit as exc:
        got = int(exc.code or 0)
    out = capsys.readouterr()
    assert got == code, out.err
    return out.out if code == 0 else out.err


def test_cli_held_accept_reject_errors(tmp_path: Path, make_device, capsys) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    srv.close()
    home = srv.home.path
    assert "nothing held" in run(capsys, home, "server", "held")
    err = run(capsys, home, "server", "accept", "zz", code=2)
    assert err.startswith("sneakersync: error: ") and "Traceback" not in err
    err = run(capsys, home, "server", "reject", "0123456789abcdef", code=3)
    assert "no held packets" in err
    # a server card cannot be enrolled as a device
    other = Server(tmp_path / "other", seed=4)
    err = run(capsys, home, "server", "enroll", other.home.card.encode(), code=2)
    assert "belongs to a server" in err
    other.close()
    # a device home refuses server commands
    assert "not a server" in run(capsys, a.home.path, "server", "held", code=2)
    stranger = make_device("stranger", seed=66)
    plant(stick, forged_packet(stranger.home, [srv.home.keys.enc_public], [srv.id],
                               [("c", "r1", {"x": 1}, {})]))
    run(capsys, home, "server", "ingest", str(stick))
    [held] = json.loads(run(capsys, home, "server", "held", "--json"))
    out = json.loads(run(capsys, home, "server", "accept", held["short"], "--json"))
    assert out["stored"] == 1
    # the coordinator revokes a lost device: its next stick delivery is refused
    run(capsys, home, "server", "revoke", a.home.name)
    devices = {d["name"]: d for d in json.loads(run(capsys, home, "server", "devices", "--json"))}
    assert devices[a.home.name]["revoked"] and not devices[b.home.name]["revoked"]
    a.store.put("c", {"x": "after"}, "late")
    export(a, stick)
    err = run(capsys, home, "server", "ingest", str(stick), code=1)
    assert "rejected:" in err and ": revoked: " in err and "Traceback" not in err
    err = run(capsys, home, "server", "enroll", a.home.card.encode(), code=2)
    assert "revoked" in err and "Traceback" not in err


def test_released_stranger_gets_no_trust_and_cannot_revoke_honest_peers(
        tmp_path: Path, capsys) -> None:
    me, honest, stranger = tmp_path / "me", tmp_path / "honest", tmp_path / "stranger"
    usb = tmp_path / "usb"
    usb.mkdir()
    for h, name in ((me, "Me"), (honest, "Honest"), (stranger, "Stranger")):
        run(capsys, h, "init", "--name", name)
    card = {h: json.loads(run(capsys, h, "whoami", "--json"))["card"]
            for h in (me, honest, stranger)}
    run(capsys, me, "peer", "add", card[honest])
    run(capsys, honest, "peer", "add", card[me])
    # the stranger knows both cards, "revokes" the honest peer and sends me a record
    run(capsys, stranger, "peer", "add", card[me])
    run(capsys, stranger, "peer", "add", card[honest])
    run(capsys, stranger, "peer", "revoke", "Honest", "--last-counter", "0", "--yes")
    run(capsys, stranger, "put", "hh", '{"x": 1}', "--id", "s1")
    run(capsys, stranger, "export", str(usb), "--to", "Me")
    rep = json.loads(run(capsys, me, "import", str(usb), "--json"))
    assert rep["quarantined"] == 1
    sender = json.loads(run(capsys, me, "quarantine", "--json"))[0]["sender"]
    out = run(capsys, me, "quarantine", "accept", sender, "--add-peer")
    assert "in quarantine" in out
    assert json.loads(run(capsys, me, "get", "hh", "s1", "--json"))["data"] == {"x": 1}
    listed = {p["name"]: p for p in json.loads(run(capsys, me, "peer", "list", "--json"))}
    assert listed["Stranger"]["trust"] == "quarantine" and not listed["Honest"]["revoked"]
    assert json.loads(run(capsys, me, "peer", "revocations", "--json")) == []
    # the honest peer's next packet still applies; the stranger's next one is held again
    run(capsys, honest, "put", "hh", '{"y": 2}', "--id", "h1")
    run(capsys, honest, "export", str(usb), "--to", "Me")
    run(capsys, stranger, "put", "hh", '{"x": 2}', "--id", "s2")
    run(capsys, stranger, "export", str(usb), "--to", "Me")
    rep = json.loads(run(capsys, me, "import", str(usb), "--json"))
    assert rep["imported"] == 1 and rep["quarantined"] == 1 and rep["rejected"] == []
    assert json.loads(run(capsys, me, "get", "hh", "h1", "--json"))["data"] == {"y": 2}


def test_enrolled_in_quarantine_is_held_until_trusted(tmp_path: Path, make_device) -> None:
    srv, (a, _b), stick = setup(tmp_path, make_device)
    newcomer = make_device("newcomer", seed=41)
    use_server(newcomer.store, srv.home.card.encode())
    p = srv.enroll(newcomer, quarantine=True)
    assert p.trust == "quarantine"
    newcomer.store.put("c", {"x": 1}, "n1")
    export(newcomer, stick)
    rep = srv.ingest(stick)
    assert rep["held"] == 1 and _record(srv, "c", "n1") is None
    [held] = enroll_mod.held(srv.sstore)
    assert held["device"] == "newcomer" and "quarantine" in held["reason"]
    # enrolling again without --quarantine trusts it; the held packet is then stored
    assert srv.enroll(newcomer).trust == "trusted"
    got = release(srv.home, srv.sstore, enroll_mod.signer_text(p.sign_pub)).as_json()
    assert got["stored"] == 1 and _record(srv, "c", "n1") == {"x": 1}
    assert enroll_mod.held(srv.sstore) == [] and not list(srv.home.quarantine_dir.glob("*"))
