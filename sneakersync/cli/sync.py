"""Exchange commands: export/import on a drive, inspect, key export, conflicts, quarantine.
"""

from __future__ import annotations

import os
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
    """Write packets for peers onto a drive (USB stick, SD card, folder).

    Only what the peers lack is written (a delta), encrypted to them alone; peers
    that may see different collections (`share`) get separate packets. The
    output says who gets what, and which collections a peer does not get.

    Example: sneakersync export /media/usb --to "Juma tablet"
    """
    from sneakersync.cli.app import Progress, check_drive, plural
    from sneakersync.media.drive import export_to_drive
    from sneakersync.sync.exchange import pick_recipients
    from sneakersync.sync.status import sharing

    recipients = pick_recipients(c.store, list(to))  # opens the device first
    check_drive(drive, writing=True)
    with Progress(c, f"exporting for {', '.join(p.name for p in recipients)}",
                  as_json=as_json, tick=True):
        res = export_to_drive(c.home, c.store, drive, list(to), full=full)
    shares = sharing(c.store, recipients)
    res["sharing"] = list(shares.values())
    if as_json:
        emit_json(res)
        return
    if res["packets"] == 0:
        c.say("nothing to export: every recipient already has everything")
    for w in res.get("written", []):
        c.say(f"wrote a packet for {', '.join(w['recipients'])}: {plural(w['changes'], 'change')}"
              f", {w['bytes']:,} bytes, fingerprint {w['fingerprint']}")
    for s in shares.values():
        parts = []
        if s["filtered"]:
            parts.append("only some records of " + ", ".join(
                f"{k} ({v})" for k, v in s["filtered"].items()))
        if s["excluded"]:
            parts.append("not " + ", ".join(s["excluded"]))
        if parts:
            c.say(f"{s['name']} gets {'; '.join(parts)} (share rules: {PROG} share --list)")


@cli.command("import")
@click.argument("drive", type=click.Path(path_type=Path))
@json_option
@pass_ctx
def import_cmd(c: Ctx, drive: Path, as_json: bool) -> None:
    """Read every packet for this device from a drive and apply it.

    DRIVE is the folder the stick is mounted on (it holds a `sneakersync`
    folder). Packets for other devices are left on it; repeats change nothing;
    a bad packet is reported once and never stops the others (the exit code is
    then 1). The report is kept for `status`.

    Example: sneakersync import /media/usb --json
    """
    from sneakersync.cli.app import Progress, check_drive
    from sneakersync.media.drive import import_from_drive
    from sneakersync.sync.status import save_import_report

    c.store  # the device opens (or refuses) before the drive is looked at
    check_drive(drive)
    with Progress(c, f"importing {_on_drive(drive)}", as_json=as_json, tick=True):
        rep = import_from_drive(c.home, c.store, drive)
    out = rep.as_json()
    save_import_report(c.home, str(drive), out)
    if as_json:
        emit_json(out)
    else:
        say_import(c, out)
    if out["rejected"]:
        raise SystemExit(1)


def _on_drive(drive: Path) -> str:
    """'3 packets (41.2 MB)' on a drive, from one listing (for the progress line)."""
    from sneakersync.cli.app import plural

    folder = drive / "sneakersync" / "v1" / "packets"
    try:
        sizes = [e.stat().st_size for e in os.scandir(folder) if e.name.endswith(".pkt")]
    except OSError:
        return "the drive"
    return f"{plural(len(sizes), 'packet')} ({sum(sizes) / 1e6:.1f} MB)"


def say_import(c: Ctx, out: dict[str, Any]) -> None:
    """The import report in words a coordinator follows (also for `qr receive`)."""
    from sneakersync.cli.app import plural

    parts = [f"{out['imported']} new"]
    if out["duplicates"]:
        parts.append(f"{out['duplicates']} already imported")
    if out["not_for_me"]:
        parts.append(f"{out['not_for_me']} addressed to other devices (left as they are)")
    if out["quarantined"]:
        parts.append(f"{out['quarantined']} held in quarantine")
    bad = len(out["rejected"]) + out.get("rejected_more", 0) + out.get("refused_before", 0)
    if bad:
        parts.append(f"{bad} rejected")
    c.say(f"{plural(out['packets'], 'packet')}: {', '.join(parts)}")
    if out["imported"] or out["changes_applied"]:
        line = f"{plural(out['changes_applied'], 'change')} applied"
        if out["conflicts"]:
            line += f"; {plural(out['conflicts'], 'conflict')}"
            if out["open_conflicts"]:
                line += f" ({out['open_conflicts']} waiting for a decision: {PROG} conflicts)"
            else:
                line += " (settled by the collections' policies)"
        c.say(line)
    if out.get("receipts"):
        c.say(f"{plural(out['receipts'], 'delivery receipt')} from the server accepted "
              f"(see `{PROG} receipts`; `{PROG} prune` deletes what they cover)")
    if out["quarantine"]:
        from sneakersync.sync.status import device_names

        names = device_names(c.home, c.store)
        for q in out["quarantine"]:
            who = names.get(q["sender"]) or q["sender"]
            click.echo(f"held: packet {_short_file(q['file'])} from {who}: {q['reason']} "
                       f"(see `{PROG} quarantine`)", err=True)
    for r in out["rejected"]:
        err = str(r["error"]).replace(str(r["file"]), "").replace(": : ", ": ").strip(" :")
        click.echo(f"rejected: packet {_short_file(r['file'])}: {err}", err=True)
    if out.get("rejected_more"):
        click.echo(f"rejected: {out['rejected_more']} more packets (not listed)", err=True)
    if out.get("refused_before"):
        c.say(f"{plural(out['refused_before'], 'packet')} rejected by an earlier import "
              "(not listed again)")
    if out["packets"] == 0:
        c.say("no packets on this drive yet")


