"""Revocation: the statement codec and vectors, local revoke, and learning it via packets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sneakersync.store import peers
from sneakersync.wire import revocation as rv
from sneakersync.store import revocations as revocation_store
from sneakersync.errors import AuthError
from sneakersync.wire.identity import decode_card
from sneakersync.sync.engine import build_export

from conftest import REPO, befriend

VECTORS = sorted((REPO / "formats" / "vectors" / "revocation").glob("*.json"))


from conftest import recv, send


def ids(dev, coll: str = "visits") -> set[str]:
    return {rid for rid, _ in dev.store.rows(coll)}


# --- codec ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_vectors(path: Path) -> None:
    v = json.loads(path.read_text())
    revoker = decode_card(v["revoker_card"])
    expect = v["expect"]
    if expect == "body":
        with pytest.raises(rv.RevocationError):
            rv.from_json(v["statement"])
        return
    r = rv.from_json(v["statement"])
    if expect == "ignored":
        assert r is None
        return
    assert r is not None and r.to_json() == v["statement"]
    if expect == "auth":
        with pytest.raises(AuthError):
            rv.verify(r, revoker.sign_public)
        return
    assert expect == "ok"
    assert rv.message(r.revoker, r.revoked_card, r.last, r.at, r.root).hex() == v["message_hex"]
    rv.verify(r, revoker.sign_public)


def test_vectors_cover_every_outcome() -> None:
    assert {json.loads(p.read_text())["expect"] for p in VECTORS} == {
        "ok", "auth", "body", "ignored"}


def test_decode_list_rejects_garbage() -> None:
    for bad in ("x", [1], [{"type": "other"}], {"a": 1}):
        with pytest.raises(rv.RevocationError):
            rv.decode_list(bad)
    assert rv.decode_list(None) == []


# --- on devices -----------------------------------------------------------------------

def test_revoked_peer_new_packets_rejected_old_data_kept(make_device) -> None:
    a, x = make_device("a", 1), make_device("x", 2)
    befriend(a, x)
    x.store.put("visits", {"n": 1}, "old")
    assert recv(a, send(x, [a]).data).changes_applied == 1
    r = revocation_store.revoke_peer(a.home, a.store, peers.by_id(a.store, x.id))
    assert r.last == 1 and peers.by_id(a.store, x.id).revoked
    x.store.put("visits", {"n": 2}, "new")
    rep = recv(a, send(x, [a]).data)
    assert rep.imported == 0 and "revoked" in rep.rejected[0]["error"]
    assert ids(a) == {"old"}
    with pytest.raises(Exception, match="revoked"):
        build_export(a.home, a.store, [peers.by_id(a.store, x.id)])


def test_revocation_travels_and_is_honoured_when_relayed(make_device) -> None:
    """a revokes x; b (who never knew x) learns it from a's packet and then refuses x's
    later changes relayed by c, who had not heard of the revocation."""
    a, x, c, b = (make_device(n, s) for n, s in (("a", 1), ("x", 2), ("c", 3), ("b", 4)))
    befriend(a, x, c)
    befriend(a, b)
    befriend(b, c)
    x.store.put("visits", {"n": 1}, "old")
    pk = send(x, [a, c]).data
    recv(a, pk)
    recv(c, pk)
    revocation_store.revoke_peer(a.home, a.store, peers.by_id(a.store, x.id))
    rep = recv(b, send(a, [b]).data)  # carries x's old change and the statement
    assert rep.revocations == 1 and ids(b) == {"old"}
    assert revocation_store.limit_for(b.store, x.id) == 1
    # the statement is sent once per peer: nothing new, no packet
    assert send(a, [b]) is None
    x.store.put("visits", {"n": 2}, "new")
    recv(c, send(x, [c]).data)
    assert ids(c) == {"old", "new"}  # c has not heard of it
    c.store.put("visits", {"n": 3}, "from-c")
    rep = recv(b, send(c, [b]).data)
    assert rep.imported == 1 and not rep.rejected
    assert ids(b) == {"old", "from-c"}  # x's later change refused, c's own applied
    # c learns it from b (b relays the statement it learned), then c refuses x directly
    rep = recv(c, send(b, [c]).data)
    assert rep.revocations == 1 and peers.by_id(c.store, x.id).revoked
    assert ids(c) == {"old", "new", "from-c"}  # old data stays
    x.store.put("visits", {"n": 4}, "newer")
    rep = recv(c, send(x, [c]).data)
    assert "revoked" in rep.rejected[0]["error"]


def test_statements_from_strangers_ignored_forgeries_rejected(make_device) -> None:
    a, b, x, s = (make_device(n, k) for n, k in (("a", 1), ("b", 2), ("x", 3), ("s", 4)))
    befriend(a, b)
    befriend(a, x)
    # a stranger's statement (s is nobody's peer) relayed by a: ignored by b
    stmt = rv.sign(s.home.keys, x.home.card, 0, 1)
    with a.store.transaction():
        revocation_store.remember(a.store, stmt)
    rep = recv(b, send(a, [b]).data)
    assert rep.imported == 1 and rep.revocations == 0
    assert revocation_store.limit_for(b.store, x.id) is None
    # a statement claiming to be a's but not signed by a: the packet is rejected
    forged = rv.Revocation(a.id, x.id, x.home.card.encode(), 0, 2, bytes(64))
    with a.store.transaction():
        revocation_store.remember(a.store, forged)
    a.store.put("visits", {"n": 1})
    rep = recv(b, send(a, [b]).data)
    assert rep.imported == 0 and rep.rejected and "auth" in rep.rejected[0]["error"]
    assert ids(b) == set()  # nothing partially applied


def test_stronger_statement_wins_in_any_order(make_device) -> None:
    a, x = make_device("a", 1), make_device("x", 2)
    s5 = rv.sign(a.home.keys, x.home.card, 5, 10, b"\x05" * 32)
    s3 = rv.sign(a.home.keys, x.home.card, 3, 20, b"\x03" * 32)
    with a.store.transaction():
        assert revocation_store.remember(a.store, s5)
        assert revocation_store.remember(a.store, s3)
        assert not revocation_store.remember(a.store, s5)
    assert revocation_store.limit_for(a.store, x.id) == 3
