"""Exchange commands: export/import on a drive, inspect, key export, conflicts, quarantine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sneakersync.cli.app import Ctx, PROG, cli, emit_json, json_option, parse_json_arg, pass_ctx
from sneakersync.errors import FormatError, NotFoundError, SneakersyncError, UsageError


@cli.command("export")
@click.argument("drive", type=click.Path(path_type=Path))
@click.option("--to", "to", multiple=True, help="Peer name (repeatable). Default: every peer.")
@click.option("--full", is_flag=True, help="Ignore what peers are known to have; send everything.")
@json_option
@pass_ctx
def export_cmd(c: Ctx, drive: Path, to: tuple[str, ...], full: bool, as_json: bool) -> None:
    """Write one packet for peers onto a drive (USB stick, SD card, folder).

    Only what the peers lack is written (a delta), encrypted to them alone.

    Example: sneakersync export /media/usb --to "Juma tablet"
    """
    from sneakersync.media.drive import export_to_drive

    res = export_to_drive(c.home, c.store, drive, list(to), full=full)
    if as_json:
        emit_json(res)
    elif res["packets"] == 0:
        c.say("nothing to export: every recipient already has everything")
    else:
        for w in res["written"]:
            c.say(f"wrote 1 packet ({w['bytes']} bytes, {w['changes']} changes) for "
                  f"{', '.join(w['recipients'])}")
            c.say(f"fingerprint: {w['fingerprint']}")


@cli.command("import")
@click.argument("drive", type=click.Path(path_type=Path))
@json_option
@pass_ctx
def import_cmd(c: Ctx, drive: Path, as_json: bool) -> None:
    """Read every packet for this device from a drive and apply it.

    Packets for others are left alone; repeats change nothing; a bad packet is
    reported and never stops the others (the exit code is then 1).

    Example: sneakersync import /media/usb --json
    """
    from sneakersync.media.drive import import_from_drive

    rep = import_from_drive(c.home, c.store, drive)
    out = rep.as_json()
    if as_json:
        emit_json(out)
    else:
        c.say(f"{out['packets']} packets: {out['imported']} imported, {out['duplicates']} "
              f"already seen, {out['not_for_me']} for others, {out['quarantined']} held")
        c.say(f"{out['changes_applied']} changes applied, {out['conflicts']} conflicts "
              f"({out['open_conflicts']} need a decision)")
        if out.get("receipts"):
            c.say(f"{out['receipts']} delivery receipt(s) from the server accepted "
                  f"(see `{PROG} receipts`; `{PROG} prune` deletes what they cover)")
        for q in out["quarantine"]:
            click.echo(f"held: {q['file']}: {q['reason']}", err=True)
        for r in out["rejected"]:
            click.echo(f"rejected: {r['file']}: {r['error']}", err=True)
        if out["open_conflicts"]:
            c.say(f"see `{PROG} conflicts` to decide")
    if out["rejected"]:
        raise SystemExit(1)


@cli.command()
@click.argument("packet_file", type=click.Path(path_type=Path))
@json_option
@pass_ctx
def inspect(c: Ctx, packet_file: Path, as_json: bool) -> None:
    """Show what a packet reveals: to anyone holding it, and to a recipient.

    Example: sneakersync inspect /media/usb/sneakersync/v1/packets/3f...pkt
    """
    from sneakersync.sync.exchange import inspect_packet

    if not packet_file.exists():
        raise NotFoundError(f"file {packet_file} does not exist")
    here = _has_device(c)
    info = inspect_packet(c.home if here else None, c.store if here else None,
                          packet_file.read_bytes())
    if as_json:
        emit_json(info)
    else:
        for k, v in info.items():
            if isinstance(v, (dict, list)):
                import json

                v = json.dumps(v, ensure_ascii=False)
            click.echo(f"{k:<14} {v}")
    unreadable = str(info.get("readable", ""))
    if unreadable.startswith("no"):
        raise FormatError(f"{packet_file.name} is not a sneakersync packet "
                          f"({unreadable[4:]})")


def _has_device(c: Ctx) -> bool:
    try:
        c.home
    except SneakersyncError:
        return False
    return True


@cli.group()
def key() -> None:
    """This device's keys."""


@key.command("export")
@click.option("--age", "as_age", is_flag=True, required=True,
              help="Write the X25519 identity in age's format (AGE-SECRET-KEY-1...).")
