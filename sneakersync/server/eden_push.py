"""Hand the server's records to Sahana Eden: REST push, FileSync drop folder, files.

Only collections bound to an Eden table (``eden bind``) go. Per target (an Eden URL or a
drop folder) the table ``srv_eden`` remembers, for each record, the version sent (origin,
counter, binding hash) and Eden's outcome, so:

- a record goes again only when its version or its binding changed (a second push sends
  nothing); a record Eden refused is kept with Eden's reason and goes again after a fix;
- a record the binding refuses (a required field missing, an unknown field, a value Eden
  has no option for) is not sent and is reported with the reason;
- a record with an open conflict is reported and waits; the rest still goes;
- ``modified_on`` is the server's receipt time of the winning change, never later than
  the server's clock now (a device clock a year ahead cannot block Eden's FileSync);
- referenced records (e.g. the person a shelter points to) travel in the same document.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from sneakersync.errors import UsageError
from sneakersync.server.store import ServerStore
from sneakersync.store import binding as binding_mod
from sneakersync.store.durable import write_durably
from sneakersync.store.records import now_ms
from sneakersync.wire import eden

_SCHEMA = """CREATE TABLE IF NOT EXISTS srv_eden (
    target TEXT NOT NULL, collection TEXT NOT NULL, rid TEXT NOT NULL,
    origin TEXT NOT NULL, counter INTEGER NOT NULL, bhash TEXT NOT NULL,
    outcome TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL,
    PRIMARY KEY (target, collection, rid))"""
_BATCHES = """CREATE TABLE IF NOT EXISTS srv_eden_files (
    target TEXT PRIMARY KEY, batch INTEGER NOT NULL, mtime REAL NOT NULL)"""
CHUNK = 500
FILESYNC_PREFIX = "sneakersync_"


@dataclass
class Due:
    collection: str
    rid: str
    origin: str
    counter: int
    bhash: str
    item: eden.Item | None = None
    reason: str | None = None


@dataclass
class Report:
    target: str
    sent: int = 0
    accepted: int = 0
    written: int = 0
    unchanged: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"target": self.target, "sent": self.sent, "accepted": self.accepted,
                "written": self.written, "unchanged": self.unchanged, "refused": self.refused,
                "conflicts": self.conflicts, "files": self.files}


def _ensure(sstore: ServerStore) -> None:
    with sstore.transaction():
        sstore.core.conn.execute(_SCHEMA)
        sstore.core.conn.execute(_BATCHES)


def _bindings(sstore: ServerStore, collection: str | None) -> dict[str, eden.Binding]:
    out = {}
    for name in binding_mod.all_bindings(sstore.core):
        if collection is None or name == collection:
            b = binding_mod.get_binding(sstore.core, name)
            if b is not None:
                out[name] = b
    if not out:
        raise UsageError("no collection is bound to an Eden table" if collection is None
                         else f"collection {collection!r} is not bound to an Eden table",
                         hints=("bind one: sneakersync eden bind COLLECTION TABLE --url URL",))
    return out


def _rows(sstore: ServerStore, collection: str) -> Iterable[tuple[Any, ...]]:
    return sstore.core.conn.execute(
        "SELECT r.rid, r.data, r.deleted, r.open, r.origin, r.counter, "
        "(SELECT received_at FROM changes w WHERE w.origin=r.origin AND w.counter=r.counter), "
        "(SELECT MIN(ts) FROM changes f WHERE f.collection=r.collection AND f.rid=r.rid) "
        "FROM records r WHERE r.collection=? ORDER BY r.rid", (collection,))


def _live(sstore: ServerStore, collection: str, rid: str) -> bool:
    return sstore.core.conn.execute(
        "SELECT 1 FROM records WHERE collection=? AND rid=? AND deleted=0",
        (collection, rid)).fetchone() is not None


def plan(sstore: ServerStore, target: str, *, collection: str | None = None,
         now: int | None = None, everything: bool = False) -> tuple[list[Due], Report]:
    """What is due for ``target``: new versions, with their Eden items or refusal reasons."""
    import json

    _ensure(sstore)
    clock = now if now is not None else now_ms()
    bindings = _bindings(sstore, collection)
    tables = {name: b.resource for name, b in
              ((n, binding_mod.get_binding(sstore.core, n))
               for n in binding_mod.all_bindings(sstore.core)) if b is not None}
    report = Report(target)
    sent = {(c, r): (o, n, h) for c, r, o, n, h in sstore.core.conn.execute(
        "SELECT collection, rid, origin, counter, bhash FROM srv_eden WHERE target=?", (target,))}
    due: list[Due] = []
    for name, b in sorted(bindings.items()):
        bh = binding_mod.binding_hash(b)
        for rid, data, deleted, open_, origin, counter, received, created in _rows(sstore, name):
            if open_:
                report.conflicts.append({"collection": name, "id": rid,
                                         "reason": "open conflict: decide it first "
                                                   "(sneakersync conflicts)"})
                continue
            if not everything and sent.get((name, rid)) == (origin, counter, bh):
                report.unchanged += 1
                continue
            d = Due(name, rid, origin, counter, bh)
            rec = json.loads(data) if data else None
            problems = [] if deleted or rec is None else b.check_record(rec)
            for ours, t in b.targets.items():
                v = rec.get(ours) if rec else None
                if not t.collection or not isinstance(v, str) or not v:
                    continue
                if t.collection not in tables:
                    problems.append(f"{ours}: points into {t.collection}, which is not bound "
                                    "to an Eden table")
                elif v[:4].lower() != "urn:" and not _live(sstore, t.collection, v):
                    problems.append(f"{ours}: points to {v!r}, which is not a record of "
                                    f"{t.collection} here")
            if problems:
                d.reason = "not sent: " + "; ".join(problems)
            else:
                modified = min(int(received or clock), clock)
                d.item = eden.to_item(b, rid, rec, deleted=bool(deleted), modified_ms=modified,
                                      created_ms=min(int(created or modified), modified),
                                      tables=tables)
            due.append(d)
    return due, report


def _referenced(sstore: ServerStore, due: list[Due], target: str,
                now: int) -> dict[tuple[str, str], eden.Item]:
    """Items for records the due ones point to, so they travel in the same document."""
    wanted = {ref for d in due if d.item for ref in d.item.refs}
    out: dict[tuple[str, str], eden.Item] = {
        (d.collection, d.rid): d.item for d in due
        if d.item and (d.collection, d.rid) in wanted and "@deleted" not in d.item.body}
    missing = wanted - set(out)
    if not missing:
        return out
    by_coll: dict[str, set[str]] = {}
    for c, r in missing:
        by_coll.setdefault(c, set()).add(r)
    for coll, rids in by_coll.items():
        try:
            more, _ = plan(sstore, target, collection=coll, now=now, everything=True)
        except UsageError:
            continue
        for d in more:
            if d.rid in rids and d.item is not None and "@deleted" not in d.item.body:
                out[(coll, d.rid)] = d.item
    return out


def _record(sstore: ServerStore, target: str, rows: list[tuple[Due, str, str | None]]) -> None:
    at = now_ms()
    with sstore.transaction():
        sstore.core.conn.executemany(
            "INSERT INTO srv_eden(target, collection, rid, origin, counter, bhash, outcome, "
            "reason, at) VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT(target, collection, rid) DO "
            "UPDATE SET origin=excluded.origin, counter=excluded.counter, bhash=excluded.bhash, "
            "outcome=excluded.outcome, reason=excluded.reason, at=excluded.at",
            [(target, d.collection, d.rid, d.origin, d.counter, d.bhash, outcome, reason, at)
             for d, outcome, reason in rows])


def _refusals(sstore: ServerStore, report: Report, target: str, due: list[Due]) -> None:
    bad = [d for d in due if d.item is None]
    for d in bad:
        report.refused.append({"collection": d.collection, "id": d.rid,
                               "reason": d.reason or "refused"})
    if bad:
        _record(sstore, target, [(d, "refused", d.reason) for d in bad])


def _table_order(due: list[Due]) -> list[str]:
    """Eden tables, referenced ones first."""
    tables = sorted({d.item.table for d in due if d.item})
    deps: dict[str, set[str]] = {t: set() for t in tables}
    for d in due:
        if d.item:
            for x in d.item.extra:
                deps[d.item.table].add(x.table)
    order: list[str] = []
    while len(order) < len(tables):
        ready = [t for t in tables if t not in order and deps[t] <= set(order) | {t}]
        order.append(ready[0] if ready else next(t for t in tables if t not in order))
    return order


def rest_push(sstore: ServerStore, client: Any, *, collection: str | None = None,
              now: int | None = None,
              progress: Callable[[int], None] | None = None) -> Report:
    """POST each due record to Eden (S3JSON), record Eden's outcome per record."""
    target = "rest:" + client.base
    clock = now if now is not None else now_ms()
    due, report = plan(sstore, target, collection=collection, now=clock)
    _refusals(sstore, report, target, due)
    refs = _referenced(sstore, due, target, clock)
    for table in _table_order(due):
        todo = [d for d in due if d.item and d.item.table == table]
        for i in range(0, len(todo), CHUNK):
            chunk = todo[i:i + CHUNK]
            items = [d.item for d in chunk if d.item]
            extra = [refs[r] for it in items for r in it.refs if r in refs]
            body = eden.write_s3json(eden.document(extra + items))
            ans = client.import_s3json(table, body)
            rows = _outcomes(ans, chunk, report)
            _record(sstore, target, rows)
            report.sent += len(chunk)
            if progress:
                progress(len(chunk))
    return report


