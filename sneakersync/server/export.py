"""Exports: JSON lines, CSV, Sahana Eden S3JSON / S3XML, and Eden FileSync drop folders.

Eden mapping (see ``docs`` and research notes B1):

- a collection is an Eden resource (table) ``prefix_name``; ``--resource C=T``
  names it, else the collection name with ``-``/``.`` turned into ``_``;
- ``uuid`` is ``urn:uuid:<id>`` when the record id is a UUID (or already a URN),
  else a name-based UUID (uuid5) of ``collection/id``, the same on every export;
- ``created_on``/``modified_on`` are the first and the winning change's time, UTC
  ``YYYY-MM-DDTHH:MM:SSZ``; ``deleted`` is ``true`` for tombstones; ``mci`` is 1;
- ``--ref C.F=C2`` exports field F as a reference to the C2 record by uuid.

Conflicts are settled here, not by Eden's wall-clock rule: records with an *open*
conflict are refused unless ``include_conflicts`` (then their current pick goes).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from sneakersync.store.durable import write_durably
from sneakersync.errors import ConflictError, UsageError
from sneakersync.server.store import ServerStore

URN_NS = uuid.UUID("6f1f5b1e-8a8e-5d0c-9a63-2b7d4c1e0f51")  # sneakersync record ids
FILESYNC_PREFIX = "sneakersync_"


@dataclass
class ExportOptions:
    fmt: str = "jsonl"
    collection: str | None = None
    resources: dict[str, str] = field(default_factory=dict)
    refs: dict[tuple[str, str], str] = field(default_factory=dict)
    include_conflicts: bool = False

    @classmethod
    def from_cli(cls, fmt: str, collection: str | None, resources: tuple[str, ...],
                 refs: tuple[str, ...], include_conflicts: bool) -> "ExportOptions":
        res: dict[str, str] = {}
        for item in resources:
            coll, sep, table = item.partition("=")
            if not sep or not coll or not table:
                raise UsageError(f"--resource {item!r} must look like COLLECTION=eden_table")
            res[coll] = table
        rf: dict[tuple[str, str], str] = {}
        for item in refs:
            left, sep, target = item.partition("=")
            coll, dot, fld = left.partition(".")
            if not sep or not dot or not coll or not fld or not target:
                raise UsageError(f"--ref {item!r} must look like COLLECTION.FIELD=COLLECTION2")
            rf[(coll, fld)] = target
        return cls(fmt, collection, res, rf, include_conflicts)

    def table(self, collection: str) -> str:
        return self.resources.get(collection) or collection.replace("-", "_").replace(".", "_")


# --- sanitisers: exported text is data, never markup or a formula --------------------

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def xml_text(value: str) -> str:
    """``value`` with every character XML 1.0 cannot carry (C0 controls but TAB, LF, CR;
    lone surrogates; U+FFFE, U+FFFF) replaced by U+FFFD, so the document always parses."""
    return _XML_INVALID.sub("\ufffd", value)


def csv_cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ TAB or CR gets a
    leading apostrophe (OWASP's advice); plain numbers such as -5 stay as they are."""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def eden_uuid(collection: str, rid: str) -> str:
    """A URN id (one that came from Eden) is kept exactly: Eden matches uuids as text."""
    from sneakersync.wire.eden import eden_uuid as exact

    return exact(collection, rid)


def eden_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect(sstore: ServerStore, opts: ExportOptions) -> dict[str, list[dict[str, Any]]]:
    """Records to export, by collection; refuses open conflicts unless allowed."""
    if not opts.include_conflicts:
        open_ = sstore.open_conflicts(opts.collection)
        if open_:
            shown = ", ".join(f"{c['collection']}/{c['id']}" for c in open_[:5])
            raise ConflictError(
                f"{len(open_)} records have open conflicts ({shown}); Eden would settle them "
                "by wall-clock time, so they are not exported",
                hints=("decide them: sneakersync conflicts resolve ID --pick N",
                       "or export their current pick anyway: --include-conflicts"))
    out: dict[str, list[dict[str, Any]]] = {}
    for rec in sstore.records(opts.collection):
        out.setdefault(rec["collection"], []).append(rec)
    return out


