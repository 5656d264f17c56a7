"""Device and record commands: init, whoami, put, get, rm, rows, collections, load, collection.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sneakersync.cli.app import Ctx, PROG, cli, emit_json, json_option, parse_json_arg, pass_ctx
from sneakersync.cli.readonly import collections_text, record_text
from sneakersync.errors import NotFoundError, SneakersyncError, UsageError


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
@click.option("--card", "card_only", is_flag=True,
              help="Print only the identity card (for scripts: peer add \"$(... whoami --card)\").")
@json_option
@pass_ctx
def whoami(c: Ctx, qr_out: str | None, qr_terminal: bool, card_only: bool,
           as_json: bool) -> None:
    """Show this device's id, name and identity card.

    Give the card to a colleague; their `peer add CARD` (or `peer add --scan
    PHOTO` of the QR code) adds this device.

    Example: sneakersync whoami --json

    Example: sneakersync whoami --qr card.png

    Example: sneakersync --home ~/juma peer add "$(sneakersync whoami --card)"
    """
    d = c.home.describe()
    if card_only:
        click.echo(d["card"])
        return
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


MAX_RECORD_BYTES = 16 << 20  # one record read by `put` from a file or stdin


def _read_record_text(data: str | None, from_file: Path | None) -> str | None:
    """The record's JSON: the argument, or (for `-` or --file) stdin or a file, bounded."""
    if data is not None and from_file is not None:
        raise UsageError("give the record as JSON or with --file, not both")
    if data == "-":
        from_file = Path("-")
    elif data is not None:
        return data
    if from_file is None:
        return None
    if str(from_file) == "-":
        raw = click.get_binary_stream("stdin").read(MAX_RECORD_BYTES + 1)
        what = "stdin"
    else:
        if not from_file.is_file():
            raise NotFoundError(f"file {from_file} does not exist")
        if from_file.stat().st_size > MAX_RECORD_BYTES:
            raise UsageError(f"{from_file} is larger than {MAX_RECORD_BYTES >> 20} MiB",
                             hints=(f"for many records use: {PROG} load COLLECTION FILE",))
        with open(from_file, "rb") as fh:
            raw = fh.read(MAX_RECORD_BYTES + 1)
        what = str(from_file)
    if len(raw) > MAX_RECORD_BYTES:
        raise UsageError(f"the record on {what} is larger than {MAX_RECORD_BYTES >> 20} MiB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"the record on {what} is not UTF-8 text (byte {exc.start + 1})") \
            from None


@cli.command()
@click.argument("collection")
@click.argument("data", required=False, metavar="[JSON|-]")
@click.option("--id", "rid", help="Record id (default: a new UUID).")
@click.option("-f", "--file", "from_file", type=click.Path(path_type=Path), metavar="FILE",
              help="Read the record (a JSON object) from FILE; - reads stdin.")
@click.option("--replace", is_flag=True,
              help="Replace the whole record: fields not given are removed.")
@click.option("--unset", multiple=True, metavar="FIELD",
              help="Remove FIELD from the record (repeatable).")
@json_option
@pass_ctx
def put(c: Ctx, collection: str, data: str | None, rid: str | None, from_file: Path | None,
        replace: bool, unset: tuple[str, ...], as_json: bool) -> None:
    """Create a record, or update fields of one; prints its id.

    With --id of an existing record, the fields given are set and every other
    field is kept (a patch). --replace replaces the whole record instead;
    --unset FIELD removes a field. The record comes from the JSON argument,
    from stdin (`-`) or from --file (for records too large for the command line).

    Example: sneakersync put shelters '{"name": "Kibera school", "capacity": 120}'

    Example: sneakersync put households '{"priority": "high"}' --id hh-17

    Example: sneakersync put households --id hh-17 --unset notes

    Example: cat big.json | sneakersync put households - --id hh-18
    """
    from sneakersync.errors import NotFoundError as _NF
    from sneakersync.store.load import parse_record

    text = _read_record_text(data, from_file)
    if text is None and not unset:
        raise UsageError("give the record as JSON, `-` (stdin) or --file FILE",
                         hints=(f"e.g. {PROG} put {collection} '{{\"field\": \"value\"}}'",))
    if replace and unset:
        raise UsageError("--replace and --unset do not go together (--replace already "
                         "drops every field not given)")
    obj: dict[str, Any] = {}
    if text is not None:
        try:
            parsed = parse_record(text, "record")
        except SneakersyncError as exc:
            raise UsageError(str(exc).replace("record: ", "record is ", 1)) from None
        if not isinstance(parsed, dict):
            raise UsageError("record must be a JSON object")
        obj = parsed
    for f in unset:
        if f in obj:
            raise UsageError(f"field {f!r} is both given and unset")
    old: dict[str, Any] | None = None
    if rid is not None:
        try:
            old = c.store.get(collection, rid).data
        except _NF:
            old = None
    if old is None and unset:
        raise NotFoundError(f"no record {rid!r} in collection {collection!r} to unset fields of"
                            if rid else "--unset needs --id of an existing record")
    if old is not None and not replace:
        merged = dict(old)
        merged.update(obj)
        for f in unset:
            merged.pop(f, None)
        obj = merged
    if old is not None and obj == old:
        emit_json({"id": rid, "changed": False}) if as_json else click.echo(rid)
        return
    from sneakersync.store.binding import checked

    new_id = c.store.put(collection, next(checked(c.store, collection, [(rid, obj)]))[1], rid)
    emit_json({"id": new_id, "changed": True}) if as_json else click.echo(new_id)


@cli.command()
@click.argument("collection")
@click.argument("rid", metavar="ID")
@json_option
@pass_ctx
def get(c: Ctx, collection: str, rid: str, as_json: bool) -> None:
    """Print one record.

    Example: sneakersync get shelters 3f2c...
    """
    out, note = record_text(c.store.get(collection, rid), as_json)
    click.echo(out, nl=False)
    if note:
        click.echo(note, err=True, nl=False)


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
    out.flush()


@cli.command()
@json_option
@pass_ctx
def collections(c: Ctx, as_json: bool) -> None:
    """List collections with record counts and conflict policy.

    Example: sneakersync collections --json
    """
    click.echo(collections_text(c.store.collections(), as_json, c.quiet), nl=False)


@cli.command()
@click.argument("collection")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--key", "key", multiple=True, metavar="COLUMN",
              help="Without an id column: COLUMN identifies a row (repeatable: together).")
