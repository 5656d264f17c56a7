"""Data selection: which collections (and which records) go to which peer.

Rules are kept per collection, for one peer or for all peers (``*``):

- no rule for a collection: it is shared with every peer (the default);
- a rule for the peer itself wins over the ``*`` rule;
- when a collection has rules but none for this peer and no ``*`` rule, it is not
  shared with that peer (``share C --with A`` means "with A only") -- except with a
  destination server: data is collected there unless a rule names the server
  (``--except SERVER``) or the collection is shared with no one (``--none``);
- a rule may carry one equality filter ``FIELD=VALUE``: only records whose field
  equals the value go.  VALUE is read as JSON when it is valid JSON (``120``,
  ``true``, ``"x"``), otherwise as text; a record's text field also matches the
  text as typed.  Deletions always pass the filter (a deleted record has no
  fields to test); a record edited so it no longer matches keeps, at the peer,
  the last version that matched.

``Rules.selector()`` is the :data:`sneakersync.sync.Selector` that
``build_export`` applies; a change goes into a packet only if every recipient of
that packet may see it, and ``group_recipients`` splits recipients into groups
that see the same things, so each group gets its own packet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from sneakersync.errors import UsageError
from sneakersync.store.peers import Peer
from sneakersync.store.records import Store, check_collection

ALL = "*"
_TABLE = """CREATE TABLE IF NOT EXISTS share_rules (
    collection TEXT NOT NULL, peer TEXT NOT NULL, allow INTEGER NOT NULL,
    field TEXT, value TEXT, PRIMARY KEY (collection, peer))"""
_READY = "_sneakersync_share_rules_ready"

Selector = Callable[[Peer, str, bytes], bool]


def ensure_tables(store: Store) -> None:
    if not getattr(store, _READY, False):
        store.conn.execute(_TABLE)
        if not store.conn.in_transaction:  # a rollback would drop the table again
            setattr(store, _READY, True)


@dataclass(frozen=True)
class Rule:
    allow: bool
    field: str | None = None
    value: str | None = None  # as typed

    def key(self) -> tuple[bool, str | None, str | None]:
        return (self.allow, self.field, self.value)


def parse_where(text: str) -> tuple[str, str]:
    field, sep, value = text.partition("=")
    field = field.strip()
    if not sep or not field:
        raise UsageError(f"--where must look like FIELD=VALUE, not {text!r}")
    return field, value


def _typed(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _equal(have: Any, want: Any) -> bool:
    if isinstance(have, bool) or isinstance(want, bool):
        return isinstance(have, bool) and isinstance(want, bool) and have == want
    return bool(have == want)


def record_matches(rule: Rule, raw_change: bytes) -> bool:
    if rule.field is None:
        return True
    try:
        data = json.loads(raw_change).get("d")
    except (ValueError, AttributeError):
        return False
    if data is None:  # a deletion
        return True
    if not isinstance(data, dict) or rule.field not in data:
        return False
    have = data[rule.field]
    assert rule.value is not None
    return _equal(have, _typed(rule.value)) or (isinstance(have, str) and have == rule.value)


class Rules:
    """The rules of one store, loaded once per export."""

    def __init__(self, rows: dict[str, dict[str, Rule]],
                 servers: frozenset[str] = frozenset()) -> None:
        self.rows = rows  # collection -> peer id or "*" -> rule
        self.servers = servers  # device ids of destination servers

    @classmethod
    def load(cls, store: Store) -> "Rules":
        ensure_tables(store)
        rows: dict[str, dict[str, Rule]] = {}
        for coll, peer, allow, field, value in store.conn.execute(
                "SELECT collection, peer, allow, field, value FROM share_rules"):
            rows.setdefault(coll, {})[peer] = Rule(bool(allow), field, value)
        servers = frozenset(r[0] for r in store.conn.execute(
            "SELECT device_id FROM peers WHERE kind='server'"))
        return cls(rows, servers)

    def rule(self, peer_id: str, collection: str) -> Rule | None:
        """The rule for this peer and collection; None means shared without a filter."""
        per = self.rows.get(collection)
        if not per:
            return None
        if peer_id in per:
            return per[peer_id]
        if ALL in per:
            return per[ALL]
        if peer_id in self.servers:
            return None  # "with A only" still delivers to the destination server
        return Rule(False)

    def signature(self, peer_id: str) -> tuple[tuple[str, tuple[bool, str | None, str | None]],
                                              ...]:
        """What this peer may see, as a comparable value (equal: same visibility)."""
        out = []
        for coll in sorted(self.rows):
            r = self.rule(peer_id, coll)
            out.append((coll, r.key() if r else (True, None, None)))
        return tuple(out)

    def selector(self) -> Selector | None:
        """None when there are no rules (everything is shared; exports skip the check)."""
        if not self.rows:
            return None

        def select(peer: Peer, collection: str, raw: bytes) -> bool:
            r = self.rule(peer.device_id, collection)
            return r is None or (r.allow and record_matches(r, raw))
        return select


def selector_for(store: Store) -> Selector | None:
    return Rules.load(store).selector()


def group_recipients(store: Store, recipients: Sequence[Peer]) -> list[list[Peer]]:
    """Recipients in groups with identical visibility, in their original order."""
    rules = Rules.load(store)
    groups: dict[Any, list[Peer]] = {}
    for p in recipients:
        groups.setdefault(rules.signature(p.device_id), []).append(p)
    return list(groups.values())


# --- editing rules -----------------------------------------------------------------

MODES = ("all", "none", "with", "except", "reset")


def set_rule(store: Store, collection: str, mode: str, peers: Sequence[Peer] = (),
             where: str | None = None) -> None:
    """Change one collection's rules (see the module docstring for their meaning).

    all: shared with every peer (replaces the collection's rules); none: with no one;
    with: also with these peers (and, when no ``*`` rule exists, only with those);
    except: with every peer but these; reset: back to the default (shared with all).
    """
    check_collection(collection)
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}")
    if mode in ("with", "except") and not peers:
        raise UsageError(f"--{mode} needs at least one peer")
    if where is not None and mode not in ("all", "with"):
        raise UsageError("--where goes with --all or --with")
    field, value = parse_where(where) if where is not None else (None, None)
    ensure_tables(store)
    put = ("INSERT OR REPLACE INTO share_rules(collection, peer, allow, field, value) "
           "VALUES(?,?,?,?,?)")
    with store.transaction():
        if mode in ("all", "none", "reset"):
            store.conn.execute("DELETE FROM share_rules WHERE collection=?", (collection,))
        if mode == "all":
            store.conn.execute(put, (collection, ALL, 1, field, value))
        elif mode == "none":
            store.conn.execute(put, (collection, ALL, 0, None, None))
        elif mode == "with":
            for p in peers:
                store.conn.execute(put, (collection, p.device_id, 1, field, value))
        elif mode == "except":
            for p in peers:
                store.conn.execute(put, (collection, p.device_id, 0, None, None))
            store.conn.execute("INSERT OR IGNORE INTO share_rules(collection, peer, allow) "
                               "VALUES(?,?,1)", (collection, ALL))


def forget_peer(store: Store, device_id: str) -> None:
    ensure_tables(store)
    with store.transaction():
        store.conn.execute("DELETE FROM share_rules WHERE peer=?", (device_id,))


def list_rules(store: Store) -> list[dict[str, Any]]:
    """Every rule, with peer names, for ``share --list``."""
    ensure_tables(store)
    names = dict(store.conn.execute("SELECT device_id, name FROM peers"))
    out = []
    for coll, peer, allow, field, value in store.conn.execute(
            "SELECT collection, peer, allow, field, value FROM share_rules "
            "ORDER BY collection, peer <> '*', peer"):
        out.append({"collection": coll, "peer": "*" if peer == ALL else names.get(peer, peer),
                    "device_id": None if peer == ALL else peer, "share": bool(allow),
                    "where": None if field is None else f"{field}={value}"})
    return out


def describe(store: Store, collection: str) -> str:
    """One line: who gets ``collection`` now."""
    rules = Rules.load(store)
    per = rules.rows.get(collection)
    if not per:
        return f"{collection}: shared with every peer (default)"
    names = dict(store.conn.execute("SELECT device_id, name FROM peers"))

    def who(pid: str, r: Rule) -> str:
        base = "every peer" if pid == ALL else names.get(pid, pid)
        return base + (f" where {r.field}={r.value}" if r.field else "")
    yes = [who(pid, r) for pid, r in sorted(per.items()) if r.allow]
    no = [names.get(pid, pid) for pid, r in sorted(per.items()) if not r.allow and pid != ALL]
    if not yes:
        return f"{collection}: shared with no one"
    text = f"{collection}: shared with " + ", ".join(yes)
    if ALL not in per or not per[ALL].allow:
        text += " only" if ALL not in per else ""
    if no:
        text += " except " + ", ".join(no)
    return text
