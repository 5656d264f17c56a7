"""Commands for the destination server and for delivering to it.

``server init|use|enroll|devices|verify|revoke|held|accept|reject|ingest|serve|export|status``,
``push``, ``prune`` and ``receipts``.
Heavy modules (starlette, uvicorn, httpx) load only inside the commands.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from sneakersync.cli.app import (Ctx, PROG, cli, emit_json, json_option, pass_ctx, quote,
                                read_card_arg, yes_option)
from sneakersync.errors import UsageError


def _server_home(c: Ctx) -> Any:
    from sneakersync.wire.identity import KIND_SERVER

    h = c.home
    if h.kind != KIND_SERVER:
        raise UsageError(f"{h.path} holds a device, not a server",
                         hints=("create a server with: sneakersync --home DIR server init "
                                "--name NAME",))
    return h


@contextmanager
def _server_session(c: Ctx) -> Iterator[Any]:
    """The server's store (SQLite in its home, or the PostgreSQL database of `init --db`)."""
    from sneakersync.server.backends import open_server_db

    db = open_server_db(_server_home(c), pool_size=1)
    try:
        with db.session() as ss:
            ss.db = db
            yield ss
    finally:
        db.close()


@cli.group()
def server() -> None:
    """The destination server: ingest sticks, hand receipts back, export to Eden.

    Example: sneakersync --home /srv/sneakersync server ingest /media/usb
    """


@server.command("init")
@click.option("--name", required=True, help="A name devices will see, e.g. 'Office server'.")
@click.option("--no-passphrase", is_flag=True, help="Keys and store NOT sealed (tests only).")
@click.option("--db", "db", metavar="URL",
              help="Keep the store in PostgreSQL (postgresql://USER@HOST/DB); default: "
                   "SQLite in --home.")
@json_option
@pass_ctx
def server_init(c: Ctx, name: str, db: str | None, no_passphrase: bool, as_json: bool) -> None:
    """Create the server's keys and store in --home (refuses to overwrite).

    Give its card (`whoami`) to every device: `sneakersync server use CARD`.
    With --db the records live in that PostgreSQL database (one per server), so
    several workers can serve it (`server serve --workers 4`); keys stay in --home.

    Example: sneakersync --home /srv/sneakersync server init --name "Office server"

    Example: sneakersync --home /srv/s server init --name Hub --db postgresql://snk@/snk
    """
    from sneakersync.store import home as home_mod
    from sneakersync.server.backends import is_pg_url, open_server_db, set_db_url
    from sneakersync.server.store import redact
    from sneakersync.wire.identity import KIND_SERVER

    if db is not None and not is_pg_url(db):
        raise UsageError(f"unsupported database URL {redact(db)!r}",
                         hints=("give postgresql://USER@HOST/DB, or leave --db out for SQLite",))
    existed = c.home_path.exists()
    h = home_mod.create(c.home_path, name, kind=KIND_SERVER,
                        passphrase=c.askpass.for_init(no_passphrase))
    try:
        if db is not None:
            set_db_url(h.path, db)
        store = open_server_db(h, pool_size=1)  # makes (or checks) the schema now
    except BaseException:
        import shutil

        if not existed:
            shutil.rmtree(h.path)  # no half-made server
        raise
    info = store.describe()
    store.close()
    if as_json:
        emit_json({**h.describe(), "store": info})
    else:
        c.say(f"created server {h.name!r} ({h.device_id}) in {h.path}")
        c.say(f"store: {info['backend']} {info['location']}")
        c.say(f"server card: {h.card.encode()}")
        c.say(f"enroll each device that delivers here: {PROG} server enroll CARD --name NAME")


@server.command("use")
@click.argument("card")
@click.option("--name", help="Local name for the server (default: the name on its card).")
@json_option
@pass_ctx
def server_use(c: Ctx, card: str, name: str | None, as_json: bool) -> None:
    """On a device: deliver to this server (its card, or a file holding it).

    The server becomes a peer of kind server and the destination: `export`
    without --to includes it, `push` uploads to it, its receipts allow `prune`.

    Example: sneakersync server use SNK1:AEB...
    """
    from sneakersync.server.setup import use_server

    p = use_server(c.store, read_card_arg(card), name)
    if as_json:
        emit_json({**p.as_json(), "destination": True})
    else:
        c.say(f"destination server is now {p.name!r} ({p.device_id})")


