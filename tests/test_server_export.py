"""Exports: JSON lines, CSV, S3JSON, S3XML (Eden attribute names), FileSync, conflicts."""

from __future__ import annotations

import csv
import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sneakersync.errors import ConflictError
from sneakersync.server.export import ExportOptions, eden_uuid, export_to, render, collect

from server_support import export, import_, setup

UUID1 = "6a1e1c52-1111-4222-8333-444455556666"


pytestmark = pytest.mark.usefixtures("server_backend")  # each test on SQLite and PostgreSQL


@pytest.fixture
def stocked(tmp_path: Path, make_device):
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.put("orgs", {"name": "Red Cross"}, "org-1")
    a.store.put("shelters", {"name": "Kibera school", "capacity": 120, "open": True,
                             "org": "org-1", "tags": ["a", "b"]}, UUID1)
    a.store.put("shelters", {"name": "Gone"}, "s-2")
    a.store.delete("shelters", "s-2")
    export(a, stick, ["Office server"])
    srv.ingest(stick)
    return srv, a, b, stick


OPTS = dict(resources={"shelters": "cr_shelter", "orgs": "org_organisation"},
            refs={("shelters", "org"): "orgs"})


def test_s3xml_has_eden_names(stocked) -> None:
    srv = stocked[0]
    data, n = render(collect(srv.sstore, ExportOptions("s3xml", **OPTS)),
                     ExportOptions("s3xml", **OPTS))
    assert n == 3
    root = ET.fromstring(data)
    assert root.tag == "s3xml"
    res = {r.get("uuid"): r for r in root.findall("resource")}
    kib = res[f"urn:uuid:{UUID1}"]
    assert kib.get("name") == "cr_shelter"
    for attr in ("created_on", "modified_on", "deleted", "mci"):
        assert kib.get(attr), attr
    assert kib.get("deleted") == "false" and kib.get("modified_on").endswith("Z")
    fields = {d.get("field"): d for d in kib.findall("data")}
    assert fields["name"].text == "Kibera school" and fields["capacity"].get("value") == "120"
    ref = kib.find("reference")
    assert ref.get("field") == "org" and ref.get("resource") == "org_organisation"
    assert ref.get("uuid") == eden_uuid("orgs", "org-1")
    gone = res[eden_uuid("shelters", "s-2")]
    assert gone.get("deleted") == "true" and not gone.findall("data")


def test_s3json_has_eden_names(stocked) -> None:
    srv = stocked[0]
    data, _ = render(collect(srv.sstore, ExportOptions("s3json", **OPTS)),
                     ExportOptions("s3json", **OPTS))
    doc = json.loads(data)
    assert set(doc) == {"$_cr_shelter", "$_org_organisation"}
    kib = next(r for r in doc["$_cr_shelter"] if r["@uuid"] == f"urn:uuid:{UUID1}")
    assert kib["name"] == "Kibera school" and kib["capacity"] == 120
    assert kib["$k_org"] == {"@resource": "org_organisation", "@uuid": eden_uuid("orgs", "org-1")}
    assert "@created_on" in kib and "@modified_on" in kib
    assert any(r.get("@deleted") is True for r in doc["$_cr_shelter"])


def test_jsonl_and_csv(stocked, tmp_path: Path) -> None:
    srv = stocked[0]
    out = tmp_path / "x.jsonl"
    res = export_to(srv.sstore, ExportOptions("jsonl"), out=out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert res["records"] == len(rows) == 3
    assert {r["uuid"] for r in rows} >= {f"urn:uuid:{UUID1}"}
    buf = tmp_path / "s.csv"
    export_to(srv.sstore, ExportOptions("csv", collection="shelters"), out=buf)
    table = list(csv.DictReader(io.StringIO(buf.read_text())))
    assert {r["id"] for r in table} == {UUID1, "s-2"}
    assert next(r for r in table if r["id"] == UUID1)["capacity"] == "120"
    assert srv.sstore.totals()["exports"] == 2


def test_filesync_folder_atomic_ordered_mtimes(stocked, tmp_path: Path) -> None:
    srv = stocked[0]
    folder = tmp_path / "eden-in"
    res = export_to(srv.sstore, ExportOptions("s3xml", **OPTS), filesync=folder)
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["sneakersync_cr_shelter_000001.xml",
                                       "sneakersync_org_organisation_000001.xml"]
    assert not list(folder.glob(".*"))  # no temp files left
    m = {f.name: os.stat(f).st_mtime for f in files}
    # referenced resource first (Eden imports oldest first), 2 s apart, even seconds
    assert m["sneakersync_org_organisation_000001.xml"] + 2 == m["sneakersync_cr_shelter_000001.xml"]
    assert all(int(t) % 2 == 0 for t in m.values())
    for f in files:
        ET.parse(f)
    res2 = export_to(srv.sstore, ExportOptions("s3xml", **OPTS), filesync=folder)
    later = min(os.stat(f["file"]).st_mtime for f in res2["files"])
    assert later > max(m.values())


def test_open_conflicts_are_refused_unless_asked(tmp_path: Path, make_device) -> None:
    srv, (a, b), stick = setup(tmp_path, make_device)
    a.store.put("c", {"v": "base"}, "r1")
    export(a, stick)
    import_(b, stick)
    a.store.put("c", {"v": "a"}, "r1")
    b.store.put("c", {"v": "b"}, "r1")
    export(a, stick)
    export(b, stick)
    srv.ingest(stick)
    with pytest.raises(ConflictError) as ei:
        collect(srv.sstore, ExportOptions("s3xml"))
    assert "open conflicts" in str(ei.value) and ei.value.exit_code == 7
    groups = collect(srv.sstore, ExportOptions("s3xml", include_conflicts=True))
    assert len(groups["c"]) == 1
