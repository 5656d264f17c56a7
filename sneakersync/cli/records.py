"""Device and record commands: init, whoami, put, get, rm, rows, collections, load, collection.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sneakersync.cli.app import Ctx, PROG, cli, emit_json, json_option, parse_json_arg, pass_ctx
from sneakersync.errors import UsageError


@cli.command()
@click.option("--name", required=True, help="A name people will recognise, e.g. 'Clinic tablet 2'.")
@click.option("--no-passphrase", is_flag=True,
              help="Keys and store NOT sealed (kiosks, tests); `whoami` says so.")
@json_option
@pass_ctx
def init(c: Ctx, name: str, no_passphrase: bool, as_json: bool) -> None:
    """Create this device: keys, id and an empty store, sealed under a passphrase.

    Asks for the passphrase twice (or takes --passphrase-fd, --passphrase-file or
    SNEAKERSYNC_PASSPHRASE). A forgotten passphrase cannot be recovered: the
    device must be set up again. Refuses to overwrite an existing device.

    Example: sneakersync init --name "Amina laptop"
    """
    from sneakersync.store import home as home_mod

    h = home_mod.create(c.home_path, name, passphrase=c.askpass.for_init(no_passphrase))
    if as_json:
        emit_json(h.describe())
    else:
        c.say(f"created device {h.name!r} ({h.device_id}) in {h.path}")
        c.say(f"identity card: {h.card.encode()}")
        c.say(f"at rest: {h.protection()}" + ("; a forgotten passphrase cannot be recovered"
                                              if h.sealed else ""))


@cli.command()
@click.option("--qr", "qr_out", metavar="FILE.png|-",
              help="Also write the card as a QR code image (- : draw it in the terminal).")
@click.option("--qr-terminal", is_flag=True, help="Draw the card's QR code in the terminal.")
@json_option
@pass_ctx
def whoami(c: Ctx, qr_out: str | None, qr_terminal: bool, as_json: bool) -> None:
    """Show this device's id, name and identity card.

    Give the card to a colleague; their `peer add CARD` (or `peer add --scan
    PHOTO` of the QR code) adds this device.

    Example: sneakersync whoami --json

    Example: sneakersync whoami --qr card.png
    """
    d = c.home.describe()
    if qr_out == "-":
        qr_terminal, qr_out = True, None
    if qr_out is not None:
        from sneakersync.media.qr.card import write_png

        write_png(d["card"], Path(qr_out))
    if as_json:
        emit_json(dict(d, qr=qr_out) if qr_out else d)
        return
    if qr_terminal:
        from sneakersync.media.qr.card import terminal_text

        click.echo(terminal_text(d["card"]))
    click.echo(f"name:      {d['name']}")
    click.echo(f"device id: {d['device_id']}")
    click.echo(f"kind:      {d['kind']}")
    click.echo(f"card:      {d['card']}")
    click.echo(f"at rest:   {d['protection']}")
    if qr_out:
        c.say(f"QR code written to {qr_out}")


@cli.command()
@click.argument("collection")
@click.argument("data")
@click.option("--id", "rid", help="Record id (default: a new UUID).")
@json_option
@pass_ctx
def put(c: Ctx, collection: str, data: str, rid: str | None, as_json: bool) -> None:
    """Create or update one record; prints its id.

    Example: sneakersync put shelters '{"name": "Kibera school", "capacity": 120}'
    """
    obj = parse_json_arg(data, "record")
    if not isinstance(obj, dict):
        raise UsageError("record must be a JSON object")
    from sneakersync.store.binding import checked

    new_id = c.store.put(collection, next(checked(c.store, collection, [(rid, obj)]))[1], rid)
    emit_json({"id": new_id}) if as_json else click.echo(new_id)


@cli.command()
@click.argument("collection")
@click.argument("rid", metavar="ID")
@json_option
@pass_ctx
def get(c: Ctx, collection: str, rid: str, as_json: bool) -> None:
    """Print one record.

    Example: sneakersync get shelters 3f2c...
    """
    rec = c.store.get(collection, rid)
    if as_json:
        out = rec.as_json()
        out["version"] = rec.vv
        emit_json(out)
    else:
        click.echo(json.dumps(rec.data, ensure_ascii=False, indent=2))
        if rec.conflict:
            click.echo(f"(conflict {rec.conflict}: see `{PROG} conflicts`)", err=True)


@cli.command()
@click.argument("collection")
@click.argument("rid", metavar="ID")
@json_option
@pass_ctx
def rm(c: Ctx, collection: str, rid: str, as_json: bool) -> None:
    """Delete one record (a tombstone that syncs like any edit).

    Example: sneakersync rm shelters 3f2c...
    """
    c.store.delete(collection, rid)
    emit_json({"id": rid, "deleted": True}) if as_json else c.say(f"deleted {rid}")


@cli.command()
@click.argument("collection")
@click.option("--json", "as_json", is_flag=True, help="Same output (rows are always JSON lines).")
@pass_ctx
def rows(c: Ctx, collection: str, as_json: bool) -> None:
    """Print every live record as JSON lines: {"id": ..., "data": {...}}.

    Example: sneakersync rows shelters > shelters.jsonl
    """
    out = sys.stdout
    for rid, data in c.store.rows(collection):
        out.write(json.dumps({"id": rid, "data": data}, ensure_ascii=False) + "\n")


@cli.command()
@json_option
@pass_ctx
def collections(c: Ctx, as_json: bool) -> None:
    """List collections with record counts and conflict policy.

    Example: sneakersync collections --json
    """
    cols = c.store.collections()
    if as_json:
        emit_json(cols)
    elif not cols:
        c.say("no records yet")
    else:
        for col in cols:
            click.echo(f"{col['name']:<24} {col['records']:>8} records  policy={col['policy']}")


@cli.command()
@click.argument("collection")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
@pass_ctx
def load(c: Ctx, collection: str, file: Path, as_json: bool) -> None:
    """Create or update many records from a .jsonl, .csv, .s3json or .xml file, in one transaction.

    An `id` key or column, when present, is the record id; in Eden's S3JSON/S3XML the
    uuid is. If any line is bad (or refused by the collection's Eden binding),
    nothing is written.

    Example: sneakersync load households samples/households.csv
    """
    from sneakersync.store.binding import checked
    from sneakersync.store.load import read_records

    if file.suffix.lower() in (".s3json", ".xml"):  # Sahana Eden's own export
        from sneakersync.cli.eden import load_eden

        return load_eden(c, collection, file, as_json)
    size = file.stat().st_size if file.exists() else 0
    show = not c.quiet and not as_json and size > 2_000_000 and sys.stderr.isatty()
    if show:
        with click.progressbar(length=0, label="loading", file=sys.stderr,
                               show_pos=True) as bar:
            ids = c.store.write_many(collection, checked(c.store, collection, read_records(file)),
                                     progress=bar.update)
    else:
        ids = c.store.write_many(collection, checked(c.store, collection, read_records(file)))
    if as_json:
        emit_json({"collection": collection, "loaded": len(ids)})
    else:
        c.say(f"loaded {len(ids)} records into {collection}")


@cli.group()
def collection() -> None:
    """Per-collection settings."""


@collection.command("policy")
@click.argument("name")
@click.argument("policy", type=click.Choice(["lww", "merge", "fork", "manual"]))
@json_option
@pass_ctx
def collection_policy(c: Ctx, name: str, policy: str, as_json: bool) -> None:
    """Choose how concurrent edits in a collection are settled.

    lww: last writer wins (deterministic tie-break); merge: field-level merge;
    fork: the losing version becomes its own record; manual: keep both, ask a person.

    Example: sneakersync collection policy shelters merge
    """
    c.store.set_policy(name, policy)
    emit_json({"collection": name, "policy": policy}) if as_json else \
        c.say(f"{name}: conflicts now settled by {policy}")


@collection.command("retention")
@click.argument("name")
@click.argument("policy", metavar="keep|after-receipt|days:N")
@json_option
@pass_ctx
def collection_retention(c: Ctx, name: str, policy: str, as_json: bool) -> None:
    """How long delivered records stay on this device (`prune` applies it).

    keep: never pruned (default); after-receipt: once the server's receipt
    covers the current version; days:N: N days after that receipt arrived.

    Example: sneakersync collection retention households days:30
    """
    from sneakersync.sync.prune import set_retention

    res = set_retention(c.store, name, policy)
    if as_json:
        emit_json(res)
    else:
        shown = policy if res["days"] is None else f"{res['days']} days after the receipt"
        c.say(f"{name}: delivered records kept {shown}" if res["retention"] != "keep"
              else f"{name}: records are kept (never pruned)")