@server.command("enroll")
@click.argument("card")
@click.option("--name", help="Local name for the device (default: the name on its card).")
@click.option("--quarantine", is_flag=True,
              help="Hold its packets for a decision instead of storing them.")
@json_option
@pass_ctx
def server_enroll(c: Ctx, card: str, name: str | None, quarantine: bool, as_json: bool) -> None:
    """Enroll a device (its card, or a file holding it): store what it delivers.

    The server stores changes only from enrolled devices; packets from anyone
    else are held (`server held`). Enrolling a device also stores the packets
    of it held so far. Then compare safety numbers in person (`server verify`).
    Run it again without --quarantine to trust a device enrolled in quarantine.

    Example: sneakersync --home /srv/sneakersync server enroll SNK1:AEA... --name "Amina laptop"
    """
    from sneakersync.server import enroll as enroll_mod
    from sneakersync.server.ingest import release

    h = _server_home(c)
    with _server_session(c) as ss:
        p = enroll_mod.enroll(h, ss, read_card_arg(card), name, quarantine=quarantine)
        signer = enroll_mod.signer_text(p.sign_pub)
        enroll_mod.forget_refusals(ss, signer)
        rep = release(h, ss, signer).as_json() if p.trust == "trusted" and not p.revoked \
            else None
    out = {**p.as_json(), "held_stored": rep["stored"] if rep else 0,
           "changes_stored": rep["changes_stored"] if rep else 0}
    if as_json:
        emit_json(out)
        return
    state = "revoked" if p.revoked else ("in quarantine" if p.trust != "trusted" else "trusted")
    c.say(f"enrolled {p.name!r} ({p.device_id}): {state}, not yet verified")
    if rep and rep["packets"]:
        c.say(f"stored {rep['stored']} held packets ({rep['changes_stored']} changes)")
    c.say(f"compare safety numbers in person: {PROG} server verify {quote(p.name)}")


@server.command("devices")
@json_option
@pass_ctx
def server_devices(c: Ctx, as_json: bool) -> None:
    """Enrolled devices: trust, verified, revoked, and what each delivered.

    Example: sneakersync --home /srv/sneakersync server devices --json
    """
    from sneakersync.server.enroll import devices

    _server_home(c)
    with _server_session(c) as ss:
        items = devices(ss)
    if as_json:
        emit_json(items)
        return
    if not items:
        c.say(f"no device enrolled yet: {PROG} server enroll CARD --name NAME")
    for d in items:
        state = "revoked" if d["revoked"] else ("verified" if d["verified"] else "UNVERIFIED")
        click.echo(f"{d['name']:<24} {d['device_id']}  {state:<10} {d['trust']:<10} "
                   f"packets={d['packets']:<5} changes={d['changes']}")


@server.command("verify")
@click.argument("name")
@click.option("--confirm", is_flag=True, help="The numbers matched: mark the device verified.")
@json_option
@pass_ctx
def server_verify(c: Ctx, name: str, confirm: bool, as_json: bool) -> None:
    """Show the safety number shared with an enrolled device, to compare in person.

    The device shows the same 60 digits with `sneakersync peer verify SERVER`
    only if neither card was swapped on its way.

    Example: sneakersync --home /srv/sneakersync server verify "Amina laptop" --confirm
    """
    from sneakersync.store import peers
    from sneakersync.wire import safety
    from sneakersync.wire.identity import decode_card

    h = _server_home(c)
    with _server_session(c) as ss:
        p = peers.get(ss.core, name)
        number = safety.safety_number(h.card, decode_card(p.card))
        if confirm:
            peers.set_verified(ss.core, p.device_id, True)
    if as_json:
        emit_json({"name": p.name, "device_id": p.device_id, "safety_number": number,
                   "verified": confirm or p.verified})
        return
    click.echo(f"safety number with {p.name} ({p.device_id}):\n")
    click.echo("    " + safety.format_number(number).replace("\n", "\n    ") + "\n")
    if confirm:
        c.say(f"{p.name} is now verified")
    elif not p.verified:
        c.say(f"on the device: {PROG} peer verify {quote(h.name)}; if every digit matches:")
        c.say(f"    {PROG} server verify {quote(p.name)} --confirm")


