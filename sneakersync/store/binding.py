"""Collection bindings to Sahana Eden tables, stored in the device's store.

A binding (``formats/eden-binding-v1.md``) is validated when it is set, checks every
record written to its collection (``put``, ``load``, ``eden pull``) and travels with
packets to devices that have not bound that collection, as conflict policies do.

Table ``eden_bindings`` (collection, binding as canonical JSON, set_at).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Iterator

from sneakersync.errors import NotFoundError
from sneakersync.store.records import Store, check_collection, check_rid, now_ms
from sneakersync.wire import canonical
from sneakersync.wire.eden import (Binding, BindingError, EdenItem, eden_uuid, item_to_record,
                                   parse_binding, slim_binding)

_SCHEMA = """CREATE TABLE IF NOT EXISTS eden_bindings (
    collection TEXT PRIMARY KEY, binding TEXT NOT NULL, set_at INTEGER NOT NULL)"""
MAX_BINDINGS = 64


def _ensure(store: Store) -> None:
    store.conn.execute(_SCHEMA)


def set_binding(store: Store, obj: Any) -> Binding:
    """Validate and store a binding (replacing the collection's earlier one)."""
    b = parse_binding(obj)
    check_collection(b.collection)
    slim = slim_binding(b)
    parse_binding(slim)
    with store.transaction():
        _ensure(store)
        store.conn.execute(
            "INSERT INTO eden_bindings(collection, binding, set_at) VALUES(?,?,?) "
            "ON CONFLICT(collection) DO UPDATE SET binding=excluded.binding, "
            "set_at=excluded.set_at", (b.collection, canonical.dumps(slim), now_ms()))
    return parse_binding(slim)


def remove_binding(store: Store, collection: str) -> bool:
    with store.transaction():
        _ensure(store)
        cur = store.conn.execute("DELETE FROM eden_bindings WHERE collection=?", (collection,))
    return bool(cur.rowcount)


def get_binding(store: Store, collection: str) -> Binding | None:
    _ensure(store)
    row = store.conn.execute("SELECT binding FROM eden_bindings WHERE collection=?",
                             (collection,)).fetchone()
    return None if row is None else parse_binding(json.loads(row[0]))


def all_bindings(store: Store) -> dict[str, dict[str, Any]]:
    """Every binding as JSON objects, by collection (what travels in packets)."""
    _ensure(store)
    return {name: json.loads(text) for name, text in store.conn.execute(
        "SELECT collection, binding FROM eden_bindings ORDER BY collection")}


def binding_hash(b: Binding) -> str:
    return hashlib.sha256(canonical.dumps(b.to_json()).encode()).hexdigest()[:16]


def adopt(store: Store, incoming: Any) -> list[str]:
    """Bindings received with a packet, for collections this device has not bound."""
    if not isinstance(incoming, dict):
        return []
    mine = all_bindings(store)
    taken = []
    for name, obj in sorted(incoming.items())[:MAX_BINDINGS]:
        if name in mine or not isinstance(obj, dict) or obj.get("collection") != name:
            continue
        try:
            set_binding(store, obj)
        except (BindingError, ValueError):
            continue
        taken.append(name)
    return taken


def checked(store: Store, collection: str,
            items: Iterable[tuple[str | None, dict[str, Any]]]
            ) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Pass records through, refusing the first one the collection's binding rejects."""
    b = get_binding(store, collection)
    if b is None:
        yield from items
        return
    for n, (rid, data) in enumerate(items, 1):
        if isinstance(data, dict):
            problems = b.check_record(data)
            if problems:
                who = f"record {rid!r}" if rid else f"record {n}"
                raise BindingError(f"{collection}: {who} would not be stored by Eden "
                                   f"({b.resource}): {problems[0]}",
                                   hints=tuple(problems[1:5]) + (
                                       f"see the binding: sneakersync eden show {collection}",))
        yield rid, data


def records_from_eden(b: Binding | None, table: str | None,
                      items: list[EdenItem]) -> list[tuple[EdenItem, dict[str, Any]]]:
    """The items of one Eden table in a document, each with the record data it becomes."""
    want = b.resource if b is not None else table
    others = {it.uuid: it for it in items}
    out = []
    for it in items:
        if want is not None and it.table != want:
            continue
        out.append((it, item_to_record(b, it, others)))
    return out


def pull(store: Store, collection: str, items: list[EdenItem], *,
         table: str | None = None) -> dict[str, Any]:
    """Bring Eden's records into a collection, in one transaction.

    The Eden uuid is the record id, exactly; a deleted record becomes a tombstone; a
    record whose data did not change is not written again (a second pull changes
    nothing); ``modified_on`` is the change's time. Fields the binding keeps on the
    devices are left as they are. Records the binding refuses are reported, not written.
    """
    check_collection(collection)
    b = get_binding(store, collection)
    if b is None and table is None:
        raise BindingError(f"collection {collection!r} is not bound to an Eden table",
                           hints=(f"bind it: sneakersync eden bind {collection} TABLE ...",
                                  "or name the table: --table prefix_name"))
    res: dict[str, Any] = {"collection": collection, "created": 0, "updated": 0, "deleted": 0,
                           "unchanged": 0, "refused": []}
    ours = id_map(store, collection)
    ref_maps = {c: id_map(store, c) for c in (b.reference_collections() if b else ())}
    with store.transaction():
        for it, data in records_from_eden(b, table, items):
            rid = ours.get(it.uuid, it.uuid)
            if b is not None:
                for k, t in b.targets.items():
                    if t.collection and isinstance(data.get(k), str):
                        data[k] = ref_maps[t.collection].get(data[k], data[k])
            try:
                cur = store.get(collection, rid, include_deleted=True)
            except NotFoundError:
                cur = None
            ts = it.modified_ms or now_ms()
            if it.deleted:
                if cur is not None and not cur.deleted:
                    store.delete(collection, rid, ts=ts)
                    res["deleted"] += 1
                else:
                    res["unchanged"] += 1
                continue
            if b is not None and cur is not None and cur.data:
                for k in b.keep:
                    if k in cur.data and k not in data:
                        data[k] = cur.data[k]
            problems = b.check_record(data) if b is not None else []
            if problems:
                res["refused"].append({"id": rid, "reason": "; ".join(problems)})
                continue
            if cur is not None and not cur.deleted and cur.data == data:
                res["unchanged"] += 1
                continue
            check_rid(rid)
            store.put(collection, data, rid, ts=ts)
            res["updated" if cur is not None else "created"] += 1
    return res


def id_map(store: Store, collection: str) -> dict[str, str]:
    """Eden uuid -> our record id, for records whose id is not their Eden uuid already."""
    out = {}
    for (rid,) in store.conn.execute("SELECT rid FROM records WHERE collection=?",
                                     (collection,)):
        u = eden_uuid(collection, rid)
        if u != rid:
            out[u] = rid
    return out
