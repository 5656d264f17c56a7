"""What is waiting for whom: the data behind ``sneakersync status`` (library first).

Per peer: when it was last seen (a packet from it was applied), how many changes it
lacks (held here, never sent to it), how many are in transit (sent on a stick or a
QR stream, not yet confirmed by a packet back from it), open conflicts its edits
take part in, packets from it held in quarantine, and, for a destination server,
how many of this device's changes no receipt covers yet.  Also: the last import's
report, which ``save_import_report`` keeps in the home folder (``last-import.json``).

Counts are of changes and ignore share rules (a collection not shared with a peer
is counted as lacking); they say what is outstanding, not what the next export holds.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from typing import Any

from sneakersync.store import peers as peers_mod
from sneakersync.store.home import Home
from sneakersync.store.records import Store, now_ms
from sneakersync.sync.engine import held_ranges, subtract, union

Ranges = list[list[int]]
REPORT_FILE = "last-import.json"
MAX_REPORT_BYTES = 1 << 20


def _count(ranges: Ranges) -> int:
    return sum(hi - lo + 1 for lo, hi in ranges)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ago(ms: int | None, now: int | None = None) -> str:
    """A time a person reads at a glance: 'never', 'just now', '5 min ago', '3 days ago'."""
    if ms is None:
        return "never"
    s = max(0, ((now if now is not None else now_ms()) - ms) // 1000)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "min")):
        if s >= size:
            n = s // size
            return f"{n} {unit}{'s' if n != 1 and unit != 'min' else ''} ago"
    return "just now"


def device_names(home: Home, store: Store) -> dict[str, str]:
    """Device id -> the name a person knows it by: peers, forgotten peers' cards, this device."""
    from sneakersync.wire.identity import decode_card

    names: dict[str, str] = {}
    for (card,) in store.conn.execute("SELECT card FROM cards"):
        try:
            c = decode_card(card)
            names[c.device_id] = c.name
        except Exception:  # a damaged remembered card only loses its name
            continue
    for p in peers_mod.all_peers(store):
        names[p.device_id] = p.name
    names[home.device_id] = f"{home.name} (this device)"
    return names


def name_of(names: dict[str, str], device_id: str) -> str:
    return names.get(device_id) or f"unknown device {device_id}"


def save_import_report(home: Home, source: str, report: dict[str, Any],
                       *, now: int | None = None) -> None:
    """Keep the last import's report in the home folder (atomically replaced)."""
    doc = {"at": now if now is not None else now_ms(), "source": source, "report": report}
    data = json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")[:MAX_REPORT_BYTES]
    path = home.path / REPORT_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def last_import(home: Home) -> dict[str, Any] | None:
    path = home.path / REPORT_FILE
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_REPORT_BYTES + 1)
        doc = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    doc["at_iso"] = iso(doc.get("at") if isinstance(doc.get("at"), int) else None)
    return doc


def _knowledge(store: Store, peer_id: str, source: str) -> dict[str, Ranges]:
    out: dict[str, Ranges] = {}
    for origin, ranges in store.conn.execute(
            "SELECT origin, ranges FROM knowledge WHERE peer=? AND source=?", (peer_id, source)):
        out[origin] = union(out.get(origin, []), json.loads(ranges))
    return out


def _receipt_cover(store: Store, server_id: str) -> dict[str, Ranges]:
    from sneakersync.sync.receipts import ensure_schema

    ensure_schema(store)
    out: dict[str, Ranges] = {}
    for origin, lo, hi in store.conn.execute(
            "SELECT origin, lo, hi FROM rcpt_cover WHERE server=?", (server_id,)):
        out[origin] = union(out.get(origin, []), [[lo, hi]])
    return out


