from __future__ import annotations

import hashlib

from sneakersync.wire import envelope
from sneakersync.wire import packet
from sneakersync.store import peers
from sneakersync.wire import dictionary as zdict
from sneakersync.sync.engine import build_export

from conftest import REPO


def test_package_dictionary_is_the_specified_one() -> None:
    spec = (REPO / "formats" / "dicts" / "records-v1.zdict").read_bytes()
    assert zdict.builtin()[zdict.RECORDS_V1_ID] == spec
    assert hashlib.sha256(spec).hexdigest() in (REPO / "formats/dicts/README.md").read_text()


def test_small_packets_use_the_dictionary_and_shrink(make_device) -> None:
    from conftest import befriend
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("households", [(f"h{i}", {"head_of_household": f"Name {i}",
                                                 "household_size": i, "needs": ["water"]})
                                      for i in range(3)])
    pb = peers.by_id(a.store, b.id)
    with_dict = build_export(a.home, a.store, [pb], pad_to=0)
    plain = build_export(a.home, a.store, [pb], pad_to=0, dictionary=False)
    assert with_dict is not None and plain is not None
    assert len(with_dict.data) < len(plain.data)
    for data, flag in ((with_dict.data, envelope.FLAG_DICT), (plain.data, 0)):
        opened = packet.open_packet(data, b.home.keys.enc_secret, accept_sender=lambda k: None)
        assert opened.envelope.flags == flag
    # a reader without the dictionary refuses with a clear body error
    import pytest
    from sneakersync.errors import BodyError
    with pytest.raises(BodyError, match="dictionary"):
        packet.open_packet(with_dict.data, b.home.keys.enc_secret, accept_sender=lambda k: None,
                           dictionaries={})


def test_large_bodies_do_not_try_the_dictionary(make_device) -> None:
    from conftest import befriend
    a, b = make_device("a"), make_device("b")
    befriend(a, b)
    a.store.write_many("c", [(f"r{i}", {"text": f"row {i} " * 20}) for i in range(2000)])
    out = build_export(a.home, a.store, [peers.by_id(a.store, b.id)], pad_to=0)
    opened = packet.open_packet(out.data, b.home.keys.enc_secret, accept_sender=lambda k: None)
    assert opened.envelope.flags == 0 and opened.envelope.body_len > envelope.DICT_MAX_BODY
