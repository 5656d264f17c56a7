"""Sahana Eden bindings and the S3JSON / S3XML codecs (spec: formats/eden-binding-v1.md).

Pure functions, no I/O:

- :class:`Binding`: a collection bound to an Eden table, with a field map checked
  against a snapshot of the table's schema (as Eden's mobile API ``mform.json`` gives
  it); :func:`parse_binding` validates one, :meth:`Binding.check_record` checks a record;
- :func:`to_item` / :func:`write_s3json` / :func:`write_s3xml`: records to Eden items and
  ASCII-only files (character references), so Eden reads them in any locale;
- :func:`read_eden`: S3JSON or S3XML bytes to :class:`EdenItem` s (``@value``/``$``
  unwrapped, references kept as (table, uuid)), bounded and without DTDs;
- :func:`item_to_record`: an Eden item back to a record of the bound collection;
- :func:`parse_import_reply`: Eden's import answer, per uuid.
"""

from __future__ import annotations

import json
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from sneakersync.errors import InputError

VERSION = 1
MAX_DOC = 256 * 1024 * 1024        # bytes of one S3JSON/S3XML document we read
MAX_BINDING = 1024 * 1024          # bytes of one binding (JSON)
MAX_FIELDS = 512
MAX_DEPTH = 8                      # nesting of components inside an item
URN_NS = uuid.UUID("6f1f5b1e-8a8e-5d0c-9a63-2b7d4c1e0f51")  # as server/export: stable uuid5s
META_KEY = "@eden"                 # record key holding Eden uuids of components we pulled
SUPPORTED = {"string", "text", "integer", "double", "date", "datetime", "boolean", "json",
             "list:string", "list:integer", "upload"}
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class BindingError(InputError):
    """A binding, or a record checked against one, that Eden would not take."""


# --- ids and times -----------------------------------------------------------------

def eden_uuid(collection: str, rid: str) -> str:
    """The Eden uuid of a record id: a URN is kept exactly (Eden compares uuids as text)."""
    if rid[:4].lower() == "urn:":
        return rid
    try:
        return uuid.UUID(rid).urn
    except ValueError:
        return uuid.uuid5(URN_NS, f"{collection}/{rid}").urn


def part_uuid(record_uuid: str, part: str) -> str:
    """Stable uuid of a component or embedded record (e.g. its location) of a record."""
    return uuid.uuid5(URN_NS, f"{record_uuid}#{part}").urn