@click.option("--out", type=click.Path(path_type=Path), help="Write to FILE (mode 0600).")
@pass_ctx
def key_export(c: Ctx, as_age: bool, out: Path | None) -> None:
    """Export the decryption key so any age tool can open packets sent here.

    Example: sneakersync key export --age --out device.agekey && age -d -i device.agekey X.pkt
    """
    from sneakersync.wire import age

    text = age.encode_identity(c.home.keys.enc_secret)
    recipient = age.encode_recipient(c.home.keys.enc_public)
    content = f"# sneakersync device {c.home.device_id}\n# public key: {recipient}\n{text}\n"
    if out is None:
        click.echo(content, nl=False)
        return
    import os

    fd = os.open(str(out), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    c.say(f"wrote the age identity to {out} (keep it secret)")


@cli.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True,
              help="Also list conflicts a policy (lww, merge, fork) settled automatically.")
@json_option
@click.pass_context
def conflicts(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List records edited concurrently that wait for a person to decide.

    Example: sneakersync conflicts --all --json
    """
    if ctx.invoked_subcommand is not None:
        return
    c: Ctx = ctx.obj
    items = c.store.conflicts(include_settled=show_all)
    if as_json:
        emit_json(items)
        return
    if not items:
        c.say("no open conflicts" + ("" if show_all else " (--all shows those settled by policy)"))
    for it in items:
        state = "OPEN" if it["open"] else f"resolved by {it['policy']}"
        click.echo(f"{it['conflict']}  {it['collection']}/{it['id']}  {state}")
        for i, v in enumerate(it["versions"], 1):
            shown = "deleted" if v["op"] == "del" else _short(v["data"])
            click.echo(f"   {i}. from {v['origin']}#{v['counter']}: {shown}")


def _short(data: Any) -> str:
    import json

    text = json.dumps(data, ensure_ascii=False)
    return text if len(text) <= 100 else text[:97] + "..."


@conflicts.command("resolve")
@click.argument("conflict_id")
@click.option("--pick", type=int, help="Keep version N as listed by `conflicts`.")
@click.option("--data", "data_json", help="Replace with this JSON object instead.")
@json_option
@pass_ctx
def conflicts_resolve(c: Ctx, conflict_id: str, pick: int | None, data_json: str | None,
                      as_json: bool) -> None:
    """Settle one conflict; the decision syncs to every device like an edit.

    Example: sneakersync conflicts resolve 8c1f0e2a9b7d4c3e --pick 2
    """
    data = parse_json_arg(data_json, "--data") if data_json else None
    if data is not None and not isinstance(data, dict):
        raise UsageError("--data must be a JSON object")
    res = c.store.resolve_conflict(conflict_id, pick=pick, data=data)
    emit_json(res) if as_json else c.say(f"resolved {res['collection']}/{res['id']}")


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def quarantine(ctx: click.Context, as_json: bool) -> None:
    """Packets held because their sender is not an accepted peer.

    Example: sneakersync quarantine --json
    """
    if ctx.invoked_subcommand is not None:
        return
    c: Ctx = ctx.obj
    from sneakersync.sync.exchange import quarantine_list

    items = quarantine_list(c.home, c.store)
    if as_json:
        emit_json(items)
        return
    if not items:
        c.say("quarantine is empty")
    for it in items:
        click.echo(f"{it['packet']}  from {it['sender']}: {it['reason']}")


@quarantine.command("accept")
@click.argument("sender")
@click.option("--add-peer", is_flag=True,
              help="Also add the sender as a peer, in quarantine (trust it later with "
                   "`peer trust` once verified).")
@json_option
@pass_ctx
def quarantine_accept(c: Ctx, sender: str, add_peer: bool, as_json: bool) -> None:
    """Apply the held packets of one sender (device id), knowingly unauthenticated.

    Revocations they carry are ignored. With --add-peer the sender becomes a peer
    in quarantine: not trusted until `peer verify` and `peer trust`.

    Example: sneakersync quarantine accept k3f9q2m4d8s1x0ab --add-peer
    """
    from sneakersync.sync.exchange import quarantine_accept as accept

    rep = accept(c.home, c.store, sender, add_peer=add_peer)
    out = rep.as_json()
    emit_json(out) if as_json else c.say(
        f"applied {out['imported']} held packets ({out['changes_applied']} changes)"
        + (f"; added as a peer in quarantine: compare safety numbers ({PROG} peer verify), "
           f"then {PROG} peer trust" if add_peer else ""))
    if out["rejected"]:
        raise SystemExit(1)

