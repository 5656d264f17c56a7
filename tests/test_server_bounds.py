"""What one packet may cost a server: at most MAX_INGEST_CHANGES changes and
MAX_PACKET_BODY bytes of body (formats/server-http-v1.md §2.1).

A device splits large exports (formats/packet-v1.md, "Split exports"), but a hostile
or old sender may not: these tests hand-make such packets, signed by an enrolled
device, and check the server refuses them by its documented bounds without paying
for what they carry (peak Python allocations measured with tracemalloc).
"""

from __future__ import annotations

import base64
import random
import tracemalloc
from pathlib import Path
from typing import Any

from sneakersync.server.ingest import MAX_INGEST_CHANGES, MAX_PACKET_BODY, ingest_packet
from sneakersync.sync.engine import MAX_PACKET_CHANGES, build_exports
from sneakersync.store import peers
from sneakersync.wire import body as body_mod
from sneakersync.wire import merkle, packet

from server_support import setup


def _packet(dev: Any, srv: Any, n: int, data_json: str = '{"v":1}') -> bytes:
    """One packet of ``n`` valid changes of ``dev``, one segment, signed and sealed for the
    server: what a sender that does not split would write."""
    lines = [body_mod.change_line(c, data_json, f"r{c}", "c", dev.id, "put", 1000 + c, "{}")
             for c in range(1, n + 1)]
    root = merkle.root([merkle.leaf_hash(x) for x in lines])
    seg = body_mod.Segment(dev.id, 1, n, root,
                           body_mod.sign_segment(dev.home.keys.sign_secret, dev.id, 1, n, root),
                           [], lines)
    b = body_mod.Body(sender=dev.id, created=1, to=[srv.id], manifest={dev.id: [[1, n]]},
                      origins={dev.id: dev.home.card.encode()}, segments=[seg])
    return packet.seal(dev.home.keys, [srv.home.keys.enc_public], body_mod.encode(b))


def _ingest_peak(srv: Any, data: bytes) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        o = ingest_packet(srv.home, srv.sstore, data)
        return o, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_limits_are_what_the_writer_stays_within() -> None:
    assert MAX_INGEST_CHANGES == MAX_PACKET_CHANGES == 10_000
    assert MAX_PACKET_BODY == 32 << 20


def test_packet_of_100k_changes_is_refused_before_its_changes_are_parsed(
        tmp_path: Path, make_device: Any) -> None:
    srv, (a,), _ = setup(tmp_path, make_device, n=1)
    data = _packet(a, srv, 100_001)
    body_len = len(body_mod.encode(body_mod.decode(
        packet.open_packet(data, srv.home.keys.enc_secret, accept_sender=lambda k: None).body)))
    assert body_len < MAX_PACKET_BODY  # small changes: only the change count refuses it
    o, peak = _ingest_peak(srv, data)
    assert o.status == "rejected" and o.layer == "body", o
    assert "100001 changes" in o.error and f"at most {MAX_INGEST_CHANGES}" in o.error
    assert srv.sstore.totals()["changes"] == 0 and srv.sstore.totals()["rejected"] == 1
    # the decompressed body and its meta line, not 100k parsed changes (hundreds of MB)
    assert peak < 2 * body_len + (4 << 20), (peak, body_len)


def test_body_over_the_byte_limit_is_refused_before_decompression(
        tmp_path: Path, make_device: Any) -> None:
    srv, (a,), _ = setup(tmp_path, make_device, n=1)
    # one change of random text (an honest compression ratio) just over the limit
    text = base64.b64encode(random.Random(7).randbytes(MAX_PACKET_BODY * 3 // 4)).decode()
    data = _packet(a, srv, 1, '{"t":"' + text + '"}')
    o, peak = _ingest_peak(srv, data)
    assert o.status == "rejected" and o.layer == "body", o
    assert f"exceeds the limit of {MAX_PACKET_BODY}" in o.error
    # decrypted, never decompressed (that alone would hold MAX_PACKET_BODY more bytes)
    assert peak < 2 * len(data) + (16 << 20), (peak, len(data))
    assert srv.sstore.totals()["changes"] == 0


def test_split_export_parts_are_taken(tmp_path: Path, make_device: Any) -> None:
    """The writer's parts sit at the change limit, and the server stores each."""
    srv, (a,), _ = setup(tmp_path, make_device, n=1)
    a.store.write_many("c", [(f"r{i}", {"i": i}) for i in range(MAX_PACKET_CHANGES + 5)])
    dest = peers.by_id(a.store, srv.id)
    outs = build_exports(a.home, a.store, [dest])
    assert [o.changes for o in outs] == [MAX_PACKET_CHANGES, 5]
    got = [ingest_packet(srv.home, srv.sstore, o.data) for o in outs]
    assert [(o.status, o.changes) for o in got] == [("stored", MAX_PACKET_CHANGES), ("stored", 5)]


def test_parts_are_bounded_by_body_size_too(tmp_path: Path, make_device: Any) -> None:
    """Large records: a part whose body is over ``max_body`` is halved until it fits (or
    holds one change), so every part stays within what the server takes."""
    srv, (a,), _ = setup(tmp_path, make_device, n=1)
    a.store.write_many("c", [(f"r{i}", {"t": "x" * 20_000}) for i in range(30)])
    dest = peers.by_id(a.store, srv.id)
    outs = build_exports(a.home, a.store, [dest], max_body=100_000)
    assert [o.changes for o in outs] == [4, 4, 4, 3, 4, 4, 4, 3]
    assert all(o.body_len <= 100_000 for o in outs)
    got = [ingest_packet(srv.home, srv.sstore, o.data) for o in outs]
    assert all(o.status == "stored" for o in got) and srv.sstore.totals()["changes"] == 30


def test_records_beyond_the_body_limit_in_all_go_in_parts_the_server_takes(
        tmp_path: Path, make_device: Any) -> None:
    """Three 12 MiB records (36 MiB of change lines, past the server's 32 MiB body):
    the default bound on a part's body puts them in packets the server stores."""
    srv, (a,), _ = setup(tmp_path, make_device, n=1)
    rnd = random.Random(3)
    a.store.write_many("c", [(f"r{i}", {"t": base64.b64encode(rnd.randbytes(9 << 20)).decode()})
                             for i in range(3)])
    outs = build_exports(a.home, a.store, [peers.by_id(a.store, srv.id)])
    assert sorted(o.changes for o in outs) == [1, 2] and max(o.body_len for o in outs) \
        <= MAX_PACKET_BODY
    got = [ingest_packet(srv.home, srv.sstore, o.data) for o in outs]
    assert [o.status for o in got] == ["stored"] * 2
