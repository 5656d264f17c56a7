"""``eden bind|show|check|pull|push|status``: collections bound to Sahana Eden tables.

Binding and pulling run on a device (or the server); pushing runs on the destination
server. The Eden client needs the ``[server]`` extra (httpx) and loads inside commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sneakersync.cli.app import Ctx, cli, emit_json, json_option, pass_ctx, parse_json_arg
from sneakersync.errors import InputError, UsageError

MAX_FILE = 256 * 1024 * 1024


def _client(url: str, user: str | None, password: str | None) -> Any:
    from sneakersync.media.eden import EdenClient

    return EdenClient(url, user, password)


def _read(path: Path, limit: int = MAX_FILE) -> bytes:
    from sneakersync.errors import NotFoundError

    if not path.is_file():
        raise NotFoundError(f"file {path} does not exist")
    if path.stat().st_size > limit:
        raise InputError(f"{path.name} is larger than {limit} bytes")
    return path.read_bytes()


def _split_map(items: tuple[str, ...], opt: str) -> dict[str, str]:
    out = {}
    for item in items:
        left, sep, right = item.partition("=")
        if not sep or not left or not right:
            raise UsageError(f"{opt} {item!r} must look like OURS=EDEN")
        out[left] = right
    return out


eden_url = click.option("--url", metavar="URL", envvar="SNEAKERSYNC_EDEN_URL",
                        help="Eden's base URL, e.g. http://127.0.0.1:8000/eden "
                             "(credentials may be in it: http://USER:PW@host/eden).")
eden_user = click.option("--user", envvar="SNEAKERSYNC_EDEN_USER", help="Eden user (basic auth).")
eden_password = click.option("--password", envvar="SNEAKERSYNC_EDEN_PASSWORD",
                             help="Eden password (or SNEAKERSYNC_EDEN_PASSWORD).")


@cli.group()
def eden() -> None:
    """Collections bound to Sahana Eden tables: bind, pull from Eden, push to Eden.

    Example: sneakersync eden show shelters
    """


@eden.command("bind")
@click.argument("collection", required=False)
@click.argument("table", required=False)
@click.option("--file", "file_", type=click.Path(path_type=Path),
              help="A binding file (JSON): collection, resource, fields, keep [, schema].")
@click.option("--map", "maps", multiple=True, metavar="OURS=EDEN",
              help="Our field to an Eden field, a component's (cr_shelter_details.population) "
                   "or a referenced record's (location_id.lat). Repeatable.")
@click.option("--ref", "refs", multiple=True, metavar="OURS=FIELD:COLLECTION",
              help="Our field holds a record id of COLLECTION; Eden reference FIELD.")
@click.option("--keep", multiple=True, help="Our field stays on the devices (not sent).")
@click.option("--schema", "schema_file", type=click.Path(path_type=Path),
              help="Eden's schema answers saved as JSON {table: mform.json} (air-gapped).")
@eden_url
@eden_user
@eden_password
@json_option
@pass_ctx
def eden_bind(c: Ctx, collection: str | None, table: str | None, file_: Path | None,
              maps: tuple[str, ...], refs: tuple[str, ...], keep: tuple[str, ...],
              schema_file: Path | None, url: str | None, user: str | None,
              password: str | None, as_json: bool) -> None:
    """Bind a collection to an Eden table, checked against the table's real schema.

    The schema comes from Eden's mobile API (--url) or a saved copy (--schema).
    Unknown, virtual and read-only Eden fields are refused here; from now on
    put, load and pull refuse records Eden would not store (a required field
    missing, a field neither mapped nor kept, a value outside Eden's options).
    The binding travels to the other devices with the next packets.

    Example: sneakersync eden bind --file samples/eden/shelters.binding.json --url http://127.0.0.1:8000/eden

    Example: sneakersync eden bind persons pr_person --map name=first_name --keep age --url URL
    """
    from sneakersync.store import binding as binding_mod
    from sneakersync.wire.eden import binding_from_mform

    if file_ is not None:
        spec = parse_json_arg(_read(file_, 1 << 20).decode("utf-8", "replace"),
                              f"binding file {file_.name}")
        if not isinstance(spec, dict):
            raise InputError(f"{file_.name}: a binding must be a JSON object")
    else:
        if not collection or not table:
            raise UsageError("give COLLECTION TABLE, or --file BINDING.json")
        fields: dict[str, Any] = dict(_split_map(maps, "--map"))
        for ours, right in _split_map(refs, "--ref").items():
            fld, sep, coll = right.partition(":")
            if not sep:
                raise UsageError(f"--ref {ours}={right} must look like OURS=FIELD:COLLECTION")
            fields[ours] = {"to": fld, "collection": coll}
        spec = {"v": 1, "collection": collection, "resource": table, "fields": fields,
                "keep": list(keep)}
    if collection and spec.get("collection") != collection and file_ is not None:
        spec["collection"] = collection
    if "schema" not in spec:
        if schema_file is not None:
            forms = parse_json_arg(_read(schema_file).decode("utf-8", "replace"), "schema file")
        elif url:
            from sneakersync.media.eden import schema_forms

            with _client(url, user, password) as cl:
                forms = schema_forms(cl, str(spec.get("resource")), dict(spec.get("fields") or {}))
        else:
            raise UsageError("the binding needs Eden's schema: give --url or --schema")
        if not isinstance(forms, dict):
            raise InputError("the schema must be a JSON object {table: mform answer}")
        spec = binding_from_mform(str(spec.get("collection")), str(spec.get("resource")), forms,
                                  dict(spec.get("fields") or {}), list(spec.get("keep") or []))
    b = binding_mod.set_binding(c.store, spec)
    if as_json:
        emit_json({"collection": b.collection, "resource": b.resource,
                   "fields": sorted(b.targets), "keep": list(b.keep)})
    else:
        c.say(f"{b.collection} bound to Eden {b.resource}: {len(b.targets)} fields sent, "
              f"{len(b.keep)} kept on the devices")


@eden.command("show")
@click.argument("collection")
@pass_ctx
def eden_show(c: Ctx, collection: str) -> None:
    """Print a collection's binding (JSON), as stored and as it travels.

    Example: sneakersync eden show shelters
    """
    from sneakersync.errors import NotFoundError
    from sneakersync.store import binding as binding_mod

    got = binding_mod.all_bindings(c.store).get(collection)
    if got is None:
        raise NotFoundError(f"collection {collection!r} is not bound to Eden")
    click.echo(json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True))


@eden.command("check")
@click.argument("collection")
@json_option
@pass_ctx
def eden_check(c: Ctx, collection: str, as_json: bool) -> None:
    """List the records of a collection that Eden would not store, with the reasons.

    Exits 1 when any is found.

    Example: sneakersync eden check shelters
    """
    from sneakersync.errors import NotFoundError
    from sneakersync.store import binding as binding_mod

    b = binding_mod.get_binding(c.store, collection)
    if b is None:
        raise NotFoundError(f"collection {collection!r} is not bound to Eden")
    bad = [{"id": rid, "problems": p} for rid, data in c.store.rows(collection)
           if (p := b.check_record(data))]
    if as_json:
        emit_json({"collection": collection, "refused": bad})
    else:
        for r in bad:
            click.echo(f"{r['id']}: {'; '.join(r['problems'])}")
        c.say(f"{len(bad)} records would be refused" if bad else "every record fits Eden")
    if bad:
        sys.exit(1)


@eden.command("pull")
@click.argument("collection")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--table", help="Eden table, for a collection with no binding.")
@eden_url
@eden_user
@eden_password
@json_option
@pass_ctx
def eden_pull(c: Ctx, collection: str, files: tuple[Path, ...], table: str | None,
              url: str | None, user: str | None, password: str | None, as_json: bool) -> None:
    """Bring Eden's records into a collection: from Eden (--url) or S3JSON/S3XML files.

    The Eden uuid becomes the record id, exactly; deleted records become tombstones;
    pulling twice changes nothing.

    Example: sneakersync eden pull shelters --url http://admin%40example.org:PW@127.0.0.1:8000/eden

    Example: sneakersync eden pull shelters shelters.s3json
    """
    from sneakersync.store import binding as binding_mod
    from sneakersync.wire.eden import read_eden

    items = []
    for f in files:
        items.extend(read_eden(_read(f)))
    if url:
        b = binding_mod.get_binding(c.store, collection)
        tname = b.resource if b is not None else table
        if not tname:
            raise UsageError(f"{collection!r} is not bound: give --table or bind it first")
        with _client(url, user, password) as cl:
            items.extend(read_eden(cl.export(tname)))
    elif not files:
        raise UsageError("give --url URL or S3JSON/S3XML files")
    res = binding_mod.pull(c.store, collection, items, table=table)
    if as_json:
        emit_json(res)
    else:
        c.say(f"{collection}: {res['created']} new, {res['updated']} updated, "
              f"{res['deleted']} deleted, {res['unchanged']} unchanged")
        for r in res["refused"]:
            click.echo(f"  not taken {r['id']}: {r['reason']}", err=True)


@eden.command("push")
@click.option("--collection", help="Only this collection (default: every bound one).")
@click.option("--filesync", type=click.Path(path_type=Path),
              help="Write an Eden FileSync drop folder instead of posting.")
@click.option("--out", type=click.Path(path_type=Path),
              help="Write every bound record to one file (.s3json or .xml) for a manual import.")
@eden_url
@eden_user
@eden_password
@json_option
@pass_ctx
def eden_push(c: Ctx, collection: str | None, filesync: Path | None, out: Path | None,
              url: str | None, user: str | None, password: str | None, as_json: bool) -> None:
    """On the server: hand new and changed records to Eden (REST, FileSync or a file).

    Only what changed since the last push to the same target goes. Each record's
    outcome is kept: a record Eden refused is listed with Eden's reason and goes
    again once it (or its binding) changes; records with open conflicts wait.
    Exits 1 when any record was refused.

    Example: sneakersync --home ~/server eden push --url http://127.0.0.1:8000/eden --user admin@example.org

    Example: sneakersync --home ~/server eden push --filesync /srv/eden-drop
    """
    from sneakersync.cli.server import _server_session
    from sneakersync.server import eden_push as ep

    if filesync is None and out is None and not url:
        raise UsageError("give --url URL, --filesync DIR or --out FILE")
    with _server_session(c) as sstore:
        if filesync is not None:
            rep = ep.write_files(sstore, filesync, collection=collection)
        elif out is not None:
            rep = ep.write_document(sstore, out, collection=collection)
        else:
            with _client(str(url), user, password) as cl:
                rep = ep.rest_push(sstore, cl, collection=collection)
    if as_json:
        emit_json(rep.as_json())
    else:
        c.say(f"{rep.target}: {rep.sent} sent ({rep.accepted} accepted, {rep.written} written), "
              f"{len(rep.refused)} refused, {rep.unchanged} unchanged, "
              f"{len(rep.conflicts)} waiting on conflicts")
        for r in rep.refused:
            click.echo(f"  refused {r['collection']}/{r['id']}: {r['reason']}", err=True)
        for r in rep.conflicts:
            click.echo(f"  waiting {r['collection']}/{r['id']}: {r['reason']}", err=True)
    if rep.refused:
        sys.exit(1)


@eden.command("status")
@json_option
@pass_ctx
def eden_status(c: Ctx, as_json: bool) -> None:
    """On the server: records Eden (or the binding) refused, with the reasons.

    Example: sneakersync --home ~/server eden status
    """
    from sneakersync.cli.server import _server_session
    from sneakersync.server import eden_push as ep

    with _server_session(c) as sstore:
        rows = ep.status(sstore)
    if as_json:
        emit_json(rows)
    elif not rows:
        c.say("nothing refused")
    else:
        for r in rows:
            click.echo(f"{r['target']} {r['collection']}/{r['id']}: {r['reason']}")


def load_eden(c: Ctx, collection: str, file: Path, as_json: bool) -> None:
    """``load`` of an Eden S3JSON/S3XML file: every record or none (no deletions)."""
    from sneakersync.errors import NotFoundError
    from sneakersync.store import binding as binding_mod
    from sneakersync.wire.eden import read_eden

    if not file.exists():
        raise NotFoundError(f"file {file} does not exist")
    items = read_eden(_read(file))
    b = binding_mod.get_binding(c.store, collection)
    # unbound: the document's first table (Eden exports the requested one first; the
    # records it references follow and are not loaded)
    first = items[0].table if items else None
    pairs = binding_mod.records_from_eden(b, first, items)
    recs = [(it.uuid, data) for it, data in pairs if not it.deleted]
    ids = c.store.write_many(collection, binding_mod.checked(c.store, collection, recs))
    if as_json:
        emit_json({"collection": collection, "loaded": len(ids)})
    else:
        c.say(f"loaded {len(ids)} records into {collection}")