def eden_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> int | None:
    """Eden's ``YYYY-MM-DDTHH:MM:SS[Z]`` (UTC) as ms, or None."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    t = text.strip().replace(" ", "T")
    if t.endswith("Z"):
        t = t[:-1]
    try:
        d = datetime.fromisoformat(t)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=timezone.utc)
    return int(d.timestamp() * 1000)


# --- the binding ---------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """Where one of our fields goes: ``table.field`` in ``part`` (None: the main record)."""

    ours: str
    part: str | None          # None, a component table, or a reference field of the main table
    table: str                # the Eden table holding the field
    field: str
    values: Mapping[str, Any] | None = None   # our value -> Eden value
    collection: str | None = None             # our value is a record id of this collection


@dataclass
class Binding:
    collection: str
    resource: str
    targets: dict[str, Target]
    keep: tuple[str, ...]
    schema: dict[str, dict[str, dict[str, Any]]]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    # -- checks --------------------------------------------------------------------

    def check_record(self, data: Mapping[str, Any]) -> list[str]:
        """Reasons Eden would not store this record as it is (empty: it would)."""
        problems: list[str] = []
        for k, v in data.items():
            if k == META_KEY:
                continue
            t = self.targets.get(k)
            if t is None:
                if k not in self.keep:
                    problems.append(f"{k}: not bound to {self.resource} "
                                    "(map it with --map, or keep it on the devices with --keep)")
                continue
            if v is None or v == "":
                continue
            problems.extend(self._check_value(t, v))
        for t in self.targets.values():
            spec = self.schema.get(t.table, {}).get(t.field, {})
            if spec.get("required") and "default" not in spec and t.part is None \
                    and data.get(t.ours) in (None, ""):
                problems.append(f"{t.ours}: required by Eden ({t.table}.{t.field})")
        return problems

    def _check_value(self, t: Target, v: Any) -> list[str]:
        if t.collection is not None:
            return [] if isinstance(v, str) and v else [f"{t.ours}: must be a record id"]
        if t.values is not None:
            key = v if isinstance(v, str) else json.dumps(v)
            if key not in t.values:
                shown = ", ".join(sorted(t.values)[:8])
                return [f"{t.ours}: value {v!r} has no Eden equivalent (one of: {shown})"]
            v = t.values[key]
        spec = self.schema.get(t.table, {}).get(t.field, {})
        why = _type_problem(str(spec.get("type", "string")), v)
        if why:
            return [f"{t.ours}: {why} for Eden {t.table}.{t.field}"]
        opts = spec.get("options")
        if isinstance(opts, list) and opts and str(v) not in {str(o) for o in opts}:
            shown = ", ".join(str(o) for o in opts[:8] if o != "")
            return [f"{t.ours}: {v!r} is not an option of {t.table}.{t.field} ({shown})"]
        return []

    def table_of(self, part: str | None) -> str:
        if part is None:
            return self.resource
        spec = self.schema.get(self.resource, {}).get(part)
        if spec is not None and str(spec.get("type", "")).startswith("reference "):
            return str(spec["type"]).split(" ", 1)[1]
        return part

    def reference_collections(self) -> set[str]:
        return {t.collection for t in self.targets.values() if t.collection}

    def to_json(self) -> dict[str, Any]:
        return self.raw


def _type_problem(ftype: str, v: Any) -> str | None:
    if ftype == "integer":
        ok = isinstance(v, int) and not isinstance(v, bool)
        ok = ok or (isinstance(v, str) and re.fullmatch(r"-?\d{1,18}", v) is not None)
        return None if ok else f"{v!r} is not a whole number"
    if ftype == "double":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        return None if ok else f"{v!r} is not a number"
    if ftype == "boolean":
        return None if isinstance(v, bool) else f"{v!r} is not true or false"
    if ftype == "date":
        return None if isinstance(v, str) and _DATE.fullmatch(v) else f"{v!r} is not a date"
    if ftype == "datetime":
        return None if parse_time(v) is not None else f"{v!r} is not a date and time"
    if ftype.startswith("list:"):
        return None if isinstance(v, list) else f"{v!r} is not a list"
    if ftype in ("string", "text"):
        return None if isinstance(v, (str, int, float)) and not isinstance(v, bool) \
            else f"{v!r} is not text"
    return None


def _schema_fields(schema: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(schema, dict) or len(schema) > MAX_FIELDS:
        raise BindingError(f"{where}: schema must be an object of at most {MAX_FIELDS} fields")
    out: dict[str, dict[str, Any]] = {}
    for name, spec in schema.items():
        if not isinstance(name, str) or not _FIELD.fullmatch(name) or not isinstance(spec, dict):
            raise BindingError(f"{where}: bad schema entry {str(name)[:40]!r}")
        out[name] = spec
    return out


def parse_binding(obj: Any) -> Binding:
    """Validate a binding (JSON object); every problem is a :class:`BindingError`."""
    if not isinstance(obj, dict):
        raise BindingError("a binding must be a JSON object")
    if obj.get("v") != VERSION:
        raise BindingError(f"binding version must be {VERSION}")
    coll, resource = obj.get("collection"), obj.get("resource")
    if not isinstance(coll, str) or not coll or len(coll) > 64:
        raise BindingError("binding: 'collection' must be a collection name")
    if not isinstance(resource, str) or not _NAME.fullmatch(resource) or "_" not in resource:
        raise BindingError("binding: 'resource' must be an Eden table name like cr_shelter")
    schema_in = obj.get("schema")
    if not isinstance(schema_in, dict) or resource not in schema_in or len(schema_in) > 32:
        raise BindingError(f"binding: 'schema' must describe {resource} (from Eden's mform.json)",
                           hints=("sneakersync eden bind reads it from Eden: --url URL",))
    schema = {}
    for table, fields in schema_in.items():
        if not isinstance(table, str) or not _NAME.fullmatch(table):
            raise BindingError(f"binding: bad table name {str(table)[:40]!r} in schema")
        schema[table] = _schema_fields(fields, table)
    fields_in = obj.get("fields")
    if not isinstance(fields_in, dict) or not fields_in or len(fields_in) > MAX_FIELDS:
        raise BindingError("binding: 'fields' must map our fields to Eden fields")
    keep_in = obj.get("keep", [])
    if not isinstance(keep_in, list) or not all(isinstance(k, str) for k in keep_in):
        raise BindingError("binding: 'keep' must be a list of field names")
    b = Binding(coll, resource, {}, tuple(keep_in), schema, obj)
    problems: list[str] = []
    used: dict[tuple[str | None, str], str] = {}
    for ours, spec in fields_in.items():
        try:
            t = _target(b, ours, spec)
        except BindingError as exc:
            problems.append(str(exc))
            continue
        if (t.part, t.field) in used:
            problems.append(f"{ours}: {t.table}.{t.field} is already the target of "
                            f"{used[(t.part, t.field)]}")
        used[(t.part, t.field)] = ours
        b.targets[ours] = t
    for ours in keep_in:
        if ours in b.targets:
            problems.append(f"{ours}: both mapped and kept")
    # required Eden fields of the main table must be fed (or have a default)
    for fname, spec in schema[resource].items():
        if spec.get("required") and spec.get("writable", True) and "default" not in spec \
                and (None, fname) not in used and not str(spec.get("type")).startswith("objectkey"):
            problems.append(f"{resource}.{fname} is required by Eden: map one of our fields to it")
    if problems:
        raise BindingError(f"binding for {coll} -> {resource}: {problems[0]}",
                           hints=tuple(problems[1:6]))
    return b


def _target(b: Binding, ours: str, spec: Any) -> Target:
    if not isinstance(ours, str) or not ours or ours.startswith(("@", "$")) or len(ours) > 64:
        raise BindingError(f"{str(ours)[:40]!r}: not a usable field name")
    values = None
    collection = None
    if isinstance(spec, dict):
        to = spec.get("to")
        if "values" in spec:
            values = spec["values"]
            if not isinstance(values, dict) or not values:
                raise BindingError(f"{ours}: 'values' must map our values to Eden's")
            back = [json.dumps(v, sort_keys=True) for v in values.values()]
            if len(set(back)) != len(back):
                raise BindingError(f"{ours}: 'values' must be one-to-one (so pulls map back)")
        if "collection" in spec:
            collection = spec["collection"]
            if not isinstance(collection, str) or not collection:
                raise BindingError(f"{ours}: 'collection' must name a collection")
    else:
        to = spec
    if not isinstance(to, str) or not to:
        raise BindingError(f"{ours}: the Eden target must be 'field' or 'part.field'")
    part, dot, fname = to.rpartition(".")
    partname: str | None = part if dot else None
    table = b.table_of(partname)
    fields = b.schema.get(table)
    if fields is None:
        raise BindingError(f"{ours}: Eden table {table} is not in the binding's schema")
    if partname is not None and partname not in b.schema and partname not in \
            b.schema[b.resource]:
        raise BindingError(f"{ours}: {partname} is neither a component nor a reference field")
    fspec = fields.get(fname)
    if fspec is None:
        raise BindingError(f"{ours}: {table} has no field {fname!r} Eden accepts "
                           "(unknown, virtual or not in its form)")
    if fspec.get("writable") is False:
        raise BindingError(f"{ours}: {table}.{fname} is read-only in Eden")
    ftype = str(fspec.get("type", ""))
    if ftype.startswith("reference "):
        if collection is None:
            raise BindingError(f"{ours}: {table}.{fname} is a reference: say which collection "
                               "our value points into ({\"to\": ..., \"collection\": ...})")
    elif collection is not None:
        raise BindingError(f"{ours}: {table}.{fname} is not a reference field")
    elif ftype not in SUPPORTED:
        raise BindingError(f"{ours}: {table}.{fname} has a type we do not send ({ftype})")
    return Target(ours, partname, table, fname, values, collection)


def binding_from_mform(collection: str, resource: str, forms: Mapping[str, Any],
                       fields: Mapping[str, Any], keep: Iterable[str]) -> dict[str, Any]:
    """A binding object from Eden ``mform.json`` answers (table -> answer) and a field map."""
    schema: dict[str, Any] = {}
    for table, answer in forms.items():
        main = answer.get("main", {}) if isinstance(answer, dict) else {}
        got = main.get("schema")
        if isinstance(got, dict):
            schema[table] = {k: _slim(v) for k, v in got.items() if isinstance(v, dict)}
        refs = answer.get("references", {}) if isinstance(answer, dict) else {}
        for rtable, rdesc in (refs.items() if isinstance(refs, dict) else []):
            if rtable not in schema and isinstance(rdesc, dict) and \
                    isinstance(rdesc.get("schema"), dict):
                schema[rtable] = {k: _slim(v) for k, v in rdesc["schema"].items()
                                  if isinstance(v, dict)}
    return {"v": VERSION, "collection": collection, "resource": resource,
            "fields": dict(fields), "keep": sorted(set(keep)), "schema": schema}


def _slim(spec: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": str(spec.get("type", "string"))}
    for k in ("required", "writable", "default"):
        if k in spec:
            out[k] = spec[k]
    opts = spec.get("options")
    if isinstance(opts, list):
        out["options"] = [o[0] if isinstance(o, list) and o else o for o in opts]
    return out


def slim_binding(b: Binding) -> dict[str, Any]:
    """The binding with only the schema entries it uses (what is stored and travels)."""
    used: dict[str, set[str]] = {}
    for t in b.targets.values():
        used.setdefault(t.table, set()).add(t.field)
    for fname, spec in b.schema[b.resource].items():
        if spec.get("required"):
            used.setdefault(b.resource, set()).add(fname)
    for t in b.targets.values():
        if t.part is not None:
            used.setdefault(b.resource, set())
            if t.part in b.schema[b.resource]:
                used[b.resource].add(t.part)
    schema = {table: {f: b.schema[table][f] for f in sorted(fs) if f in b.schema[table]}
              for table, fs in sorted(used.items())}
    raw = dict(b.raw)
    raw["schema"] = schema
    raw["keep"] = sorted(set(b.keep))
    return raw


# --- records to Eden items -----------------------------------------------------------

@dataclass
class Item:
    """One Eden record to send: its table, uuid and S3JSON-style content."""

    table: str
    uuid: str
    body: dict[str, Any]
    extra: list["Item"] = field(default_factory=list)   # embedded records (e.g. locations)
    refs: list[tuple[str, str]] = field(default_factory=list)  # (collection, rid) referenced


def to_item(b: Binding, rid: str, data: Mapping[str, Any] | None, *, deleted: bool,
            modified_ms: int, created_ms: int, tables: Mapping[str, str]) -> Item:
    """A record of the bound collection as an Eden item (components nested).

    ``tables`` gives the Eden table of each bound collection, for references.
    """
    uid = eden_uuid(b.collection, rid)
    body: dict[str, Any] = {"@uuid": uid, "@modified_on": eden_time(modified_ms),
                            "@created_on": eden_time(created_ms)}
    item = Item(b.resource, uid, body)
    if deleted or data is None:
        body["@deleted"] = "true"
        return item
    meta = data.get(META_KEY) if isinstance(data.get(META_KEY), dict) else {}
    parts: dict[str, dict[str, Any]] = {}
    for ours, t in sorted(b.targets.items()):
        v = data.get(ours)
        if v is None or v == "":
            continue
        if t.collection is not None:
            ref = {"@resource": tables.get(t.collection, ""),
                   "@uuid": eden_uuid(t.collection, str(v))}
            item.refs.append((t.collection, str(v)))
            target = body if t.part is None else parts.setdefault(t.part, {})
            target[f"$k_{t.field}"] = ref
            continue
        if t.values is not None:
            v = t.values.get(v if isinstance(v, str) else json.dumps(v), v)
        v = _plain(v)
        if t.part is None:
            body[t.field] = v
        else:
            parts.setdefault(t.part, {})[t.field] = v
    for part, fields in sorted(parts.items()):
        table = b.table_of(part)
        puid = str(meta.get(part)) if isinstance(meta, dict) and meta.get(part) \
            else part_uuid(uid, part)
        sub = {"@uuid": puid, "@modified_on": body["@modified_on"], **fields}
        if table != part:            # an embedded referenced record, e.g. location_id
            item.extra.append(Item(table, puid, sub))
            body[f"$k_{part}"] = {"@resource": table, "@uuid": puid}
        else:                         # a component, nested
            body[f"$_{part}"] = [sub]
    return item


def _plain(v: Any) -> Any:
    """A value as Eden takes it: objects as JSON text; text without the characters
    XML 1.0 cannot carry (Eden turns S3JSON into an XML tree before importing)."""
    if isinstance(v, dict):
        v = json.dumps(v, ensure_ascii=True, sort_keys=True)
    if isinstance(v, str):
        return _XML_BAD.sub("", v)
    if isinstance(v, list):
        return [_XML_BAD.sub("", x) if isinstance(x, str) else x for x in v]
    return v


def document(items: Iterable[Item]) -> dict[str, list[dict[str, Any]]]:
    """S3JSON document: every item and its embedded records, each uuid once, by table."""
    doc: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()

    def add(it: Item) -> None:
        if it.uuid in seen:
            return
        seen.add(it.uuid)
        for x in it.extra:
            add(x)
        doc.setdefault(f"$_{it.table}", []).append(it.body)
    for it in items:
        add(it)
    return doc


def write_s3json(doc: Mapping[str, Any]) -> bytes:
    """ASCII-only S3JSON (non-ASCII text as \\u escapes)."""
    return (json.dumps(doc, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


def xml_text(v: Any) -> str:
    """Text for XML 1.0: characters XML cannot carry are dropped."""
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=True)
    return _XML_BAD.sub("", s)


def write_s3xml(doc: Mapping[str, Any]) -> bytes:
    """ASCII-only S3XML (non-ASCII text as character references) of an S3JSON document."""
    root = ET.Element("s3xml")
    for key, items in doc.items():
        for it in items:
            root.append(_xml_resource(key[2:], it))
    ET.indent(root)
    out: bytes = ET.tostring(root, encoding="us-ascii", xml_declaration=True)
    return out + b"\n"


def _xml_resource(table: str, it: Mapping[str, Any]) -> ET.Element:
    attrs = {"name": table}
    for k, v in it.items():
        if k.startswith("@"):
            attrs[k[1:]] = xml_text(v)
    el = ET.Element("resource", attrs)
    for k, v in it.items():
        if k.startswith("@"):
            continue
        if k.startswith("$k_"):
            ET.SubElement(el, "reference", {"field": k[3:], "resource": xml_text(v["@resource"]),
                                            "uuid": xml_text(v["@uuid"])})
        elif k.startswith("$_"):
            for sub in v:
                el.append(_xml_resource(k[2:], sub))
        else:
            a = {"field": k}
            if isinstance(v, (bool, int, float)):
                a["value"] = json.dumps(v)
            d = ET.SubElement(el, "data", a)
            d.text = xml_text(v if not isinstance(v, bool) else ("true" if v else "false"))
    return el


# --- reading Eden's files ------------------------------------------------------------

@dataclass
class EdenItem:
    """A record as Eden exported it: plain values, references as (table, uuid)."""

    table: str
    uuid: str
    deleted: bool
    modified_ms: int | None
    values: dict[str, Any]
    refs: dict[str, tuple[str, str]]
    parts: dict[str, list["EdenItem"]]
    attrs: dict[str, str]


def read_eden(data: bytes) -> list[EdenItem]:
    """Top-level items of an S3JSON or S3XML document (told apart by the first byte)."""
    if len(data) > MAX_DOC:
        raise InputError(f"Eden document larger than {MAX_DOC} bytes")
    head = data.lstrip()[:1]
    if head == b"{":
        return read_s3json(data)
    if head == b"<":
        return read_s3xml(data)
    raise InputError("not an Eden document (expected S3JSON or S3XML)")


def read_s3json(data: bytes) -> list[EdenItem]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"S3JSON: not valid JSON ({str(exc)[:80]})") from exc
    if not isinstance(doc, dict):
        raise InputError("S3JSON: the document must be an object")
    domain = doc.get("@domain") if isinstance(doc.get("@domain"), str) else None
    out: list[EdenItem] = []
    for key, items in doc.items():
        if key.startswith("$_"):
            for it in (items if isinstance(items, list) else [items]):
                out.append(_json_item(key[2:], it, domain, 0))
    return out


def _unwrap(v: Any) -> Any:
    if isinstance(v, dict):
        if "@value" in v:
            return v["@value"]
        if "$" in v:
            return v["$"]
        return None
    return v


def _strip_domain(uid: str, domain: str | None) -> str:
    # Eden exports a uuid that is not a URN as "<domain>/<uuid>"
    if domain and uid.startswith(domain + "/"):
        return uid[len(domain) + 1:]
    return uid


def _json_item(table: str, it: Any, domain: str | None, depth: int) -> EdenItem:
    if not isinstance(it, dict) or depth > MAX_DEPTH:
        raise InputError(f"S3JSON: an item of {table[:40]} is not an object")
    uid = it.get("@uuid")
    if not isinstance(uid, str) or not uid or len(uid) > 200:
        raise InputError(f"S3JSON: an item of {table[:40]} has no usable @uuid")
    values: dict[str, Any] = {}
    refs: dict[str, tuple[str, str]] = {}
    parts: dict[str, list[EdenItem]] = {}
    attrs: dict[str, str] = {}
    for k, v in it.items():
        if k.startswith("@"):
            attrs[k[1:]] = str(v)
        elif k.startswith("$k_"):
            if isinstance(v, dict) and isinstance(v.get("@uuid"), str):
                refs[k[3:]] = (str(v.get("@resource", "")), _strip_domain(v["@uuid"], domain))
                for ka in ("lat", "lon"):
                    if f"@{ka}" in v:
                        attrs[f"{k[3:]}.{ka}"] = str(v[f"@{ka}"])
        elif k.startswith("$_"):
            parts[k[2:]] = [_json_item(k[2:], s, domain, depth + 1)
                            for s in (v if isinstance(v, list) else [v])]
        elif not k.startswith("$"):
            values[k] = _unwrap(v)
    deleted = str(it.get("@deleted", "false")).lower() == "true"
    return EdenItem(table, _strip_domain(uid, domain), deleted, parse_time(it.get("@modified_on")),
                    values, refs, parts, attrs)


def read_s3xml(data: bytes) -> list[EdenItem]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise InputError("S3XML: document type declarations and UTF-16 are not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(f"S3XML: not well-formed XML ({exc})") from exc
    if root.tag != "s3xml":
        raise InputError("S3XML: the root element must be <s3xml>")
    domain = root.get("domain")
    return [_xml_item(el, domain, 0) for el in root if el.tag == "resource"]


def _xml_item(el: ET.Element, domain: str | None, depth: int) -> EdenItem:
    table = el.get("name") or ""
    uid = el.get("uuid") or ""
    if not table or not uid or len(uid) > 200 or depth > MAX_DEPTH:
        raise InputError("S3XML: a <resource> lacks a name or uuid")
    values: dict[str, Any] = {}
    refs: dict[str, tuple[str, str]] = {}
    parts: dict[str, list[EdenItem]] = {}
    attrs = {k: v for k, v in el.attrib.items()}
    for sub in el:
        fname = sub.get("field") or ""
        if sub.tag == "data" and fname:
            raw = sub.get("value")
            if raw is not None:
                try:
                    values[fname] = json.loads(raw)
                except ValueError:
                    values[fname] = raw
            else:
                values[fname] = sub.text or ""
        elif sub.tag == "reference" and fname and sub.get("uuid"):
            refs[fname] = (sub.get("resource") or "", _strip_domain(sub.get("uuid") or "", domain))
            for ka in ("lat", "lon"):
                if sub.get(ka) is not None:
                    attrs[f"{fname}.{ka}"] = sub.get(ka) or ""
        elif sub.tag == "resource":
            child = _xml_item(sub, domain, depth + 1)
            parts.setdefault(child.table, []).append(child)
    deleted = (el.get("deleted") or "false").lower() == "true"
    return EdenItem(table, _strip_domain(uid, domain), deleted,
                    parse_time(el.get("modified_on")), values, refs, parts, attrs)


def item_to_record(b: Binding | None, it: EdenItem,
                   others: Mapping[str, EdenItem] | None = None) -> dict[str, Any]:
    """The record data an Eden item becomes (inverse of the binding; all fields if unbound)."""
    if b is None:
        out = dict(it.values)
        for f, (_table, uid) in it.refs.items():
            out[f] = uid
        return out
    out = {}
    meta: dict[str, str] = {}
    for ours, t in b.targets.items():
        src: EdenItem = it
        if t.part is not None:
            if t.part in it.parts and it.parts[t.part]:
                src = it.parts[t.part][0]
                meta[t.part] = src.uuid
            elif t.part in it.refs:
                ruid = it.refs[t.part][1]
                meta[t.part] = ruid
                found = (others or {}).get(ruid)
                if found is None:
                    # Eden's export of a location reference carries lat/lon as attributes
                    lat = it.attrs.get(f"{t.part}.{t.field}")
                    if lat is not None:
                        out[ours] = _number(lat)
                    continue
                src = found
            else:
                continue
        if t.collection is not None:
            if t.field in src.refs:
                out[ours] = src.refs[t.field][1]
            continue
        if t.field not in src.values:
            continue
        v = src.values[t.field]
        if v is None or v == "":
            continue
        if t.values is not None:
            back = {json.dumps(ev, sort_keys=True): ov for ov, ev in t.values.items()}
            for cand in (v, _number(v)):
                key = json.dumps(cand, sort_keys=True)
                if key in back:
                    v = back[key]
                    break
        out[ours] = v
    if meta:
        out[META_KEY] = dict(sorted(meta.items()))
    return out


def _number(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return v
    return v


# --- Eden's answer to an import --------------------------------------------------------

@dataclass
class ImportReply:
    ok: bool
    message: str
    errors: dict[str, str]      # uuid -> Eden's reason


def parse_import_reply(data: bytes) -> ImportReply:
    """Eden's JSON answer to ``POST .s3json``: the error tree names each refused item."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"Eden's answer is not JSON: {data[:120]!r}") from exc
    if not isinstance(obj, dict):
        raise InputError("Eden's answer is not a JSON object")
    errors: dict[str, str] = {}
    tree = obj.get("tree")
    if isinstance(tree, str):
        try:
            tree = json.loads(tree)
        except ValueError:
            tree = None
    if isinstance(tree, dict):
        for key, items in tree.items():
            if key.startswith("$_"):
                for it in (items if isinstance(items, list) else [items]):
                    _collect_errors(it, None, errors)
    ok = str(obj.get("status", "")) == "success"
    return ImportReply(ok, str(obj.get("message", ""))[:500], errors)


def _collect_errors(it: Any, owner: str | None, errors: dict[str, str]) -> None:
    if not isinstance(it, dict):
        return
    uid = it.get("@uuid") if isinstance(it.get("@uuid"), str) else None
    key = owner or uid
    reasons = []
    if "@error" in it:
        reasons.append(str(it["@error"]))
    for k, v in it.items():
        if isinstance(v, dict) and "@error" in v and not k.startswith("$"):
            reasons.append(f"{k}: {v['@error']}")
        elif k.startswith("$_"):
            for sub in (v if isinstance(v, list) else [v]):
                _collect_errors(sub, key, errors)
        elif k.startswith("$k_") and isinstance(v, dict) and "@error" in v:
            reasons.append(f"{k[3:]}: {v['@error']}")
    if reasons and key:
        prev = errors.get(key)
        text = "; ".join(dict.fromkeys(reasons))
        errors[key] = f"{prev}; {text}" if prev else text
