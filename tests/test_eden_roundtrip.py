"""The Sahana Eden round trip against the real Eden in ../shared/eden (issue 11).

Eden -> eden pull -> device A -> stick -> device B edits, deletes, adds (unicode,
references, a conflict) -> server -> REST push and FileSync -> Eden, read back over
REST and compared field by field. One Eden copy serves the module.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sneakersync.errors import SneakersyncError
from sneakersync.media.eden import EdenClient, schema_forms
from sneakersync.server import eden_push
from sneakersync.store import binding as binding_mod
from sneakersync.wire import eden as wire_eden

from eden_support import PASSWORD, USER, eden  # noqa: F401  (module fixture)
from server_support import export, import_, setup

pytestmark = pytest.mark.timeout(900)

PERSONS = {"first_name": "first_name", "last_name": "last_name",
           "sex": {"to": "gender", "values": {"unknown": 1, "female": 2, "male": 3}},
           "born": "date_of_birth", "notes": "comments"}
SHELTERS = {"name": "name", "notes": "comments", "phone": "phone",
            "capacity": "cr_shelter_details.capacity_day",
            "population": "cr_shelter_details.population",
            "status": {"to": "cr_shelter_details.status", "values": {"closed": 1, "open": 2}},
            "email": "email", "lat": "location_id.lat", "lon": "location_id.lon", "place": "location_id.name",
            "contact": {"to": "person_id", "collection": "persons"}}
# (the component is cr_shelter_details: Eden's alias for it below cr/shelter is shelter_details)
UNICODE = "مرحبا بالعالم नमस्ते दुनिया 🏕️ & <b>\"quoted\"</b>"


def client(e: Any) -> EdenClient:
    return EdenClient(e.url, USER, PASSWORD)


def bind(store: Any, e: Any, collection: str, table: str, fields: dict[str, Any],
         keep: list[str]) -> wire_eden.Binding:
    with client(e) as cl:
        forms = schema_forms(cl, table, fields)
    spec = wire_eden.binding_from_mform(collection, table, forms, fields, keep)
    return binding_mod.set_binding(store, spec)


def seed_eden(e: Any) -> dict[str, str]:
    """Records that live in Eden before the field sees them (ids as Eden keeps them)."""
    ids = {"p1": "urn:uuid:0a0b0c0d-0000-4000-8000-00000000a001",
           "p2": "URN:UUID:0A0B0C0D-0000-4000-8000-00000000A002",   # upper case, kept exactly
           "s1": "urn:iso:std:iso:3166:-2:HT-SD",                   # not a uuid at all
           "s2": "urn:uuid:0a0b0c0d-0000-4000-8000-00000000b002"}
    doc = {"$_pr_person": [
        {"@uuid": ids["p1"], "first_name": "Amina", "last_name": "Diallo", "gender": 2,
         "comments": "registered at the gate"},
        {"@uuid": ids["p2"], "first_name": "Jean", "last_name": "Pierre", "gender": 3}],
        "$_cr_shelter": [
        {"@uuid": ids["s1"], "name": "École de Camp-Perrin", "phone": "+509 1",
         "$k_person_id": {"@resource": "pr_person", "@uuid": ids["p1"]},
         "$_cr_shelter_details": [{"@uuid": "urn:uuid:0a0b0c0d-0000-4000-8000-0000000c0001",
                                   "capacity_day": 800, "population": 10, "status": 2}]},
        {"@uuid": ids["s2"], "name": "Lycée de Jérémie", "comments": "roof leaks"}]}
    with client(e) as cl:
        for table in ("pr_person", "cr_shelter"):
            ans = cl.import_s3json(table, wire_eden.write_s3json(
                {k: v for k, v in doc.items() if k == f"$_{table}"}))
            reply = wire_eden.parse_import_reply(ans.body)
            assert ans.status == 200 and reply.ok and not reply.errors, ans.body[:500]
    return ids


def test_binding_refuses_what_eden_would_lose(eden: Any, tmp_path: Path, make_device) -> None:
    """Failures 1 and 2: virtual, unknown and read-only fields are named before sending;
    required fields are enforced on put/load."""
    dev = make_device("binder", seed=5)
    with client(eden) as cl:
        forms = schema_forms(cl, "pr_person", {"first_name": "first_name"})
        sforms = schema_forms(cl, "cr_shelter", SHELTERS)
    # age is a virtual field of pr_person (Eden's importer crashes on it)
    with pytest.raises(wire_eden.BindingError, match="age") as ei:
        binding_mod.set_binding(dev.store, wire_eden.binding_from_mform(
            "persons", "pr_person", forms, {"first_name": "first_name", "age": "age"}, []))
    assert "virtual" in str(ei.value)
    # capacity lives in the component, not in cr_shelter itself
    with pytest.raises(wire_eden.BindingError, match="capacity"):
        binding_mod.set_binding(dev.store, wire_eden.binding_from_mform(
            "shelters", "cr_shelter", sforms, {"name": "name", "capacity": "capacity"}, []))
    # website is read-only in this Eden's form
    with pytest.raises(wire_eden.BindingError, match="read-only"):
        binding_mod.set_binding(dev.store, wire_eden.binding_from_mform(
            "shelters", "cr_shelter", sforms, {"name": "name", "web": "website"}, []))
    # a binding that leaves pr_person.first_name unfed is refused
    with pytest.raises(wire_eden.BindingError, match="first_name"):
        binding_mod.set_binding(dev.store, wire_eden.binding_from_mform(
            "persons", "pr_person", forms, {"surname": "last_name"}, []))
    b = bind(dev.store, eden, "persons", "pr_person", PERSONS, ["age"])
    assert b.check_record({"first_name": "A", "age": 3}) == []
    assert any("required" in p for p in b.check_record({"last_name": "B"}))
    assert any("not bound" in p for p in b.check_record({"first_name": "A", "x": 1}))
    assert any("no Eden equivalent" in p for p in b.check_record({"first_name": "A",
                                                                  "sex": "other"}))
    assert any("not a date" in p for p in b.check_record({"first_name": "A", "born": "May"}))
    # put and load go through the binding (the real CLI): nothing half-written
    from conftest import cli

    dev.close()
    bad = tmp_path / "persons.jsonl"
    bad.write_text('{"id": "p-1", "first_name": "Ok"}\n{"id": "p-2", "last_name": "NoFirst"}\n')
    r = cli(dev.home.path, "load", "persons", str(bad), ok=False)
    assert r.returncode == 5 and "p-2" in r.stderr and "first_name" in r.stderr, r.stderr
    assert r.stderr.startswith("sneakersync: error:") and "Traceback" not in r.stderr
    r = cli(dev.home.path, "put", "persons", '{"last_name": "X"}', ok=False)
    assert r.returncode == 5 and "required" in r.stderr
    assert cli(dev.home.path, "rows", "persons").stdout == ""


def compare_all(e: Any, srv: Any) -> int:
    """Compare each live bound record on the server with Eden's copy, field by field."""
    n = 0
    tables = {c: binding_mod.get_binding(srv.core, c).resource
              for c in binding_mod.all_bindings(srv.core)}
    for coll, table in tables.items():
        b = binding_mod.get_binding(srv.core, coll)
        held = e.records(table)
        for rid, data in srv.core.rows(coll):
            item = wire_eden.to_item(b, rid, data, deleted=False, modified_ms=0, created_ms=0,
                                     tables=tables)
            got = held[item.uuid]
            for k, v in item.body.items():
                if k.startswith("@"):
                    continue
                if k.startswith("$k_"):
                    assert got["refs"][k[3:]][1] == v["@uuid"], (rid, k)
                elif k.startswith("$_"):
                    for f, fv in v[0].items():
                        if not f.startswith("@"):
                            assert got["parts"][k[2:]][0][f] == fv, (rid, k, f)
                else:
                    assert got["values"][k] == v, (rid, k, got["values"].get(k), v)
                n += 1
            for x in item.extra:     # the location: Eden reports lat/lon on the reference
                for f in ("lat", "lon"):
                    if f in x.body:
                        assert float(got["attrs"][f"location_id.{f}"]) == \
                            pytest.approx(x.body[f]), (rid, f)
                        n += 1
    return n