@server.command("revoke")
@click.argument("name")
@click.option("--last-counter", type=int,
              help="Last change of the device still kept (default: the last one stored).")
@json_option
@pass_ctx
def server_revoke(c: Ctx, name: str, last_counter: int | None, as_json: bool) -> None:
    """Stop storing what an enrolled device sends (lost or stolen); keep what it sent.

    Its later packets are refused, also its changes relayed by other devices.
    A revocation sent by an enrolled, trusted device has the same effect.

    Example: sneakersync --home /srv/sneakersync server revoke "Lost phone"
    """
    from sneakersync.store import peers
    from sneakersync.store.revocations import revoke_peer

    with _server_session(c) as ss:
        p = peers.get(ss.core, name)
        r = revoke_peer(c.home, ss.core, p, last=last_counter)
    if as_json:
        emit_json({"name": p.name, "device_id": p.device_id, "revoked": True,
                   "last_counter": r.last})
    else:
        c.say(f"revoked {p.name!r} ({p.device_id}): its changes after #{r.last} are refused")


@server.command("held")
@json_option
@pass_ctx
def server_held(c: Ctx, as_json: bool) -> None:
    """Packets held for a decision: their signer is not an enrolled, trusted device.

    Held packets are not opened beyond their signature. Decide with
    `server enroll CARD` (a team device), `server accept SIGNER` (store these
    once) or `server reject SIGNER`.

    Example: sneakersync --home /srv/sneakersync server held --json
    """
    from sneakersync.server.enroll import held

    _server_home(c)
    with _server_session(c) as ss:
        items = held(ss)
    if as_json:
        emit_json(items)
        return
    if not items:
        c.say("nothing held")
    for it in items:
        who = f"{it['device']} ({it['device_id']})" if it["device"] else "unknown device"
        click.echo(f"{it['short']}  {who}: {it['packets']} packets, {it['bytes']} bytes via "
                   f"{'+'.join(it['via'])}: {it['reason']}")
    if items:
        c.say(f"decide: {PROG} server enroll CARD | server accept SIGNER | server reject SIGNER")


@server.command("accept")
@click.argument("signer")
@json_option
@pass_ctx
def server_accept(c: Ctx, signer: str, as_json: bool) -> None:
    """Store the held packets of one signer once, without enrolling it.

    Its next packets are held again, and revocations it carries count for nothing.
    SIGNER is as `server held` lists it (or a packet id).

    Example: sneakersync --home /srv/sneakersync server accept 3f9a-07c1-55de-9b20
    """
    from sneakersync.server.ingest import release

    h = _server_home(c)
    with _server_session(c) as ss:
        rep = release(h, ss, signer, once=True).as_json()
    if as_json:
        emit_json(rep)
    else:
        c.say(f"stored {rep['stored']} held packets ({rep['changes_stored']} changes)")
        for r in rep["rejected"]:
            click.echo(f"rejected: {r['file']}: {r['layer']}: {r['error']}", err=True)
    if rep["rejected"]:
        raise SystemExit(1)


@server.command("reject")
@click.argument("signer")
@json_option
@pass_ctx
def server_reject(c: Ctx, signer: str, as_json: bool) -> None:
    """Refuse the held packets of one signer: delete them, and do not hold them again.

    Example: sneakersync --home /srv/sneakersync server reject 3f9a-07c1-55de-9b20
    """
    from sneakersync.server.enroll import reject

    h = _server_home(c)
    with _server_session(c) as ss:
        res = reject(h, ss, signer)
    if as_json:
        emit_json(res)
    else:
        c.say(f"refused {res['refused']} held packets")


