"""Setup and Records: create the device; collections, search, a form per record, history."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from sneakersync.errors import NotFoundError, UsageError
from sneakersync.store import browse
from sneakersync.store.records import check_collection, check_rid
from sneakersync.ui.web import action, page
from sneakersync.ui.session import Session

PAGE_SIZE = 25
KINDS = ("string", "integer", "number", "boolean", "json")


def _coll(request: Request) -> str:
    return check_collection(request.path_params["coll"])


def device_names(s: Session, st: Any) -> dict[str, str]:
    from sneakersync.store import peers

    names = {p.device_id: p.name for p in peers.all_peers(st)}
    names[s.home.device_id] = f"{s.home.name} (this device)"
    return names


def _rec_url(coll: str, rid: str) -> str:
    return f"/records/{coll}/record?id={quote(rid, safe='')}"


# --- device setup ----------------------------------------------------------------------

def setup_page(s: Session, request: Request) -> Any:
    if s.has_device():
        return "setup.html", {"title": "This device", "done": True}
    return "setup.html", {"title": "Create this device", "done": False}


def setup_create(s: Session, form: dict[str, str], request: Request) -> str:
    passphrase: str | None = form.get("passphrase", "")
    if form.get("no_passphrase") == "yes":
        passphrase = None
    elif not passphrase:
        raise UsageError("choose a passphrase (or tick 'no passphrase' for a shared kiosk)")
    elif passphrase != form.get("again", ""):
        raise UsageError("the two passphrases differ; nothing was created")
    h = s.create_device(form.get("name", ""), passphrase)
    s.flash("ok", f"Created this device, {h.name!r}. Show your card to colleagues on People.")
    return "/records"


def unlock_page(s: Session, request: Request) -> Any:
    if not s.locked():
        return RedirectResponse("/records", status_code=303)
    return "unlock.html", {"title": "Unlock"}


def unlock(s: Session, form: dict[str, str], request: Request) -> str:
    s.unlock(form.get("passphrase", ""))
    s.flash("ok", "Unlocked until sneakersync ui stops.")
    return "/records"


# --- collections and records -----------------------------------------------------------

def index(s: Session, request: Request) -> Any:
    with s.store() as st:
        cols = st.collections()
    return "records.html", {"title": "Records", "collections": cols}


def new_collection(s: Session, form: dict[str, str], request: Request) -> str:
    return f"/records/{check_collection(form.get('collection', '').strip())}/new"


def _form_fields(st: Any, coll: str) -> list[dict[str, Any]]:
    return browse.form_fields(st, coll)


def _put(st: Any, coll: str, data: dict[str, Any], rid: str | None) -> str:
    """Write one record as `put` does: checked against the collection's Eden binding."""
    from sneakersync.store.binding import checked

    return str(st.put(coll, next(checked(st, coll, [(rid, data)]))[1], rid))


def collection(s: Session, request: Request) -> Any:
    coll = _coll(request)
    q = request.query_params.get("q", "")
    try:
        pg = max(0, int(request.query_params.get("page", "0")))
    except ValueError:
        pg = 0
    with s.store() as st:
        rows, total = browse.search(st, coll, q, limit=PAGE_SIZE, offset=pg * PAGE_SIZE)
        fields = browse.fields(st, coll)[:5]
        policy = st.policy(coll)
    return "collection.html", {"title": coll, "coll": coll, "q": q, "rows": rows, "total": total,
                               "page": pg, "pages": (total + PAGE_SIZE - 1) // PAGE_SIZE,
                               "columns": [f["name"] for f in fields], "policy": policy,
                               "rec_url": _rec_url}


def record_new(s: Session, request: Request) -> Any:
    coll = _coll(request)
    with s.store() as st:
        fields = _form_fields(st, coll)
    return "record_edit.html", {"title": f"New record in {coll}", "coll": coll, "rid": None,
                                "fields": fields, "data": {}, "kinds": KINDS}