def _outcomes(ans: Any, chunk: list[Due], report: Report) -> list[tuple[Due, str, str | None]]:
    from sneakersync.media.eden import EdenUnreachable

    if ans.status in (401, 403):
        raise EdenUnreachable(f"Eden refused the import: HTTP {ans.status} (the user needs "
                              "create and update rights on the table)")
    try:
        reply = eden.parse_import_reply(ans.body)
    except eden.InputError as exc:
        raise EdenUnreachable(f"Eden answered {ans.status}: {exc}") from exc
    rows: list[tuple[Due, str, str | None]] = []
    for d in chunk:
        assert d.item is not None
        why = reply.errors.get(d.item.uuid)
        if why is None and not reply.ok and not reply.errors:
            why = reply.message or f"HTTP {ans.status}"
        if why is None and not reply.ok:
            why = None
        if why is not None:
            report.refused.append({"collection": d.collection, "id": d.rid,
                                   "reason": f"Eden: {why}"})
            rows.append((d, "refused", f"Eden: {why}"))
        else:
            report.accepted += 1
            rows.append((d, "accepted", None))
    return rows


def _stamp(item: eden.Item, when: str) -> None:
    """Give an item (its components and embedded records too) one modified_on."""
    def walk(node: dict[str, Any]) -> None:
        if "@modified_on" in node:
            node["@modified_on"] = when
        for k, v in node.items():
            if k.startswith("$_") and isinstance(v, list):
                for sub in v:
                    walk(sub)
    walk(item.body)
    for x in item.extra:
        _stamp(x, when)