@server.command("ingest")
@click.argument("drive", type=click.Path(path_type=Path))
@json_option
@pass_ctx
def server_ingest(c: Ctx, drive: Path, as_json: bool) -> None:
    """Store every packet for this server from a drive; write receipts back to it.

    Duplicates (from any number of sticks) are stored once; a device that signs
    two different changes with the same number is rejected and reported.

    Example: sneakersync --home /srv/sneakersync server ingest /media/usb --json
    """
    from sneakersync.server.ingest import ingest_drive

    h = _server_home(c)
    from sneakersync.cli.app import Progress
    from sneakersync.cli.sync import _on_drive

    with _server_session(c) as ss, Progress(c, f"ingesting {_on_drive(drive)}",
                                            as_json=as_json, tick=True):
        rep = ingest_drive(h, ss, drive).as_json()
    if as_json:
        emit_json(rep)
    else:
        from sneakersync.cli.app import plural

        parts = [f"{rep['stored']} stored"]
        for n, words in ((rep["duplicates"], "already here"),
                         (rep["not_for_server"], "addressed to devices, not to this server"),
                         (rep["held"], "held"), (len(rep["rejected"]), "rejected")):
            if n:
                parts.append(f"{n} {words}")
        c.say(f"{plural(rep['packets'], 'packet')}: {', '.join(parts)}")
        if rep["held"]:
            c.say(f"held: signed by devices not enrolled here; see `{PROG} server held`")
        if rep["changes_not_enrolled"]:
            c.say(f"{rep['changes_not_enrolled']} relayed changes not stored: their origin is "
                  "not enrolled")
        c.say(f"{plural(rep['changes_stored'], 'change')} stored, "
              f"{plural(rep['conflicts'], 'conflict')} ({rep['open_conflicts']} waiting for a "
              f"decision); {plural(rep['receipts_written'], 'receipt')} written to the drive")
        for r in rep["rejected"]:
            click.echo(f"rejected: {r['file']}: {r['layer']}: {r['error']}", err=True)
    if rep["rejected"]:
        raise SystemExit(1)


@server.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--max-upload", default=64, show_default=True, type=click.IntRange(1, 2047),
              help="Largest packet accepted, in MiB.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (more than 1 needs the PostgreSQL backend).")
@click.option("--pool", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Database connections per worker (PostgreSQL).")
@click.option("--quota", default=1024, show_default=True, type=click.IntRange(1, 1 << 20),
              help="MiB each enrolled device may upload per hour (beyond: 429).")
@click.option("--max-uploads", type=click.IntRange(1, 4096), metavar="N",
              help="Uploads a worker receives at once (default 4); beyond: 503.")
@click.option("--max-processing", type=click.IntRange(1, 256), metavar="N",
              help="Packets a worker opens at once (default 1 on SQLite, --pool on "
                   "PostgreSQL).")
@click.option("--per-client", type=click.IntRange(1, 4096), metavar="N",
              help="Uploads at once from one address (default 2; connections: 16x). Behind "
                   "a load balancer every client has its address: raise this.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A host name devices use to reach the server (IP addresses and "
                   "localhost always work); other names are refused (repeatable).")
@pass_ctx
def server_serve(c: Ctx, host: str, port: int, max_upload: int, workers: int,
                 pool: int, quota: int, max_uploads: int | None,
                 max_processing: int | None, per_client: int | None,
                 allowed_hosts: tuple[str, ...]) -> None:
    """Accept packet uploads over HTTP (`push`) and show the dashboard at /.

    Only enrolled devices' packets are stored (others are held, `server held`).
    Limits against a hostile network: formats/server-http-v1.md.

    Example: sneakersync --home /srv/sneakersync server serve --port 8765

    Example: sneakersync --home /srv/hub server serve --workers 4 (PostgreSQL)
    """
    from sneakersync.server.app import serve

    h = _server_home(c)
    c.say(f"serving {h.name!r} on http://{host}:{port}/ with {workers} worker"
          f"{'s' if workers > 1 else ''} (Ctrl-C stops)")
    limits = None
    if max_uploads or max_processing or per_client:
        from dataclasses import replace

        from sneakersync.server.backends import db_url
        from sneakersync.server.limits import Limits

        base = Limits()
        limits = replace(
            base, max_uploads=max_uploads or base.max_uploads,
            max_processing=max_processing or (pool if db_url(h.path) else base.max_processing),
            per_client_uploads=per_client or base.per_client_uploads,
            per_client_connections=max(base.per_client_connections, 16 * (per_client or 0)),
            max_connections=max(base.max_connections, 16 * (per_client or 0)))
    serve(h, host=host, port=port, max_upload=max_upload << 20, workers=workers, pool=pool,
          quota=quota << 20, limits=limits, allowed_hosts=allowed_hosts)


@server.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "s3json", "s3xml"]),
              default="jsonl", show_default=True)
@click.option("--collection", help="Only this collection (csv needs one).")
@click.option("--out", type=click.Path(path_type=Path), help="Write to FILE (default: stdout).")
@click.option("--filesync", type=click.Path(path_type=Path),
              help="Eden FileSync drop folder: one S3XML file per resource, atomically.")