def _flat(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) \
        if isinstance(value, (dict, list)) else value


def to_jsonl(groups: dict[str, list[dict[str, Any]]], stream: IO[str]) -> int:
    n = 0
    for coll, recs in groups.items():
        for r in recs:
            row = {"collection": coll, "id": r["id"], "uuid": eden_uuid(coll, r["id"]),
                   "created_on": eden_time(r["created_ms"]),
                   "modified_on": eden_time(r["modified_ms"]), "deleted": r["deleted"],
                   "data": r["data"]}
            if r["conflict"]:
                row["conflict"] = r["conflict"]
            stream.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    return n


def to_csv(groups: dict[str, list[dict[str, Any]]], stream: IO[str]) -> int:
    if len(groups) > 1:
        raise UsageError("CSV holds one collection: give --collection",
                         hints=(f"collections: {', '.join(sorted(groups))}",))
    recs = next(iter(groups.values()), [])
    coll = next(iter(groups), "")
    fields = sorted({k for r in recs for k in (r["data"] or {})})
    # every cell quoted: a CR inside a value (not in the line terminator, so the minimal
    # style would leave it bare) cannot split a row
    w = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow([csv_cell(c) for c in ("id", "uuid", "created_on", "modified_on", "deleted",
                                      *fields)])
    for r in recs:
        d = r["data"] or {}
        w.writerow([csv_cell(c) for c in (
            r["id"], eden_uuid(coll, r["id"]), eden_time(r["created_ms"]),
            eden_time(r["modified_ms"]), "true" if r["deleted"] else "false",
            *[_scalar_text(d.get(f)) for f in fields])])
    return len(recs)


def _scalar_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(_flat(v))


def _ref(opts: ExportOptions, coll: str, fld: str, value: Any) -> tuple[str, str] | None:
    target = opts.refs.get((coll, fld))
    if target is None or not isinstance(value, str) or not value:
        return None
    return opts.table(target), eden_uuid(target, value)


def _usable(name: str) -> bool:
    return bool(name) and name[0] not in "@$"


def to_s3json(groups: dict[str, list[dict[str, Any]]], opts: ExportOptions) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for coll, recs in groups.items():
        items = []
        for r in recs:
            item: dict[str, Any] = {"@uuid": eden_uuid(coll, r["id"]),
                                    "@created_on": eden_time(r["created_ms"]),
                                    "@modified_on": eden_time(r["modified_ms"]), "@mci": 1}
            if r["deleted"]:
                item["@deleted"] = True
            for k, v in sorted((r["data"] or {}).items()):
                if not _usable(k) or v is None:
                    continue
                ref = _ref(opts, coll, k, v)
                if ref:
                    item[f"$k_{k}"] = {"@resource": ref[0], "@uuid": ref[1]}
                else:
                    item[k] = _flat(v)
            items.append(item)
        doc.setdefault(f"$_{opts.table(coll)}", []).extend(items)
    return doc


def to_s3xml(groups: dict[str, list[dict[str, Any]]], opts: ExportOptions) -> bytes:
    root = ET.Element("s3xml")
    for coll, recs in groups.items():
        for r in recs:
            el = ET.SubElement(root, "resource", {
                "name": xml_text(opts.table(coll)), "uuid": eden_uuid(coll, r["id"]),
                "created_on": eden_time(r["created_ms"]),
                "modified_on": eden_time(r["modified_ms"]), "mci": "1",
                "deleted": "true" if r["deleted"] else "false"})
            for k, v in sorted((r["data"] or {}).items()):
                if not _usable(k) or v is None:
                    continue
                ref = _ref(opts, coll, k, v)
                if ref:
                    ET.SubElement(el, "reference", {"field": xml_text(k),
                                                    "resource": xml_text(ref[0]),
                                                    "uuid": ref[1]})
                    continue
                attrs = {"field": xml_text(k)}
                if isinstance(v, (bool, int, float)):
                    attrs["value"] = json.dumps(v)
                d = ET.SubElement(el, "data", attrs)
                d.text = xml_text(_scalar_text(v))
    ET.indent(root)
    # ASCII only (character references): Eden's FileSync reads files in the C locale
    return ET.tostring(root, encoding="us-ascii", xml_declaration=True) + b"\n"