def _flip(a: Any, b: Any, stick: Path) -> None:
    export(a, stick)
    import_(b, stick)


def test_round_trip(eden: Any, tmp_path: Path, make_device) -> None:
    ids = seed_eden(eden)
    srv, (a, b), stick = setup(tmp_path, make_device)
    for dev in (a,):
        bind(dev.store, eden, "persons", "pr_person", PERSONS, ["age"])
        bind(dev.store, eden, "shelters", "cr_shelter", SHELTERS, ["facilities"])
    a.store.set_policy("shelters", "manual")
    a.store.set_policy("persons", "merge")

    # --- Eden -> device A (a URL with credentials), twice: the second changes nothing
    from sneakersync.wire.eden import read_eden
    with client(eden) as cl:
        persons_xml, shelters_xml = cl.export("pr_person"), cl.export("cr_shelter")
    got = binding_mod.pull(a.store, "persons", read_eden(persons_xml))
    assert got["created"] >= 2 and not got["refused"], got
    got = binding_mod.pull(a.store, "shelters", read_eden(shelters_xml))
    assert got["created"] == 2 and not got["refused"], got
    again = binding_mod.pull(a.store, "shelters", read_eden(shelters_xml))
    assert again["created"] == again["updated"] == again["deleted"] == 0
    counter = a.store.counter
    binding_mod.pull(a.store, "persons", read_eden(persons_xml))
    assert a.store.counter == counter
    # uuids kept exactly, references turned into record ids, components unwrapped
    s1 = a.store.get("shelters", ids["s1"]).data
    assert s1["name"] == "École de Camp-Perrin" and s1["contact"] == ids["p1"]
    assert s1["capacity"] == 800 and s1["status"] == "open"
    assert a.store.get("persons", ids["p2"]).data["sex"] == "male"

    # --- device A -> stick -> device B (the bindings travel with the packets)
    befriend_all = (a, b)
    del befriend_all
    _flip(a, b, stick)
    assert binding_mod.get_binding(b.store, "shelters") is not None
    assert b.store.get("shelters", ids["s1"]).data == s1

    # --- device B edits, deletes, adds (unicode, references); A edits concurrently
    b.store.put("persons", {"first_name": UNICODE, "last_name": "Σωκράτης",
                            "sex": "female", "notes": "x & y < z"}, "p-new")
    b.store.put("shelters", {"name": UNICODE, "notes": "خيمة — टेंट — ⛺", "capacity": 50,
                             "population": 7, "status": "open", "lat": 18.3, "lon": -73.8,
                             "place": "Les Cayes", "contact": "p-new",
                             "facilities": ["water"]}, "s-new")
    edited = dict(s1, notes="B: roof fixed", population=12)
    b.store.put("shelters", edited, ids["s1"])
    b.store.delete("shelters", ids["s2"])
    b.store.put("persons", dict(a.store.get("persons", ids["p2"]).data,
                                notes="B's note"), ids["p2"])
    a.store.put("persons", dict(a.store.get("persons", ids["p2"]).data,
                                last_name="Pierre-Louis"), ids["p2"])
    a.store.put("shelters", dict(s1, phone="+509 2"), ids["s1"])  # conflict (manual)
    # a record Eden itself refuses (its e-mail validator; the binding cannot know)
    b.store.put("shelters", {"name": "Bad mail", "email": "not an address"}, "s-mail")
    # a record refused before sending: it points to a person nobody has
    b.store.put("shelters", {"name": "Orphan ref", "contact": "no-such-person"}, "s-orphan")

    # --- everything reaches the server
    for dev in (a, b):
        export(dev, stick, ["Office server"])
    srv.ingest(stick)
    assert binding_mod.get_binding(srv.core, "persons") is not None

    # --- REST push: the open conflict waits, the rest goes; a refused record is named
    with client(eden) as cl:
        rep = eden_push.rest_push(srv.sstore, cl)
    assert [c["id"] for c in rep.conflicts] == [ids["s1"]]
    refused = {r["id"]: r["reason"] for r in rep.refused}
    assert set(refused) == {"s-orphan", "s-mail"}, rep.as_json()
    assert refused["s-mail"].startswith("Eden:") and "email" in refused["s-mail"]
    assert refused["s-orphan"].startswith("not sent:") and "no-such-person" in refused["s-orphan"]
    assert rep.accepted >= 4
    with client(eden) as cl:
        again = eden_push.rest_push(srv.sstore, cl)
    assert again.sent == 0 and again.accepted == 0, again.as_json()   # nothing twice

    # --- read Eden back and compare field by field
    people = eden.records("pr_person")
    new_uuid = wire_eden.eden_uuid("persons", "p-new")
    assert people[new_uuid]["values"]["first_name"] == UNICODE
    assert people[new_uuid]["values"]["last_name"] == "Σωκράτης"
    assert people[new_uuid]["values"]["comments"] == "x & y < z"
    assert people[new_uuid]["values"]["gender"] == 2
    assert ids["p2"] in people            # the upper-case URN matched, not duplicated
    p2 = people[ids["p2"]]["values"]
    assert p2["last_name"] == "Pierre-Louis" and p2["comments"] == "B's note"   # merged (lww/merge)
    shelters = eden.records("cr_shelter")
    s_new = shelters[wire_eden.eden_uuid("shelters", "s-new")]
    assert s_new["values"]["name"] == UNICODE
    assert s_new["values"]["comments"] == "خيمة — टेंट — ⛺"
    assert s_new["refs"]["person_id"][1] == new_uuid
    det = s_new["parts"]["cr_shelter_details"][0]
    assert det["capacity_day"] == 50 and det["population"] == 7 and det["status"] == 2
    assert float(s_new["attrs"]["location_id.lat"]) == pytest.approx(18.3)
    assert ids["s2"] not in shelters      # deleted in Eden (Eden's export leaves deleted out)
    assert shelters[ids["s1"]]["values"]["phone"] == "+509 1"   # conflict still open: untouched

    # --- the conflict is decided; the fix of the refused record; both go on the next push
    cid = next(c["conflict"] for c in srv.core.conflicts() if c["id"] == ids["s1"])
    srv.core.resolve_conflict(cid, pick=1)
    b.store.put("shelters", {"name": "Orphan ref", "contact": "p-new"}, "s-orphan")
    b.store.put("shelters", {"name": "Bad mail", "email": "camp@example.org"}, "s-mail")
    export(b, stick, ["Office server"])
    srv.ingest(stick)
    with client(eden) as cl:
        rep = eden_push.rest_push(srv.sstore, cl)
    assert not rep.refused and not rep.conflicts, rep.as_json()
    assert rep.accepted == 3
    shelters = eden.records("cr_shelter")
    assert shelters[wire_eden.eden_uuid("shelters", "s-orphan")]["refs"]["person_id"][1] \
        == new_uuid
    assert eden_push.status(srv.sstore) == []
    # every field of every record the server holds is in Eden, as the binding says
    checked = compare_all(eden, srv)
    assert checked >= 30, checked

    # --- pull back onto device A: what Eden holds now equals what the server holds
    with client(eden) as cl:
        res = binding_mod.pull(a.store, "shelters", read_eden(cl.export("cr_shelter")))
    assert not res["refused"]
    new_on_a = a.store.get("shelters", wire_eden.eden_uuid("shelters", "s-new")).data
    assert new_on_a["name"] == UNICODE and new_on_a["contact"] == new_uuid
    assert res["deleted"] == 1 and a.store.get("shelters", ids["s2"], include_deleted=True).deleted
    with client(eden) as cl:
        again = binding_mod.pull(a.store, "shelters", read_eden(cl.export("cr_shelter")))
    assert again["created"] == again["updated"] == again["deleted"] == 0, again
    srv.close()