@click.option("--resource", "resources", multiple=True, metavar="COLL=TABLE",
              help="Eden table for a collection, e.g. shelters=cr_shelter (repeatable).")
@click.option("--ref", "refs", multiple=True, metavar="COLL.FIELD=COLL2",
              help="FIELD of COLL holds ids of COLL2 records: exported as references by uuid.")
@click.option("--include-conflicts", is_flag=True,
              help="Export records with open conflicts anyway (their current pick).")
@json_option
@pass_ctx
def server_export(c: Ctx, fmt: str, collection: str | None, out: Path | None,
                  filesync: Path | None, resources: tuple[str, ...], refs: tuple[str, ...],
                  include_conflicts: bool, as_json: bool) -> None:
    """Export stored records as JSON lines, CSV, S3JSON or S3XML (Sahana Eden).

    Open conflicts are refused unless --include-conflicts: Eden would otherwise
    settle them by wall-clock time. Settle them with `conflicts resolve`.

    Example: sneakersync server export --format s3xml --resource shelters=cr_shelter --out s.xml
    """
    from sneakersync.server.export import ExportOptions, export_to

    _server_home(c)
    opts = ExportOptions.from_cli(fmt, collection, resources, refs, include_conflicts)
    with _server_session(c) as ss:
        res = export_to(ss, opts, out=out, filesync=filesync,
                        stream=None if (out or filesync) else sys.stdout)
    if as_json and (out or filesync):
        emit_json(res)
    elif out or filesync:
        c.say(f"exported {res['records']} records to {res['target']}")


@server.command("backup")
@click.argument("out", type=click.Path(path_type=Path))
@json_option
@pass_ctx
def server_backup(c: Ctx, out: Path, as_json: bool) -> None:
    """Copy the server's store to OUT while it runs (SQLite backup API, or pg_dump).

    The keys are not in the copy: keep a copy of the home folder's keys too.
    Restoring is described in docs/national-deployment.md.

    Example: sneakersync --home /srv/sneakersync server backup /backup/store-2026-11-30.db
    """
    from sneakersync.server.backends import backup

    res = backup(_server_home(c), out)
    if as_json:
        emit_json(res)
    else:
        c.say(f"{res['backend']} store copied to {res['file']} ({res['bytes']} bytes)")


@server.command("status")
@json_option
@pass_ctx
def server_status(c: Ctx, as_json: bool) -> None:
    """Devices that delivered, totals, recent exports and rejects.

    Example: sneakersync --home /srv/sneakersync server status --json
    """
    from sneakersync.server.app import status_data

    from sneakersync.cli.app import plural
    from sneakersync.sync.status import ago, device_names

    h = _server_home(c)
    with _server_session(c) as ss:
        data = status_data(h, ss, ss.db)
        names = device_names(h, ss.core)
        held = ss.held()
    names.update({d["device_id"]: d["name"] for d in data["devices"]})
    delivered = {d["device_id"] for d in data["devices"]}
    origins = sorted(({"device_id": o, "name": names.get(o),
                       "changes": sum(hi - lo + 1 for lo, hi in rs),
                       "delivered_itself": o in delivered} for o, rs in held.items()),
                     key=lambda o: (-o["changes"], o["device_id"]))
    data["origins"] = origins
    if as_json:
        emit_json(data)
        return
    t, st, r = data["totals"], data["store"], data["rate"]
    c.say(f"store: {st['backend']} {st['location']}")
    c.say(f"{plural(t['devices'], 'device')} delivered {plural(t['packets'], 'packet')}; "
          f"{plural(t['changes'], 'change')}, {plural(t['records'], 'record')}, "
          f"{plural(t['open_conflicts'], 'open conflict')}, "
          f"{plural(t.get('held', 0), 'packet')} held (`{PROG} server held`)")
    c.say(f"rate: {r['packets_per_second_1m']} packets/s over the last minute, "
          f"{r['packets_per_second_5m']} over five")
    if origins:
        click.echo("changes by the device that made them:")
    for o in origins:
        via = "" if o["delivered_itself"] else " (relayed by other devices)"
        click.echo(f"   {o['name'] or 'unknown device ' + o['device_id']}: "
                   f"{plural(o['changes'], 'change')}{via}")
    if data["devices"]:
        click.echo("deliveries (sticks and uploads), by the device that brought them:")
    for d in data["devices"]:
        click.echo(f"   {d['name']}: {plural(d['packets'], 'packet')}, last "
                   f"{ago(d['last_delivery'])}"
                   + (f", receipt #{d['receipt_seq']}" if d.get("receipt_seq") else ""))