def render(groups: dict[str, list[dict[str, Any]]], opts: ExportOptions) -> tuple[bytes, int]:
    n = sum(len(v) for v in groups.values())
    if opts.fmt == "jsonl":
        buf = io.StringIO()
        to_jsonl(groups, buf)
        return buf.getvalue().encode("utf-8"), n
    if opts.fmt == "csv":
        buf = io.StringIO()
        to_csv(groups, buf)
        return buf.getvalue().encode("utf-8"), n
    if opts.fmt == "s3json":
        text = json.dumps(to_s3json(groups, opts), ensure_ascii=True, indent=1)
        return (text + "\n").encode("utf-8"), n
    if opts.fmt == "s3xml":
        return to_s3xml(groups, opts), n
    raise UsageError(f"unknown export format {opts.fmt!r}")


def _write_atomic(path: Path, data: bytes, mtime: float | None = None) -> None:
    # the temp name starts with a dot: outside Eden's FileSync infile glob
    write_durably(path, data, mtime=mtime, tmp_name="." + path.name + ".tmp")


def _ordered_tables(groups: dict[str, list[dict[str, Any]]], opts: ExportOptions) -> list[str]:
    """Collections in dependency order: referenced ones first (Eden imports oldest first)."""
    deps = {c: {t for (src, _f), t in opts.refs.items() if src == c and t in groups and t != c}
            for c in groups}
    order: list[str] = []
    while len(order) < len(groups):
        ready = sorted(c for c in groups if c not in order and deps[c] <= set(order))
        if not ready:  # a reference cycle: the rest in name order
            ready = sorted(c for c in groups if c not in order)
        order.extend(ready[:1])
    return order


def write_filesync(sstore: ServerStore, opts: ExportOptions, folder: Path) -> dict[str, Any]:
    """One S3XML file per Eden table in an Eden FileSync folder, written atomically.

    (Unbound collections; for bound ones ``sneakersync eden push --filesync`` also sends
    deltas, carries referenced records in the same file and sets ``modified_on``.)

    Eden imports files whose mtime is newer than its last pull, oldest first, and
    skips an older-or-equal mtime forever; so each file gets an even-second mtime
    (FAT keeps 2 s) above every earlier file of ours, 2 s apart in dependency order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    groups = collect(sstore, opts)
    latest = max([p.stat().st_mtime for p in folder.glob(f"{FILESYNC_PREFIX}*.xml")] + [0.0])
    base = max(2 * math.ceil(time.time() / 2), 2 * math.floor(latest / 2) + 2)
    batch = sum(1 for e in sstore.exports(10_000) if e["format"] == "filesync") + 1
    files = []
    total = 0
    # one file per Eden table and batch: collections bound to the same table share it
    tables: list[str] = []
    for coll in _ordered_tables(groups, opts):
        if opts.table(coll) not in tables:
            tables.append(opts.table(coll))
    for i, table in enumerate(tables):
        part = {c: recs for c, recs in groups.items() if opts.table(c) == table}
        data = to_s3xml(part, opts)
        path = folder / f"{FILESYNC_PREFIX}{table}_{batch:06d}.xml"
        mtime = float(base + 2 * i)
        _write_atomic(path, data, mtime)
        n = sum(len(r) for r in part.values())
        files.append({"file": str(path), "resource": table, "records": n, "mtime": mtime})
        total += n
    sstore.record_export("filesync", opts.collection, total, str(folder))
    return {"records": total, "target": str(folder), "files": files}


def export_to(sstore: ServerStore, opts: ExportOptions, *, out: Path | None = None,
              filesync: Path | None = None, stream: IO[str] | None = None) -> dict[str, Any]:
    if filesync is not None:
        return write_filesync(sstore, opts, filesync)
    data, n = render(collect(sstore, opts), opts)
    if out is not None:
        _write_atomic(Path(out), data)
        target = str(out)
    else:
        target = "stdout"
        if stream is not None:
            stream.write(data.decode("utf-8"))
            stream.flush()
    sstore.record_export(opts.fmt, opts.collection, n, target)
    return {"records": n, "target": target, "format": opts.fmt}
