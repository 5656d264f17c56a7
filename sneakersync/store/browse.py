"""Reading records the way a person browses them: search, a record's history, its fields.

Used by the browser UI and available to any shell; nothing here writes.
"""

from __future__ import annotations

import json
from typing import Any

from sneakersync.errors import UsageError
from sneakersync.store.records import Store, check_collection, version_from_raw

MAX_QUERY_LEN = 200
MAX_PAGE = 500
FIELD_SAMPLE = 200


def search(store: Store, collection: str, text: str = "", *, limit: int = 50,
           offset: int = 0) -> tuple[list[tuple[str, dict[str, Any]]], int]:
    """Live records whose id or any value contains ``text`` (case-insensitive).

    Returns one page of ``(id, data)`` in id order and the number of matches.
    """
    check_collection(collection)
    if len(text) > MAX_QUERY_LEN:
        raise UsageError(f"search text is longer than {MAX_QUERY_LEN} characters")
    limit = max(1, min(int(limit), MAX_PAGE))
    offset = max(0, int(offset))
    where = "collection=? AND deleted=0"
    args: list[Any] = [collection]
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where += " AND (rid LIKE ? ESCAPE '\\' OR data LIKE ? ESCAPE '\\')"
        args += [pattern, pattern]
    total = int(store.conn.execute(f"SELECT COUNT(*) FROM records WHERE {where}",
                                   args).fetchone()[0])
    rows = [(str(rid), json.loads(data)) for rid, data in store.conn.execute(
        f"SELECT rid, data FROM records WHERE {where} ORDER BY rid LIMIT ? OFFSET ?",
        args + [limit, offset])]
    return rows, total


def history(store: Store, collection: str, rid: str) -> list[dict[str, Any]]:
    """Every change to one record still held here, oldest first (by time, then origin)."""
    check_collection(collection)
    out = []
    for (raw,) in store.conn.execute(
            "SELECT raw FROM changes WHERE collection=? AND rid=?", (collection, rid)):
        v = version_from_raw(bytes(raw))
        out.append({"origin": v.origin, "counter": v.counter, "op": v.op, "data": v.data,
                    "ts": v.ts, "version": v.vv})
    out.sort(key=lambda c: (c["ts"], c["origin"], c["counter"]))
    return out


def fields(store: Store, collection: str, *, sample: int = FIELD_SAMPLE) -> list[dict[str, Any]]:
    """The fields seen in a collection's records, with the JSON type most of them hold.

    ``type`` is one of ``string``, ``integer``, ``number``, ``boolean``, ``json``
    (lists, objects, null or mixed).  Field order follows first appearance.
    """
    check_collection(collection)
    seen: dict[str, dict[str, int]] = {}
    for (data,) in store.conn.execute(
            "SELECT data FROM records WHERE collection=? AND deleted=0 ORDER BY rid LIMIT ?",
            (collection, sample)):
        for key, value in json.loads(data).items():
            kinds = seen.setdefault(key, {})
            kind = kind_of(value)
            kinds[kind] = kinds.get(kind, 0) + 1
    out = []
    for key, kinds in seen.items():
        if len(kinds) == 1:
            kind = next(iter(kinds))
        elif set(kinds) <= {"integer", "number"}:
            kind = "number"
        else:
            kind = "json"
        out.append({"name": key, "type": kind})
    return out


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "json"


def coerce(value: str, kind: str) -> Any:
    """A form field's text as the JSON value of ``kind`` (see :func:`fields`).

    An empty text is ``None`` (the field is left out by callers).  Raises
    :class:`UsageError` naming what is wrong.
    """
    text = value.strip()
    if text == "":
        return None
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "boolean":
            low = text.lower()
            if low in ("true", "yes", "on", "1"):
                return True
            if low in ("false", "no", "off", "0"):
                return False
            raise ValueError(f"{text!r} is not yes or no")
        if kind == "json":
            return json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a valid {kind}: {exc}") from exc
    return value


_EDEN_KINDS = {"integer": "integer", "double": "number", "boolean": "boolean"}


def form_fields(store: Store, collection: str) -> list[dict[str, Any]]:
    """The fields a form for one record of ``collection`` offers.

    From the collection's Eden binding when it has one (each bound field with its type,
    whether Eden requires it and its options; then the fields kept on the devices only),
    else from the fields its records hold (:func:`fields`).  Each: ``name``, ``type``
    (as in :func:`fields`), ``required``, ``options`` (``[{"value", "label"}]`` or empty)
    and ``eden`` (``table.field`` or None).
    """
    from sneakersync.store.binding import get_binding

    b = get_binding(store, collection)
    if b is None:
        return [dict(f, required=False, options=[], eden=None) for f in fields(store, collection)]
    out = []
    for name, t in b.targets.items():
        spec = b.schema.get(t.table, {}).get(t.field, {})
        ftype = str(spec.get("type", "string"))
        kind = "json" if ftype.startswith("list:") else _EDEN_KINDS.get(ftype, "string")
        if t.values is not None:
            options = [{"value": v, "label": f"{v} ({t.values[v]})" if str(t.values[v]) != v
                        else v} for v in t.values]
            kind = "string"
        elif isinstance(spec.get("options"), list):
            options = [{"value": str(o), "label": str(o)} for o in spec["options"] if o != ""]
        else:
            options = []
        out.append({"name": name, "type": kind, "options": options,
                    "required": bool(spec.get("required")) and "default" not in spec
                    and t.part is None, "eden": f"{t.table}.{t.field}"})
    seen = {f["name"] for f in out}
    kept = {f["name"]: f for f in fields(store, collection)}
    for name in b.keep:
        if name not in seen:
            out.append({"name": name, "type": kept.get(name, {}).get("type", "string"),
                        "required": False, "options": [], "eden": None})
    return out


def conflict_fields(versions: list[dict[str, Any]]) -> list[str]:
    """Every field any version of a conflict holds, in first-seen order."""
    out: dict[str, None] = {}
    for v in versions:
        for k in (v.get("data") or {}):
            out.setdefault(k, None)
    return list(out)


def merged(versions: list[dict[str, Any]], choices: dict[str, str],
           edits: dict[str, str]) -> dict[str, Any]:
    """One record made from a conflict's versions, field by field.

    ``choices[field]`` is a version number (1-based, as listed) or ``"edit"``, then
    ``edits[field]`` is the text typed (read as the type the versions hold).  A field
    chosen from a version that lacks it, or edited to empty, is left out.
    """
    out: dict[str, Any] = {}
    for name in conflict_fields(versions):
        choice = choices.get(name, "1")
        if choice == "edit":
            held = [v["data"][name] for v in versions if v.get("data") and name in v["data"]]
            kind = kind_of(held[0]) if held else "string"
            value = coerce(edits.get(name, ""), kind)
            if value is not None:
                out[name] = value
            continue
        try:
            n = int(choice)
        except ValueError:
            raise UsageError(f"{name}: choose a version or 'edit'") from None
        if not 1 <= n <= len(versions):
            raise UsageError(f"{name}: there is no version {n}")
        data = versions[n - 1].get("data") or {}
        if name in data:
            out[name] = data[name]
    if not out:
        raise UsageError("the merged record is empty; pick a version instead")
    return out