@click.option("--content-key", is_flag=True,
              help="Without an id column: a row's content identifies it.")
@click.option("--encoding", metavar="NAME", help="Text encoding (default: UTF-8), e.g. latin-1.")
@click.option("--delimiter", metavar="CHAR",
              help="CSV delimiter (default: sniffed among , ; tab |).")
@json_option
@pass_ctx
def load(c: Ctx, collection: str, file: Path, key: tuple[str, ...], content_key: bool,
         encoding: str | None, delimiter: str | None, as_json: bool) -> None:
    """Create or update many records from a .jsonl, .csv, .s3json or .xml file, in one
    transaction.

    An `id` key or column is the record id (in Eden's S3JSON/S3XML, the uuid);
    what `rows` writes loads back unchanged. Without an id, --key COLUMN (or
    --content-key) makes the ids, so loading the same file again changes nothing;
    without either, every load adds new records (a warning says so). Rows equal
    to what is stored are skipped. If any line is bad (or refused by the
    collection's Eden binding), nothing is written.

    Example: sneakersync load households samples/households.csv

    Example: sneakersync load people people.csv --key national_id --encoding latin-1
    """
    from sneakersync.cli.app import Progress
    from sneakersync.store.binding import checked
    from sneakersync.store.load import LoadOptions, only_changed, plan

    if file.suffix.lower() in (".s3json", ".xml"):  # Sahana Eden's own export
        from sneakersync.cli.eden import load_eden

        return load_eden(c, collection, file, as_json)

    p = plan(file, LoadOptions(key=key, content_key=content_key, encoding=encoding,
                               delimiter=delimiter))
    for w in p.warnings:
        click.echo(f"warning: {w}", err=True)
    skipped = [0]

    def skip(n: int) -> None:
        skipped[0] += n
        bar.update(n)

    with Progress(c, "loading", p.total, as_json=as_json, unit="records") as bar:
        items = checked(c.store, collection, p.items)
        ids = c.store.write_many(collection, only_changed(c.store, collection, items, skip),
                                 progress=bar.update)
        bar.to(len(ids) + skipped[0], len(ids) + skipped[0])
    if as_json:
        emit_json({"collection": collection, "loaded": len(ids), "unchanged": skipped[0],
                   "warnings": p.warnings})
    else:
        c.say(f"loaded {len(ids)} records into {collection}"
              + (f" ({skipped[0]} unchanged)" if skipped[0] else ""))


@cli.group()
def collection() -> None:
    """Per-collection settings: conflict policy and retention.

    Example: sneakersync collection policy shelters merge
    """


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