def _data_from_form(form: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, text in form.items():
        if not key.startswith("f."):
            continue
        name = key[2:]
        kind = form.get("t." + name, "string")
        if kind not in KINDS:
            raise UsageError(f"unknown field type {kind!r}")
        value = browse.coerce(text, kind)
        if value is not None:
            data[name] = value
    extra = form.get("new_name", "").strip()
    if extra:
        kind = form.get("new_type", "string")
        if kind not in KINDS:
            raise UsageError(f"unknown field type {kind!r}")
        value = browse.coerce(form.get("new_value", ""), kind)
        if value is not None:
            data[extra] = value
    if not data:
        raise UsageError("the record is empty: fill in at least one field")
    return data


def record_create(s: Session, form: dict[str, str], request: Request) -> str:
    coll = _coll(request)
    data = _data_from_form(form)
    rid = form.get("id", "").strip() or None
    with s.store() as st:
        if rid is not None:
            check_rid(rid)
            try:
                st.get(coll, rid)
            except NotFoundError:
                pass
            else:
                raise UsageError(f"a record {rid!r} already exists in {coll}",
                                 hints=("open it to edit it, or choose another id",))
        new_id = _put(st, coll, data, rid)
    s.flash("ok", f"Saved a new record in {coll}.")
    return _rec_url(coll, new_id)


def record(s: Session, request: Request) -> Any:
    coll = _coll(request)
    rid = check_rid(request.query_params.get("id", ""))
    with s.store() as st:
        rec = st.get(coll, rid)
        fields = _form_fields(st, coll)
        hist = browse.history(st, coll, rid)
        names = device_names(s, st)
    known = {f["name"] for f in fields}
    fields += [{"name": k, "type": browse.kind_of(v), "required": False, "options": [],
                "eden": None} for k, v in (rec.data or {}).items() if k not in known]
    return "record.html", {"title": f"{coll} / {rid}", "coll": coll, "rid": rid, "rec": rec,
                           "fields": fields, "data": rec.data or {}, "history": hist, "names": names,
                           "kinds": KINDS}


def record_save(s: Session, form: dict[str, str], request: Request) -> str:
    coll = _coll(request)
    rid = check_rid(request.query_params.get("id", ""))
    data = _data_from_form(form)
    with s.store() as st:
        st.get(coll, rid)  # exists
        _put(st, coll, data, rid)
    s.flash("ok", "Saved. The change goes to your colleagues with the next sync.")
    return _rec_url(coll, rid)


def record_delete_page(s: Session, request: Request) -> Any:
    coll = _coll(request)
    rid = check_rid(request.query_params.get("id", ""))
    with s.store() as st:
        rec = st.get(coll, rid)
    return "confirm.html", {
        "title": "Delete this record?", "heading": f"Delete {rid} from {coll}?",
        "explain": ["The record disappears here and, after the next sync, on every device "
                    "that receives it.", "Its history stays; an edit made elsewhere at the "
                    "same time shows up as a conflict for a person to settle."],
        "action": f"/records/{coll}/delete?id={quote(rid, safe='')}", "button": "Delete",
        "cancel": _rec_url(coll, rid), "danger": True, "data": rec.data}


def record_delete(s: Session, form: dict[str, str], request: Request) -> str:
    coll = _coll(request)
    rid = check_rid(request.query_params.get("id", ""))
    with s.store() as st:
        st.delete(coll, rid)
    s.flash("ok", f"Deleted {rid}.")
    return f"/records/{coll}"


def set_policy(s: Session, form: dict[str, str], request: Request) -> str:
    coll = _coll(request)
    with s.store() as st:
        st.set_policy(coll, form.get("policy", ""))
    s.flash("ok", f"{coll}: conflicts are now settled by {form.get('policy')}.")
    return f"/records/{coll}"




def routes() -> list[Route]:
    return [
        Route("/setup", page(setup_page, needs_device=False)),
        Route("/setup", action(setup_create, needs_device=False), methods=["POST"]),
        Route("/unlock", page(unlock_page, needs_device=False)),
        Route("/unlock", action(unlock, needs_device=False), methods=["POST"]),
        Route("/records", page(index)),
        Route("/records/new", action(new_collection), methods=["POST"]),
        Route("/records/{coll}", page(collection)),
        Route("/records/{coll}/new", page(record_new)),
        Route("/records/{coll}/new", action(record_create), methods=["POST"]),
        Route("/records/{coll}/record", page(record)),
        Route("/records/{coll}/record", action(record_save), methods=["POST"]),
        Route("/records/{coll}/delete", page(record_delete_page)),
        Route("/records/{coll}/delete", action(record_delete), methods=["POST"]),
        Route("/records/{coll}/policy", action(set_policy), methods=["POST"]),
    ]