def _short_file(name: str) -> str:
    stem = str(name).split("/")[-1].split(".")[0]
    if len(stem) == 64 and all(ch in "0123456789abcdef" for ch in stem):
        from sneakersync.sync.exchange import fingerprint

        return fingerprint(stem)
    return str(name)


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
    """This device's keys.

    Example: sneakersync key export --age --out me.agekey
    """


@key.command("export")
@click.option("--age", "as_age", is_flag=True, required=True,
              help="Write the X25519 identity in age's format (AGE-SECRET-KEY-1...).")
@click.option("--out", type=click.Path(path_type=Path), help="Write to FILE (mode 0600).")
@json_option
@pass_ctx
def key_export(c: Ctx, as_age: bool, out: Path | None, as_json: bool) -> None:
    """Export the decryption key so any age tool can open packets sent here.

    Refuses to overwrite an existing file. With --json, prints the public
    recipient and where the secret went (the secret itself only without --out).

    Example: sneakersync key export --age --out device.agekey && age -d -i device.agekey X.pkt
    """
    import os

    from sneakersync.errors import AlreadyExistsError
    from sneakersync.wire import age

    text = age.encode_identity(c.home.keys.enc_secret)
    recipient = age.encode_recipient(c.home.keys.enc_public)
    content = f"# sneakersync device {c.home.device_id}\n# public key: {recipient}\n{text}\n"
    info: dict[str, Any] = {"device_id": c.home.device_id, "recipient": recipient}
    if out is None:
        if as_json:
            emit_json(dict(info, identity=text))
        else:
            click.echo(content, nl=False)
        return
    if out.exists() or out.is_symlink():
        raise AlreadyExistsError(f"{out} already exists; the key was not written",
                                 hints=("choose another file name, or remove the old one first",))
    if not out.parent.is_dir():
        raise NotFoundError(f"folder {out.parent} does not exist",
                            hints=("create it first, or choose another --out",))
    fd = os.open(str(out), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    if as_json:
        emit_json(dict(info, out=str(out)))
    else:
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
    from sneakersync.sync.status import device_names, iso, name_of

    names = device_names(c.home, c.store)
    for it in items:
        for v in it["versions"]:
            v["origin_name"] = name_of(names, v["origin"])
    if as_json:
        emit_json(items)
        return
    if not items:
        c.say("no open conflicts" + ("" if show_all else " (--all shows those settled by policy)"))
    for it in items:
        state = "waiting for a decision" if it["open"] else f"settled by {it['policy']}"
        click.echo(f"{it['collection']}/{it['id']}: {state} (conflict {it['conflict']})")
        for i, v in enumerate(it["versions"], 1):
            shown = "deleted" if v["op"] == "del" else _short(v["data"])
            when = (iso(v["ts"]) or "")[:16].replace("T", " ")
            click.echo(f"   {i}. {v['origin_name']}, {when}: {shown}")
    if any(it["open"] for it in items):
        first = next(it for it in items if it["open"])
        c.say(f"decide: {PROG} conflicts resolve {first['conflict']} --pick N")


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
    from sneakersync.sync.exchange import fingerprint
    from sneakersync.sync.status import device_names

    names = device_names(c.home, c.store)
    for it in items:
        who = names.get(it["sender"]) or "an unknown device"
        click.echo(f"packet {fingerprint(it['packet'])} from {who} ({it['sender']}): "
                   f"{it['reason']}")
    if items:
        c.say(f"to apply them: {PROG} quarantine accept SENDER (in parentheses above), or "
              f"add the sender as a peer and `{PROG} peer trust NAME`")


@quarantine.command("accept")
@click.argument("sender")
@click.option("--add-peer", is_flag=True,
              help="Also add the sender as a peer, in quarantine (trust it later with "
                   "`peer trust` once verified).")
@json_option
@pass_ctx
def quarantine_accept(c: Ctx, sender: str, add_peer: bool, as_json: bool) -> None:
    """Apply the held packets of one sender (its device id, or its name as `quarantine`
    shows it), knowingly unauthenticated.

    Revocations they carry are ignored. With --add-peer the sender becomes a peer
    in quarantine: not trusted until `peer verify` and `peer trust`.

    Example: sneakersync quarantine accept k3f9q2m4d8s1x0ab --add-peer
    """
    from sneakersync.sync.exchange import quarantine_accept as accept, quarantine_list
    from sneakersync.sync.status import device_names

    held = {q["sender"] for q in quarantine_list(c.home, c.store)}
    if sender not in held:  # a name, as `quarantine` lists it: ignoring case
        names = device_names(c.home, c.store)
        match = [s for s in held if (names.get(s) or "").casefold() == sender.casefold()]
        if len(match) == 1:
            sender = match[0]
    rep = accept(c.home, c.store, sender, add_peer=add_peer)
    out = rep.as_json()
    emit_json(out) if as_json else c.say(
        f"applied {out['imported']} held packets ({out['changes_applied']} changes)"
        + (f"; added as a peer in quarantine: compare safety numbers ({PROG} peer verify), "
           f"then {PROG} peer trust" if add_peer else ""))
    if out["rejected"]:
        raise SystemExit(1)