def status(home: Home, store: Store, *, now: int | None = None) -> dict[str, Any]:
    """Everything ``status`` shows, as plain data (``--json`` prints exactly this)."""
    from sneakersync.sync.receipts import destination

    now = now if now is not None else now_ms()
    names = device_names(home, store)
    held = held_ranges(store)
    open_conflicts = store.conflicts()
    by_origin: dict[str, int] = {}
    for c in open_conflicts:
        for origin in {v["origin"] for v in c["versions"]}:
            by_origin[origin] = by_origin.get(origin, 0) + 1
    held_q: dict[str, int] = {}
    for sender, n in store.conn.execute(
            "SELECT sender, COUNT(*) FROM packets WHERE status='quarantined' GROUP BY sender"):
        held_q[str(sender)] = int(n)
    dest = destination(store)
    peers_out = []
    for p in peers_mod.all_peers(store):
        acked = _knowledge(store, p.device_id, "acked")
        sent = _knowledge(store, p.device_id, "sent")
        seen = p.last_seen
        if p.kind == "server":  # a receipt confirms what the server holds, like an ack
            cover = _receipt_cover(store, p.device_id)
            for origin, rs in cover.items():
                acked[origin] = union(acked.get(origin, []), rs)
            row = store.conn.execute("SELECT at FROM rcpt_state WHERE server=?",
                                     (p.device_id,)).fetchone()
            if row is not None and (seen is None or row[0] > seen):
                seen = int(row[0])
        lacks = in_transit = 0
        for origin, rs in held.items():
            if origin == p.device_id:
                continue
            has = acked.get(origin, [])
            not_acked = subtract(rs, has)
            lacks += _count(subtract(not_acked, sent.get(origin, [])))
            in_transit += _count(not_acked) - _count(subtract(not_acked, sent.get(origin, [])))
        item: dict[str, Any] = {
            "name": p.name, "device_id": p.device_id, "kind": p.kind, "trust": p.trust,
            "verified": p.verified, "revoked": p.revoked,
            "last_seen": seen, "last_seen_iso": iso(seen), "last_seen_ago": ago(seen, now),
            "lacks": 0 if p.revoked else lacks, "in_transit": 0 if p.revoked else in_transit,
            "open_conflicts": by_origin.get(p.device_id, 0),
            "quarantined_packets": held_q.pop(p.device_id, 0),
        }
        if p.kind == "server":
            mine = held.get(home.device_id, [])
            item["destination"] = dest is not None and dest.device_id == p.device_id
            item["awaiting_receipt"] = _count(subtract(mine, cover.get(home.device_id, [])))
        peers_out.append(item)
    strangers = [{"device_id": s, "name": names.get(s), "quarantined_packets": n}
                 for s, n in sorted(held_q.items())]
    return {
        "device": {"name": home.name, "device_id": home.device_id},
        "now": now, "now_iso": iso(now),
        "changes_held": sum(_count(r) for r in held.values()),
        "own_changes": _count(held.get(home.device_id, [])),
        "open_conflicts": len(open_conflicts),
        "quarantined_packets": sum(it["quarantined_packets"] for it in peers_out)
        + sum(s["quarantined_packets"] for s in strangers),
        "strangers": strangers,
        "peers": peers_out,
        "last_import": last_import(home),
    }



def sharing(store: Store, peers: list[peers_mod.Peer] | None = None) -> dict[str, dict[str, Any]]:
    """Per peer id: the collections it gets, gets filtered (``FIELD=VALUE``), and does not get.

    Follows the share rules exactly as exports apply them (``selection.Rules``).
    """
    from sneakersync.sync.selection import Rules

    rules = Rules.load(store)
    colls = sorted({c["name"] for c in store.collections()} | set(rules.rows))
    out: dict[str, dict[str, Any]] = {}
    for p in peers if peers is not None else peers_mod.all_peers(store, include_revoked=False):
        gets, filtered, excluded = [], {}, []
        for coll in colls:
            r = rules.rule(p.device_id, coll)
            if r is None or (r.allow and r.field is None):
                gets.append(coll)
            elif r.allow:
                filtered[coll] = f"{r.field}={r.value}"
            else:
                excluded.append(coll)
        out[p.device_id] = {"name": p.name, "gets": gets, "filtered": filtered,
                            "excluded": excluded}
    return out