def test_filesync_drop_folder(eden: Any, tmp_path: Path, make_device) -> None:
    """Failures 3-6 under Eden's own FileSync, run in the C locale as under web2py:
    ASCII-safe files, one name per table and batch (two collections, one table),
    referenced records in the same file, a device clock a year ahead."""
    srv, (a, b), stick = setup(tmp_path, make_device)
    persons = bind(a.store, eden, "fs-persons", "pr_person", PERSONS, ["age"])
    bind(a.store, eden, "fs-shelters", "cr_shelter", dict(SHELTERS, contact={
        "to": "person_id", "collection": "fs-persons"}), ["facilities"])
    bind(a.store, eden, "fs-camps", "cr_shelter", {"title": "name", "remarks": "comments"}, [])
    del persons
    year = 365 * 24 * 3600 * 1000
    ahead = int(time.time() * 1000) + year               # device A's clock is a year ahead
    a.store.put("fs-persons", {"first_name": "Rahim", "last_name": "لغاری",
                               "sex": "male"}, "fs-p1", ts=ahead)
    a.store.put("fs-shelters", {"name": "Camp नमस्ते 🏕️ & <ok>", "contact": "fs-p1",
                                "capacity": 30, "lat": 26.6, "lon": 67.8}, "fs-s1", ts=ahead)
    a.store.put("fs-camps", {"title": "Tent city مخيم", "remarks": "from the camps list"},
                "fs-c1", ts=ahead)
    export(a, stick, ["Office server"])
    srv.ingest(stick)
    drop = tmp_path / "drop"
    rep = eden_push.write_files(srv.sstore, drop)
    assert not rep.refused and rep.written == 3, rep.as_json()
    names = sorted(p.name for p in drop.iterdir())
    assert names == ["sneakersync_cr_shelter_000001.xml", "sneakersync_pr_person_000001.xml"]
    for p in drop.iterdir():
        p.read_bytes().decode("ascii")                   # ASCII only, in any locale
    shelter_file = (drop / names[0]).read_text("ascii")
    assert "pr_person" in shelter_file                    # the referenced person travels along
    # the failure this prevents: Eden's FileSync reads a UTF-8 drop file as ASCII
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "utf8_cr_shelter_1.xml").write_bytes(
        b'<?xml version="1.0" encoding="utf-8"?>\n<s3xml><resource name="cr_shelter" '
        b'uuid="urn:uuid:0a0b0c0d-0000-4000-8000-00000000f001"><data field="name">'
        + "Café م".encode() + b'</data></resource></s3xml>\n')
    bad = eden.filesync(raw, ["cr_shelter"], pattern="utf8_{table}_*.xml")
    assert "ascii" in bad and "urn:uuid:0a0b0c0d-0000-4000-8000-00000000f001" not in \
        eden.records("cr_shelter"), bad
    log = eden.filesync(drop, ["cr_shelter", "pr_person"])
    assert "SYNC-RESULT True" in log and "SYNC-CRASH" not in log, log
    shelters, people = eden.records("cr_shelter"), eden.records("pr_person")
    s1 = shelters[wire_eden.eden_uuid("fs-shelters", "fs-s1")]
    assert s1["values"]["name"] == "Camp नमस्ते 🏕️ & <ok>"
    assert s1["refs"]["person_id"][1] == wire_eden.eden_uuid("fs-persons", "fs-p1")
    assert shelters[wire_eden.eden_uuid("fs-camps", "fs-c1")]["values"]["name"] == "Tent city مخيم"
    assert people[wire_eden.eden_uuid("fs-persons", "fs-p1")]["values"]["last_name"] == "لغاری"
    # modified_on is the server's clock, not the device's year-ahead one
    assert s1["modified_ms"] <= int(time.time() * 1000) + 2000

    # a later edit (a device with a right clock) still gets in: last_pull was not pushed
    # a year ahead; earlier files are not imported again
    b_edit = {"name": "Camp renamed", "contact": "fs-p1", "capacity": 31}
    _flip(a, b, stick)
    b.store.put("fs-shelters", b_edit, "fs-s1")
    export(b, stick, ["Office server"])
    srv.ingest(stick)
    rep2 = eden_push.write_files(srv.sstore, drop)
    assert rep2.written == 1 and rep2.unchanged >= 2, rep2.as_json()   # a delta
    log2 = eden.filesync(drop, ["cr_shelter", "pr_person"])
    assert "SYNC-RESULT True" in log2, log2
    imported = [ln for ln in log2.splitlines() if ln.startswith("LOG") and " import /" in ln]
    assert len(imported) == 1 and "000002" in imported[0], log2
    s1 = eden.records("cr_shelter")[wire_eden.eden_uuid("fs-shelters", "fs-s1")]
    assert s1["values"]["name"] == "Camp renamed"
    assert s1["parts"]["cr_shelter_details"][0]["capacity_day"] == 31
    assert eden_push.write_files(srv.sstore, drop).written == 0          # nothing twice
    srv.close()


