"""Exports carry hostile text safely (issue #12 item 11): XML-invalid characters in
S3XML, formula injection in CSV.  Records travel the real way (device, stick, server)."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from pathlib import Path

from sneakersync.server.export import ExportOptions, csv_cell, export_to, render, collect, xml_text

from server_support import export, setup

NASTY = "a\x00b\x01c\x07d\x0be\x1bf\ufffeg\uffffh"
FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\tstarts with tab", "\r=cr"]


def _deliver(tmp_path: Path, make_device, records: dict[str, dict]) -> object:
    srv, (a, _b), stick = setup(tmp_path, make_device)
    for rid, data in records.items():
        a.store.put("people", data, rid)
    export(a, stick)
    assert srv.ingest(stick)["stored"] == 1
    return srv


def test_s3xml_never_carries_xml_invalid_characters(tmp_path: Path, make_device) -> None:
    srv = _deliver(tmp_path, make_device, {
        "p1": {"name": NASTY, "note": "fine \t tab\nand newline"},
        "p2": {"bad\x07field": "v"}})
    out = tmp_path / "eden.xml"
    res = export_to(srv.sstore, ExportOptions(fmt="s3xml"), out=out)
    assert res["records"] == 2
    root = ET.fromstring(out.read_bytes())  # parses: before the fix it stopped at \x00
    values = {d.get("field"): d.text for d in root.iter("data")}
    assert values["name"] == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh"
    assert values["note"] == "fine \t tab\nand newline"  # what XML can carry is kept
    assert values["bad\ufffdfield"] == "v"
    # FileSync writes S3XML too
    fs = export_to(srv.sstore, ExportOptions(fmt="s3xml"), filesync=tmp_path / "drop")
    for f in fs["files"]:
        ET.parse(f["file"])


def test_csv_cells_cannot_start_a_formula(tmp_path: Path, make_device) -> None:
    recs = {f"f{i}": {"text": v} for i, v in enumerate(FORMULAS)}
    recs["n"] = {"text": "-5", "num": -5}
    recs["=id"] = {"text": "plain"}
    srv = _deliver(tmp_path, make_device, recs)
    rows = list(csv.reader(io.StringIO(newline="", initial_value=
        render(collect(srv.sstore, ExportOptions(fmt="csv", collection="people")),
               ExportOptions(fmt="csv", collection="people"))[0].decode())))
    header, body = rows[0], rows[1:]
    by_id = {r[0]: dict(zip(header, r)) for r in body}
    for i, v in enumerate(FORMULAS):
        cell = by_id[f"f{i}"]["text"]
        assert cell == "'" + v, cell
    assert by_id["n"]["text"] == "-5" and by_id["n"]["num"] == "-5"
    assert "'=id" in by_id and by_id["'=id"]["text"] == "plain"
    # every cell of the file: none starts a formula
    for r in rows:
        for cell in r:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")) or cell == "", cell
            assert not cell.startswith("-") or cell.lstrip("-").replace(".", "").isdigit()


def test_sanitisers_on_their_own() -> None:
    assert xml_text("ok \t\n\r é 😀") == "ok \t\n\r é 😀"
    assert xml_text("\x00\x08\x0c\x1f\ud800\ufffe\uffff") == "\ufffd" * 7
    assert csv_cell("=1") == "'=1" and csv_cell("-1") == "-1" and csv_cell("1e5") == "1e5"
    assert csv_cell("-1e-3") == "-1e-3" and csv_cell("-1-1") == "'-1-1"
    assert csv_cell("") == "" and csv_cell("a=b") == "a=b"