@cli.command()
@click.argument("url")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds.")
@json_option
@pass_ctx
def push(c: Ctx, url: str, timeout: float, as_json: bool) -> None:
    """Upload what the destination server lacks over HTTP; apply its receipt.

    Example: sneakersync push http://192.168.1.10:8765
    """
    from sneakersync.media.http import push as do_push

    res = do_push(c.home, c.store, url, timeout=timeout)
    if as_json:
        emit_json(res)
    elif res["status"] == "held":
        c.say(f"sent {res['changes']} changes ({res['bytes']} bytes): held by the server until "
              "its administrator enrolls this device")
        c.say(f"hint: show them this device's card ({PROG} whoami); they run "
              f"`{PROG} server enroll CARD`")
    else:
        c.say(f"sent {res['changes']} changes ({res['bytes']} bytes): {res['status']}; "
              f"receipt: {res['receipt']['status']}"
              + (f" (seq {res['receipt']['seq']})" if res["receipt"].get("seq") else ""))


@cli.command("receipts")
@json_option
@pass_ctx
def receipts_cmd(c: Ctx, as_json: bool) -> None:
    """Show the last receipt accepted from each destination server.

    Example: sneakersync receipts --json
    """
    from sneakersync.sync import receipts

    from sneakersync.cli.app import plural
    from sneakersync.sync.status import ago, device_names, iso, name_of

    items = receipts.status(c.store)
    names = device_names(c.home, c.store)
    for it in items:
        it["server_name"] = name_of(names, it["server"])
        it["accepted_iso"] = iso(it["accepted_at"])
    if as_json:
        emit_json(items)
        return
    if not items:
        c.say("no receipts yet: they come back on a stick (`import`) or from `push`")
    for it in items:
        n = sum(hi - lo + 1 for rs in it["covered"].values() for lo, hi in rs)
        click.echo(f"{it['server_name']}: receipt #{it['seq']} (accepted "
                   f"{ago(it['accepted_at'])}), {plural(n, 'change')} stored there")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@yes_option
@json_option
@pass_ctx
def prune(c: Ctx, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Delete the local copy of records the destination server confirmed it holds.

    Only in collections whose retention allows it (`collection retention`), only
    records whose current version a receipt covers (edited since: kept). Local
    only: nothing is sent, other devices and the server keep their copies.

    Asks before deleting (--yes for scripts).

    Example: sneakersync prune --dry-run

    Example: sneakersync prune --yes
    """
    from sneakersync.cli.app import confirm
    from sneakersync.sync.prune import prune as do_prune

    if not dry_run and not yes:
        plan = do_prune(c.home, c.store, dry_run=True)
        if plan["records"]:
            by = ", ".join(f"{k}: {v}" for k, v in plan["by_collection"].items())
            confirm(c, f"Delete the local copy of {plan['records']} records ({by})? The "
                    "server keeps them", yes)
    res = do_prune(c.home, c.store, dry_run=dry_run)
    if as_json:
        emit_json(res)
        return
    verb = "would delete" if dry_run else "deleted"
    c.say(f"{verb} {res['records']} records"
          + (f" ({', '.join(f'{k}: {v}' for k, v in res['by_collection'].items())})"
             if res["by_collection"] else ""))
    c.say(f"kept: {res['edited_since']} edited since their receipt, {res['not_delivered']} not "
          f"confirmed yet, {res['waiting']} within their retention days, {res['in_conflict']} "
          "in conflict")
    comp = res.get("compaction")
    if comp:
        c.say(f"compacted: {comp['values_erased']} old values erased, {comp['rows_folded']} "
              f"change rows folded into hashes"
              + (f" (waiting for {', '.join(comp['blocked_by'])} to send its own changes)"
                 if comp["blocked_by"] else ""))
    if not res["receipts"]:
        c.say(f"no receipt yet: `{PROG} import` a stick the server wrote, or `{PROG} push URL`")

