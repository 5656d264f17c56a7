"""``beacon advertise|scan``: who is around, over Bluetooth LE.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from sneakersync.cli.app import Ctx, PROG, cli, emit_json, json_option, pass_ctx, quote
from sneakersync.errors import NotFoundError, UsageError


@cli.group()
def beacon() -> None:
    """Bluetooth LE beacon: see which peers are nearby (needs the `ble` extra).

    Example: sneakersync beacon scan --timeout 3 --json
    """


@beacon.command("advertise")
@click.option("--transport", default="usb:0", show_default=True,
              help="bumble transport: usb:0, hci-socket:0, tcp-client:127.0.0.1:9001 ...")
@click.option("--interval-ms", type=float, default=100, show_default=True)
@click.option("--duration", type=float, help="Seconds (default: until Ctrl-C).")
@pass_ctx
def beacon_advertise(c: Ctx, transport: str, interval_ms: float, duration: float | None
                     ) -> None:
    """Let nearby peers see this device, and whether it holds data for them.

    Only peers holding this device's card recognise it; to others it is an
    unknown device whose id and address change every 15 minutes.

    Example: sneakersync beacon advertise --duration 600
    """
    from sneakersync.sync import nearby
    from sneakersync.media.beacon.discovery import advertise_forever

    plan = nearby.advert_plan(c.store)
    names = ", ".join(plan["names"]) or "no one"
    click.echo(f"advertising {c.home.name!r} on {transport} (holds data for: {names}"
               + ("; has data for the server" if plan["has_data_for_server"] else "")
               + "); Ctrl-C to stop", err=True)
    sys.stderr.flush()
    advertise_forever(transport, nearby.identity(c.home), data_for=plan["data_for"],
                      has_data_for_server=plan["has_data_for_server"],
                      interval_ms=interval_ms, duration=duration)


@beacon.command("scan")
@click.option("--transport", default="usb:0", show_default=True,
              help="bumble transport, or 'bleak' for the system's Bluetooth stack.")
@click.option("--timeout", type=float, default=3.0, show_default=True, help="Seconds.")
@click.option("--pick", type=int, is_flag=False, flag_value=0, default=None, metavar="N",
              help="Then exchange with device N of the list (no N: ask).")
@click.option("--export", "export_to", type=click.Path(path_type=Path), metavar="DRIVE",
              help="With --pick: write a packet for that peer onto DRIVE.")
@json_option
@pass_ctx
def beacon_scan(c: Ctx, transport: str, timeout: float, pick: int | None,
                export_to: Path | None, as_json: bool) -> None:
    """List devices nearby: known peers by name, with hints; others as unknown.

    Example: sneakersync beacon scan --timeout 5

    Example: sneakersync beacon scan --pick 1 --export /media/usb
    """
    from sneakersync.sync import nearby
    from sneakersync.store import peers
    from sneakersync.media.beacon.discovery import scan_nearby

    found = scan_nearby(transport, nearby.identity(c.home), nearby.peer_keys(c.store), timeout)
    ids = {p.name: p.device_id for p in peers.all_peers(c.store, include_revoked=False)}
    if as_json and pick is None:
        emit_json([dict(n.to_json(), index=i, device_id=ids.get(n.name) if n.known else None)
                   for i, n in enumerate(found, 1)])
        return
    if not as_json:
        if not found:
            c.say("no sneakersync devices nearby")
        for i, n in enumerate(found, 1):
            click.echo(f"{i:>2}. {nearby.describe(n)}")
    if pick is None:
        if export_to is not None:
            raise UsageError("--export goes with --pick N")
        return
    _after_pick(c, found, pick, export_to, as_json)


def _after_pick(c: Ctx, found: list[Any], pick: int, export_to: Path | None,
                as_json: bool) -> None:
    from sneakersync.store import peers

    interactive = sys.stdin.isatty() and not as_json
    if not found:
        raise NotFoundError("no device to pick")
    if pick == 0:
        if not interactive:
            raise UsageError("--pick needs a number when not run in a terminal")
        pick = click.prompt("device number", type=click.IntRange(1, len(found)))
    if not 1 <= pick <= len(found):
        raise UsageError(f"--pick must be between 1 and {len(found)}")
    n = found[pick - 1]
    if not n.known:
        msg = ("an unknown device: add its card first "
               f"({PROG} peer add --scan PHOTO), or receive its QR stream ({PROG} qr receive)")
        if as_json:
            emit_json({"picked": n.to_json(), "next": msg})
            return
        c.say(msg)
        return
    p = peers.get(c.store, n.name)
    if export_to is None and interactive:
        c.say(f"with {p.name}: 1. export to a drive   2. {PROG} qr send --to NAME   "
              f"3. {PROG} qr receive")
        choice = click.prompt("choice", type=click.IntRange(1, 3), default=1)
        if choice == 1:
            export_to = click.prompt("drive path", type=click.Path(path_type=Path))
        else:
            args = ["send", "--to", p.name] if choice == 2 else ["receive"]
            _run_qr(c, args)
            return
    if export_to is None:
        hint = [f"{PROG} export DRIVE --to {quote(p.name)}",
                f"{PROG} qr send --to {quote(p.name)}", f"{PROG} qr receive"]
        if as_json:
            emit_json({"picked": dict(n.to_json(), device_id=p.device_id), "next": hint})
        else:
            c.say("next: " + "  |  ".join(hint))
        return
    from sneakersync.media.drive import export_to_drive

    res = export_to_drive(c.home, c.store, export_to, [p.device_id])
    if as_json:
        emit_json({"picked": dict(n.to_json(), device_id=p.device_id), "export": res})
    elif res["packets"] == 0:
        c.say(f"nothing to export: {p.name} already has everything")
    else:
        from sneakersync.cli.app import plural

        c.say(f"wrote {plural(res['packets'], 'packet')} ({res['bytes']:,} bytes, "
              f"{plural(res['changes'], 'change')}) for {p.name} to {export_to}; "
              f"fingerprint {res['fingerprint']}")


def _run_qr(c: Ctx, args: list[str]) -> None:
    """Hand over to the `qr` command group when it is installed in this build."""
    group = cli.commands.get("qr")
    if not isinstance(group, click.Group):
        raise UsageError("this build has no `qr` command yet",
                         hints=(f"run later: {PROG} qr {' '.join(args)}",))
    ctx = click.get_current_context()
    with group.make_context("qr", list(args), parent=ctx) as sub:
        group.invoke(sub)