def write_files(sstore: ServerStore, folder: Path, *, collection: str | None = None,
                now: int | None = None, fmt: str = "s3xml") -> Report:
    """An Eden FileSync drop folder: one ASCII-only S3XML file per Eden table and batch.

    Only what changed since the last batch goes (deltas); each file holds the records
    its records point to. Eden's FileSync takes a file whose time is after the task's
    ``last_pull`` and then sets ``last_pull`` to the newest ``modified_on`` it imported
    plus 1 s. So every record in a file carries the file's own time as ``modified_on``:
    the server's clock (even seconds, as FAT keeps them), 2 s above every earlier file.
    A file is then taken exactly once, and no device clock can move ``last_pull``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = "filesync:" + str(folder.resolve())
    clock = now if now is not None else now_ms()
    due, report = plan(sstore, target, collection=collection, now=clock)
    _refusals(sstore, report, target, due)
    refs = _referenced(sstore, due, target, clock)
    row = sstore.core.conn.execute("SELECT batch, mtime FROM srv_eden_files WHERE target=?",
                                   (target,)).fetchone()
    batch, last = (int(row[0]), float(row[1])) if row else (0, 0.0)
    newest = max([p.stat().st_mtime for p in folder.glob(f"{FILESYNC_PREFIX}*")] + [last])
    base = max(2 * math.ceil(max(clock / 1000, time.time()) / 2), 2 * math.floor(newest / 2) + 2)
    order = _table_order(due)
    if not order:
        return report
    batch += 1
    mtime = float(base)
    for i, table in enumerate(order):
        chunk = [d for d in due if d.item and d.item.table == table]
        items = [d.item for d in chunk if d.item]
        extra = [refs[r] for it in items for r in it.refs if r in refs]
        mtime = float(base + 2 * i)
        for it in extra + items:
            _stamp(it, eden.eden_time(int(mtime) * 1000))
        doc = eden.document(extra + items)
        ext = "xml" if fmt == "s3xml" else "s3json"
        data = eden.write_s3xml(doc) if fmt == "s3xml" else eden.write_s3json(doc)
        path = folder / f"{FILESYNC_PREFIX}{table}_{batch:06d}.{ext}"
        write_durably(path, data, mtime=mtime, tmp_name="." + path.name + ".tmp")
        report.files.append({"file": str(path), "resource": table, "records": len(chunk),
                             "mtime": mtime})
        report.written += len(chunk)
        report.sent += len(chunk)
        _record(sstore, target, [(d, "written", None) for d in chunk])
    with sstore.transaction():
        sstore.core.conn.execute(
            "INSERT INTO srv_eden_files(target, batch, mtime) VALUES(?,?,?) ON CONFLICT(target) "
            "DO UPDATE SET batch=excluded.batch, mtime=excluded.mtime", (target, batch, mtime))
    return report


def write_document(sstore: ServerStore, out: Path, *, collection: str | None = None,
                   now: int | None = None) -> Report:
    """Every bound record in one ASCII-only S3JSON (``.s3json``/``.json``) or S3XML file."""
    clock = now if now is not None else now_ms()
    due, report = plan(sstore, "file:" + str(out), collection=collection, now=clock,
                       everything=True)
    for d in due:
        if d.item is None:
            report.refused.append({"collection": d.collection, "id": d.rid,
                                   "reason": d.reason or "refused"})
    items = [d.item for d in due if d.item]
    doc = eden.document(items)
    data = eden.write_s3xml(doc) if Path(out).suffix.lower() == ".xml" \
        else eden.write_s3json(doc)
    write_durably(Path(out), data, tmp_name="." + Path(out).name + ".tmp")
    report.written = report.sent = len(items)
    report.files.append({"file": str(out), "records": len(items)})
    return report


def status(sstore: ServerStore, target_prefix: str = "") -> list[dict[str, Any]]:
    """Refused records per target, with Eden's reasons."""
    _ensure(sstore)
    return [{"target": t, "collection": c, "id": r, "reason": why} for t, c, r, why in
            sstore.core.conn.execute(
                "SELECT target, collection, rid, reason FROM srv_eden WHERE outcome='refused' "
                "AND target LIKE ? ORDER BY target, collection, rid", (target_prefix + "%",))]
