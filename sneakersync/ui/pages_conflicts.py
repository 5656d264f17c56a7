"""Conflicts: the versions side by side, field by field; pick one, merge, or edit.

The decision is a local change (``Store.resolve_conflict``): it syncs like any edit.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from sneakersync.errors import NotFoundError
from sneakersync.store import browse
from sneakersync.ui.pages_records import device_names
from sneakersync.ui.session import Session
from sneakersync.ui.web import action, page


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def index(s: Session, request: Request) -> Any:
    with s.store() as st:
        items = st.conflicts()
        names = device_names(s, st)
    shown = []
    for c in items:
        vs = c["versions"]
        rows = []
        for f in browse.conflict_fields(vs):
            cells = [(v.get("data") or {}).get(f) if v["op"] != "del" else None for v in vs]
            present = [f in (v.get("data") or {}) for v in vs]
            differs = len({json.dumps(x, sort_keys=True) for x in cells}) > 1 or not all(present)
            rows.append({"name": f, "cells": cells, "present": present, "differs": differs,
                         "texts": [_as_text(x) if p else "" for x, p in zip(cells, present)]})
        shown.append(dict(c, rows=rows, who=[names.get(v["origin"], v["origin"]) for v in vs]))
    return "conflicts.html", {"title": "Conflicts", "items": shown}


def resolve(s: Session, form: dict[str, str], request: Request) -> str:
    cid = form.get("conflict", "")
    with s.store() as st:
        found = [c for c in st.conflicts() if c["conflict"] == cid]
        if not found:
            raise NotFoundError(f"no open conflict {cid!r} (settled meanwhile?)")
        c = found[0]
        if form.get("pick"):
            res = st.resolve_conflict(cid, pick=int(form["pick"]) if form["pick"].isdigit()
                                      else 0)
            how = f"kept version {form['pick']}"
        else:
            choices = {k[2:]: v for k, v in form.items() if k.startswith("c.")}
            edits = {k[2:]: v for k, v in form.items() if k.startswith("e.")}
            res = st.resolve_conflict(cid, data=browse.merged(c["versions"], choices, edits))
            how = "saved the merged record"
    s.flash("ok", f"{res['collection']}/{res['id']}: {how}. The decision goes to your "
                  "colleagues with the next sync, like an edit.")
    return "/conflicts"


def routes() -> list[Route]:
    return [
        Route("/conflicts", page(index)),
        Route("/conflicts/resolve", action(resolve), methods=["POST"]),
    ]