def test_cli_pull_and_load_eden_files(eden: Any, tmp_path: Path) -> None:
    """`eden bind`, `eden pull` from a URL with credentials and from files, `load` of
    Eden's own S3JSON and S3XML, through the real command line."""
    from urllib.parse import quote

    from conftest import cli

    home = tmp_path / "dev"
    cli(home, "init", "--name", "Puller")
    spec = tmp_path / "persons.binding.json"
    spec.write_text(json.dumps({"v": 1, "collection": "people", "resource": "pr_person",
                                "fields": PERSONS, "keep": ["age"]}))
    url = f"http://{quote(USER)}:{quote(PASSWORD)}@127.0.0.1:{eden.port}/eden"
    out = cli(home, "eden", "bind", "--file", str(spec), "--url", url, "--json")
    assert json.loads(out.stdout)["resource"] == "pr_person"
    got = json.loads(cli(home, "eden", "pull", "people", "--url", url, "--json").stdout)
    assert got["created"] >= 2 and not got["refused"], got
    again = json.loads(cli(home, "eden", "pull", "people", "--url", url, "--json").stdout)
    assert again["created"] == again["updated"] == again["deleted"] == 0
    # an air-gapped copy: Eden's S3JSON and S3XML files
    with client(eden) as cl:
        (tmp_path / "people.s3json").write_bytes(cl.export_s3json("pr_person"))
        (tmp_path / "people.xml").write_bytes(cl.export("pr_person"))
    files = json.loads(cli(home, "eden", "pull", "people", str(tmp_path / "people.s3json"),
                           str(tmp_path / "people.xml"), "--json").stdout)
    assert files["created"] == files["updated"] == 0, files
    loaded = json.loads(cli(home, "load", "copy", str(tmp_path / "people.s3json"),
                            "--json").stdout)
    assert loaded["loaded"] == got["created"]
    rows = [json.loads(x) for x in cli(home, "rows", "copy").stdout.splitlines()]
    assert all(r["id"].lower().startswith("urn:uuid:") for r in rows)
    assert any(r["data"].get("first_name") == "Admin" for r in rows)   # @value/$ unwrapped
    cli(home, "load", "copy2", str(tmp_path / "people.xml"))
    assert cli(home, "rows", "copy2").stdout.count("\n") == len(rows)
    # a tampered file is a one-line error, nothing written
    (tmp_path / "bad.xml").write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
                                      '<s3xml/>')
    r = cli(home, "load", "copy3", str(tmp_path / "bad.xml"), ok=False)
    assert r.returncode == 5 and r.stderr.startswith("sneakersync: error:")
    r = cli(home, "eden", "pull", "people", "--url",
            f"http://{quote(USER)}:wrong@127.0.0.1:{eden.port}/eden", ok=False)
    assert r.returncode == 6 and "Traceback" not in r.stderr, r.stderr


