"""Eden codecs without Eden: ids kept exactly, ASCII-only files that read back exactly,
hostile documents refused, Eden's error tree read per uuid (formats/eden-binding-v1.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from sneakersync.errors import InputError
from sneakersync.wire import eden

TEXT = "مرحبا नमस्ते 🏕️ & <b> \"q\" 'a' ]]> \u00e9"


@pytest.mark.parametrize("rid", ["URN:UUID:0A0B0C0D-0000-4000-8000-00000000A002",
                                 "urn:iso:std:iso:3166:-2:HT-SD", "urn:uuid:abc"])
def test_urn_ids_are_kept_exactly(rid: str) -> None:
    assert eden.eden_uuid("c", rid) == rid


def test_other_ids_map_stably() -> None:
    assert eden.eden_uuid("c", "0A0B0C0D-0000-4000-8000-00000000A002") == \
        "urn:uuid:0a0b0c0d-0000-4000-8000-00000000a002"
    assert eden.eden_uuid("c", "hh-17") == eden.eden_uuid("c", "hh-17") != \
        eden.eden_uuid("d", "hh-17")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_ascii_files_read_back(text: str) -> None:
    doc = {"$_cr_shelter": [{"@uuid": "urn:uuid:x", "name": text, "capacity_day": 3,
                             "$k_person_id": {"@resource": "pr_person", "@uuid": "urn:p"}}]}
    for data in (eden.write_s3json(doc), eden.write_s3xml(doc)):
        data.decode("ascii")
        (it,) = eden.read_eden(data)
        want = text if data[:1] == b"{" else eden.xml_text(text)
        if data[:1] == b"<":   # XML normalises line ends and drops what XML cannot carry
            want = want.replace("\r\n", "\n").replace("\r", "\n")
        assert it.values["name"] == want and it.values["capacity_day"] == 3
        assert it.refs["person_id"] == ("pr_person", "urn:p")


def test_unwraps_values_and_strips_the_export_domain() -> None:
    data = json.dumps({"@domain": "vm", "$_pr_person": [
        {"@uuid": "vm/URN:UUID:C", "first_name": "A", "gender": {"@value": 2, "$": "female"},
         "comments": {"$": TEXT}, "@deleted": "True",
         "$k_location_id": {"@resource": "gis_location", "@uuid": "urn:l", "@lat": "1.5"}}]})
    (it,) = eden.read_eden(data.encode())
    assert it.uuid == "URN:UUID:C" and it.deleted
    assert it.values == {"first_name": "A", "gender": 2, "comments": TEXT}
    assert it.attrs["location_id.lat"] == "1.5"


@pytest.mark.parametrize("data", [
    b'<?xml version="1.0"?><!DOCTYPE s3xml [<!ENTITY a "aaaa">]><s3xml>&a;</s3xml>',
    b"\xff\xfe<\x00s\x00", b"<s3xml><resource name='t'/></s3xml>", b"<other/>", b"[1]",
    b'{"$_t": [{"name": "no uuid"}]}', b"{" * 100000, b"", b"<s3xml><unclosed></s3xml>"])
def test_hostile_documents_are_input_errors(data: bytes) -> None:
    with pytest.raises(InputError):
        eden.read_eden(data)


def test_error_tree_per_uuid() -> None:
    reply = eden.parse_import_reply(json.dumps({
        "status": "success", "message": "invalid items ignored", "tree": {"$_cr_shelter": [
            {"@uuid": "u1", "@error": "name: value(s) required"},
            {"@uuid": "u2", "email": {"@value": "x", "@error": "Enter a valid email"}},
            {"@uuid": "u3", "$_cr_shelter_details": [{"@uuid": "d", "@error": "bad"}]},
            {"@uuid": "u4", "name": "fine"}]}}).encode())
    assert reply.ok
    assert reply.errors == {"u1": "name: value(s) required", "u2": "email: Enter a valid email",
                            "u3": "bad"}


def test_server_filesync_one_file_per_table(tmp_path: Path, make_device) -> None:
    """Two collections mapped to one Eden table share one file per batch (none lost)."""
    from sneakersync.server.export import ExportOptions, export_to

    from server_support import export, setup

    srv, (a, _b), stick = setup(tmp_path, make_device)
    a.store.put("shelters", {"name": TEXT}, "s1")
    a.store.put("camps", {"name": "camp"}, "c1")
    export(a, stick, ["Office server"])
    srv.ingest(stick)
    opts = ExportOptions("s3xml", resources={"shelters": "cr_shelter", "camps": "cr_shelter"})
    res = export_to(srv.sstore, opts, filesync=tmp_path / "drop")
    (f,) = res["files"]
    items = eden.read_eden(Path(f["file"]).read_bytes())
    assert f["records"] == 2 and len(items) == 2
    Path(f["file"]).read_bytes().decode("ascii")
    srv.close()


def test_vectors() -> None:
    """formats/vectors/eden: a binding and a record give these exact S3JSON/S3XML bytes."""
    from conftest import REPO

    d = REPO / "formats" / "vectors" / "eden"
    b = eden.parse_binding(json.loads((d / "binding.json").read_text()))
    r = json.loads((d / "record.json").read_text(encoding="utf-8"))
    assert b.check_record(r["data"]) == []
    it = eden.to_item(b, r["id"], r["data"], deleted=False, modified_ms=r["modified_ms"],
                      created_ms=r["created_ms"], tables=r["tables"])
    doc = eden.document([it])
    assert eden.write_s3json(doc) == (d / "expected.s3json").read_bytes()
    assert eden.write_s3xml(doc) == (d / "expected.xml").read_bytes()
    # and back: the record's bound fields, with the component and location uuids noted
    items = eden.read_eden((d / "expected.xml").read_bytes())
    back = eden.item_to_record(b, items[1], {x.uuid: x for x in items})
    want = {k: v for k, v in r["data"].items() if k != "facilities"}
    want["notes"] = "line one\nline two"            # the control character XML cannot carry
    want["contact"] = eden.eden_uuid("persons", "p-17")
    assert {k: v for k, v in back.items() if k != eden.META_KEY} == want
    assert set(back[eden.META_KEY]) == {"cr_shelter_details", "location_id"}
