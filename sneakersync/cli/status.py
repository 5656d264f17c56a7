"""`status` (what is waiting for whom) and `verify` (a stick, a packet, the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from sneakersync.cli.app import Ctx, PROG, cli, emit_json, json_option, pass_ctx, plural
from sneakersync.errors import FormatError, StoreError


@cli.command()
@json_option
@pass_ctx
def status(c: Ctx, as_json: bool) -> None:
    """What is waiting for whom: per peer, and the last import.

    For each peer: when it was last seen (a packet from it applied here), how
    many changes it lacks (never sent to it), how many are in transit (sent on a
    stick or QR stream, not yet confirmed by a packet back), open conflicts with
    its edits, its packets held in quarantine, and for a server the changes of
    this device no receipt covers yet.

    Example: sneakersync status

    Example: sneakersync status --json
    """
    from sneakersync.sync.status import ago, status as get_status

    data = get_status(c.home, c.store)
    if as_json:
        emit_json(data)
        return
    d = data["device"]
    click.echo(f"{d['name']} ({d['device_id']}): {plural(data['changes_held'], 'change')} held, "
               f"{data['own_changes']:,} made here")
    if not data["peers"]:
        c.say(f"no peers yet: add one with `{PROG} peer add CARD`")
    for p in data["peers"]:
        state = "revoked" if p["revoked"] else ("" if p["verified"] else "unverified")
        label = p["name"] + (f" ({p['kind']})" if p["kind"] != "device" else "") + \
            (f" [{state}]" if state else "")
        click.echo(f"{label}: last seen {p['last_seen_ago']}")
        if p["revoked"]:
            continue
        bits = [f"lacks {plural(p['lacks'], 'change')}" if p["lacks"] else "nothing new to send",
                f"{p['in_transit']:,} in transit" if p["in_transit"] else ""]
        if p.get("awaiting_receipt"):
            bits.append(f"{plural(p['awaiting_receipt'], 'change')} of ours not yet confirmed "
                        "by a receipt")
        if p["open_conflicts"]:
            bits.append(f"{plural(p['open_conflicts'], 'open conflict')}")
        if p["quarantined_packets"]:
            bits.append(f"{plural(p['quarantined_packets'], 'packet')} held in quarantine")
        click.echo("   " + "; ".join(b for b in bits if b))
    for s in data["strangers"]:
        click.echo(f"{s['name'] or 'unknown device ' + s['device_id']}: "
                   f"{plural(s['quarantined_packets'], 'packet')} held in quarantine "
                   f"(`{PROG} quarantine`)")
    if data["open_conflicts"]:
        click.echo(f"{plural(data['open_conflicts'], 'conflict')} waiting for a decision "
                   f"(`{PROG} conflicts`)")
    li = data["last_import"]
    if li:
        r = li.get("report") or {}
        click.echo(f"last import: {ago(li.get('at'))} from {li.get('source')}: "
                   f"{r.get('imported', 0)} new of {plural(r.get('packets', 0), 'packet')}, "
                   f"{plural(r.get('changes_applied', 0), 'change')} applied"
                   + (f", {len(r.get('rejected') or [])} rejected" if r.get("rejected") else ""))
    else:
        click.echo("last import: none yet")


@cli.command()
@click.argument("target", required=False, type=click.Path(path_type=Path))
@click.option("--store", "check_store", is_flag=True, help="Check this device's store.")
@json_option
@pass_ctx
def verify(c: Ctx, target: Path | None, check_store: bool, as_json: bool) -> None:
    """Check a stick, one packet, or this device's store, changing nothing.

    A DRIVE: every file hashes to its name; packets for this device decrypt and
    their signatures verify. A FILE.pkt: the same for one packet. --store (or no
    argument): SQLite's integrity check and every change's hash. Exit 5 when
    something is damaged, 4 when the store is.

    Example: sneakersync verify /media/usb

    Example: sneakersync verify --store --json
    """
    if target is not None and check_store:
        raise click.UsageError("give a DRIVE or FILE, or --store, not both")
    if target is None:
        res = _verify_store(c)
        bad = res["problems"]
        if as_json:
            emit_json(res)
        else:
            click.echo(f"store: {plural(res['changes'], 'change')} and "
                       f"{plural(res['records'], 'record')} checked: "
                       + ("ok" if not bad else f"{plural(len(bad), 'problem')}"))
            for p in bad[:20]:
                click.echo(f"problem: {p}", err=True)
        if bad:
            raise StoreError(f"the store at {c.home.store_path} is damaged ({bad[0]})",
                             hints=("restore it from a backup; changes also live on peers "
                                    "and the server",))
        return
    from sneakersync.cli.app import check_drive

    c.store  # the device opens (or refuses) before the target is looked at
    if target.is_file():
        items = [_verify_packet(c, target.name, _read_bounded(target))]
        res = {"target": str(target), "packets": items}
    else:
        check_drive(target)
        from sneakersync.media.drive import Drive

        drive = Drive(target)
        items = []
        for path in drive.packets():
            try:
                data = drive.read(path)
            except FormatError as err:
                items.append({"file": path.name, "ok": False, "problem": str(err)})
                continue
            items.append(_verify_packet(c, path.name, data))
        receipts = list(drive.receipts())
        res = {"target": str(target), "packets": items, "receipts": len(receipts)}
    bad = [it for it in items if not it["ok"]]
    res["ok"] = not bad
    if as_json:
        emit_json(res)
    else:
        for it in items:
            what = it.get("fingerprint") or it["file"]
            click.echo(f"packet {what}: {'ok' if it['ok'] else 'DAMAGED'}"
                       f" ({it.get('detail') or it.get('problem')})")
        if not items:
            click.echo("no packets")
    if bad:
        raise FormatError(f"{plural(len(bad), 'packet')} of {len(items)} damaged or not "
                          f"genuine (first: {bad[0].get('fingerprint') or bad[0]['file']}: "
                          f"{bad[0]['problem']})",
                          hints=("a damaged packet is never applied; ask the sender to "
                                 "export again",))


def _read_bounded(path: Path) -> bytes:
    from sneakersync.wire.packet import MAX_PACKET

    if path.stat().st_size > MAX_PACKET:
        raise FormatError(f"{path.name} is too large to be a packet")
    return path.read_bytes()


def _verify_packet(c: Ctx, name: str, data: bytes) -> dict[str, Any]:
    from sneakersync.sync.exchange import inspect_packet

    info = inspect_packet(c.home, c.store, data)
    out: dict[str, Any] = {"file": name, "fingerprint": info["fingerprint"], "bytes": len(data)}
    readable = str(info.get("readable", ""))
    if readable.startswith("no"):
        return dict(out, ok=False, problem=f"not a sneakersync packet ({readable[4:]})")
    mine = str(info.get("for_this_device", ""))
    if mine == "yes":
        sender = info["sender"]
        who = sender.get("peer") or sender.get("card_name") or sender["device_id"]
        return dict(out, ok=True, detail=f"for this device, signed by {who}, "
                    f"{plural(info['changes'], 'change')}")
    if mine == "no":
        return dict(out, ok=True, detail=f"for other devices ({info['recipients']} "
                    "recipients); only they can check the contents")
    return dict(out, ok=False, problem=mine.removeprefix("error: "))


def _verify_store(c: Ctx) -> dict[str, Any]:
    from sneakersync.wire import merkle

    conn = c.store.conn
    problems: list[str] = []
    for (row,) in conn.execute("PRAGMA integrity_check"):
        if row != "ok":
            problems.append(f"sqlite: {row}")
    n = 0
    for origin, counter, raw, h in conn.execute("SELECT origin, counter, raw, hash FROM changes"):
        n += 1
        if raw and merkle.leaf_hash(bytes(raw)) != bytes(h):
            problems.append(f"change {origin}#{counter} does not match its hash")
    mine = conn.execute("SELECT MAX(counter) FROM changes WHERE origin=?",
                        (c.home.device_id,)).fetchone()[0] or 0
    if mine > c.store.counter:
        problems.append(f"this device's counter ({c.store.counter}) is behind its changes "
                        f"({mine})")
    records = conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    return {"target": "store", "path": str(c.home.store_path), "changes": n,
            "records": records, "problems": problems, "ok": not problems}