def test_sample_collections_bind_to_real_tables(eden: Any, tmp_path: Path) -> None:
    """samples/eden/*.binding.json bind against this Eden and every sample record fits."""
    from urllib.parse import quote

    from conftest import REPO, cli

    home = tmp_path / "dev"
    cli(home, "init", "--name", "Samples")
    url = f"http://{quote(USER)}:{quote(PASSWORD)}@127.0.0.1:{eden.port}/eden"
    for name, data in (("shelters", "shelters.jsonl"), ("missing_persons",
                       "missing_persons.jsonl"), ("households", "households.csv")):
        cli(home, "eden", "bind", "--file", str(REPO / "samples" / "eden" /
                                                f"{name}.binding.json"), "--url", url)
        cli(home, "load", name, str(REPO / "samples" / data))
        assert cli(home, "eden", "check", name).returncode == 0
    shown = json.loads(cli(home, "eden", "show", "shelters").stdout)
    assert shown["schema"]["cr_shelter_details"]["capacity_day"]["type"] == "integer"


def test_demo_ends_with_the_records_in_eden(eden: Any, tmp_path: Path) -> None:
    from urllib.parse import quote

    from conftest import REPO
    import subprocess
    import sys

    url = f"http://{quote(USER)}:{quote(PASSWORD)}@127.0.0.1:{eden.port}/eden"
    p = subprocess.run([sys.executable, "-m", "sneakersync", "demo", "--fast", "--dir",
                        str(tmp_path / "demo"), "--eden", url], capture_output=True, text=True,
                       cwd=REPO, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "records stored in Eden" in p.stdout and "pushing again sends 0 records" in p.stdout
    groups = eden.records("pr_group")
    assert len(groups) >= 100      # the demo's households, now Eden's pr_group records


def test_cli_push_file_and_status(eden: Any, tmp_path: Path, make_device) -> None:
    """`eden push --out/--url` and `eden status` on the server, through the real CLI."""
    from urllib.parse import quote

    from conftest import cli

    srv, (a, _b), stick = setup(tmp_path, make_device)
    bind(a.store, eden, "cli-people", "pr_person", PERSONS, ["age"])
    a.store.put("cli-people", {"first_name": "Zainab", "last_name": "ख़ान 🙂",
                               "sex": "female"}, "cli-1")
    a.store.put("cli-people", {"first_name": "Omar", "born": "1990-02-30"}, "cli-2")
    export(a, stick, ["Office server"])
    srv.ingest(stick)
    srv.close()
    home = srv.home.path
    out = tmp_path / "people.s3json"
    r = json.loads(cli(home, "eden", "push", "--out", str(out), "--json").stdout)
    assert r["written"] == 2 and out.read_bytes().decode("ascii")
    url = f"http://{quote(USER)}:{quote(PASSWORD)}@127.0.0.1:{eden.port}/eden"
    p = cli(home, "eden", "push", "--url", url, "--json", ok=False)
    rep = json.loads(p.stdout)
    # Eden's own date validator refuses 30 February; the other record is stored
    assert p.returncode == 1 and rep["accepted"] == 1, p.stdout
    assert [x["id"] for x in rep["refused"]] == ["cli-2"] and "date_of_birth" in \
        rep["refused"][0]["reason"], rep
    st = json.loads(cli(home, "eden", "status", "--json").stdout)
    assert [x["id"] for x in st] == ["cli-2"]
    again = json.loads(cli(home, "eden", "push", "--url", url, "--json").stdout)
    assert again["sent"] == 0 and again["unchanged"] == 2
    # the manual-import file changes nothing in Eden either (same uuids, same fields)
    before = eden.records("pr_person")
    with client(eden) as cl:
        ans = cl.import_s3json("pr_person", out.read_bytes())
    assert ans.status == 200
    after = eden.records("pr_person")
    assert {u: v["values"] for u, v in after.items()} == \
        {u: v["values"] for u, v in before.items() if u in after} and set(after) >= set(before)
