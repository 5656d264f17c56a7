"""Peer commands (verify, trust, revoke, rm, rename), settings, share rules and the beacon.

Registered on the main group and the ``peer`` group when imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .cli import PROG, Ctx, cli, emit_json, json_option, pass_ctx
from .cli_sync import _quote, peer
from .errors import NotFoundError, UsageError


# --- peer verify / trust / revoke / rm / rename --------------------------------------

@peer.command("verify")
@click.argument("name")
@click.option("--confirm", is_flag=True, help="The numbers matched: mark the peer verified.")
@click.option("--number", "typed", help="The number the other device shows (checked here).")
@json_option
@pass_ctx
def peer_verify(c: Ctx, name: str, confirm: bool, typed: str | None, as_json: bool) -> None:
    """Show the safety number shared with a peer, to compare in person.

    Both devices show the same 60 digits only if neither card was tampered with.
    Read them out side by side; if they match, confirm.

    Example: sneakersync peer verify "Juma tablet" --confirm
    """
    from . import peers, safety
    from .identity import decode_card

    p = peers.get(c.store, name)
    number = safety.safety_number(c.home.card, decode_card(p.card))
    if typed is not None and not safety.matches(number, typed):
        raise UsageError(f"the number given does not match the safety number with {p.name!r}",
                         hints=("do not confirm: a card may have been swapped",
                                "exchange cards again, in person"))
    if confirm or typed is not None:
        peers.set_verified(c.store, p.device_id, True)
    verified = confirm or typed is not None or p.verified
    if as_json:
        emit_json({"name": p.name, "device_id": p.device_id, "safety_number": number,
                   "groups": safety.groups(number), "verified": verified})
        return
    click.echo(f"safety number with {p.name} ({p.device_id}):\n")
    click.echo("    " + safety.format_number(number).replace("\n", "\n    ") + "\n")
    if confirm or typed is not None:
        c.say(f"{p.name} is now verified")
    elif p.verified:
        c.say(f"{p.name} is verified")
    else:
        c.say(f"compare with the number on {p.name}; if every digit matches, run:")
        c.say(f"    {PROG} peer verify {_quote(p.name)} --confirm")


@peer.command("trust")
@click.argument("name")
@click.option("--quarantine", is_flag=True, help="Hold its packets instead, until trusted.")
@json_option
@pass_ctx
def peer_trust(c: Ctx, name: str, quarantine: bool, as_json: bool) -> None:
    """Apply a peer's packets (and those held so far), or hold them with --quarantine.

    Example: sneakersync peer trust "Juma tablet"
    """
    from . import peers
    from .exchange import quarantine_accept, quarantine_list

    p = peers.get(c.store, name)
    if p.revoked:
        raise UsageError(f"peer {p.name!r} is revoked; it cannot be trusted again",
                         hints=(f"to start over: {PROG} peer rm, then peer add its new card",))
    trust = "quarantine" if quarantine else "trusted"
    peers.set_trust(c.store, p.device_id, trust)
    out: dict[str, Any] = {"name": p.name, "trust": trust, "held_applied": 0, "changes": 0,
                           "rejected": []}
    if not quarantine and any(q["sender"] == p.device_id
                              for q in quarantine_list(c.home, c.store)):
        rep = quarantine_accept(c.home, c.store, p.device_id).as_json()
        out.update(held_applied=rep["imported"], changes=rep["changes_applied"],
                   rejected=rep["rejected"])
    if as_json:
        emit_json(out)
    elif quarantine:
        c.say(f"{p.name}: packets will be held (see `{PROG} quarantine`)")
    else:
        c.say(f"{p.name}: trusted; applied {out['held_applied']} held packets "
              f"({out['changes']} changes)")
    if out["rejected"]:
        for r in out["rejected"]:
            click.echo(f"rejected: {r['file']}: {r['error']}", err=True)
        raise SystemExit(1)


@peer.command("revoke")
@click.argument("name")
@click.option("--last-counter", type=int,
              help="Last change of the peer still accepted (default: the last one held here).")
@json_option
@pass_ctx
def peer_revoke(c: Ctx, name: str, last_counter: int | None, as_json: bool) -> None:
    """Stop trusting a peer (a lost or stolen device) and tell the other devices.

    Packets are no longer made for it, its later packets and changes are refused,
    and a signed revocation travels in every packet this device exports.
    What was received from it before stays.

    Example: sneakersync peer revoke "Juma tablet"
    """
    from . import peers
    from .revocation_store import revoke_peer

    p = peers.get(c.store, name)
    r = revoke_peer(c.home, c.store, p, last=last_counter)
    if as_json:
        emit_json({"name": p.name, "device_id": p.device_id, "revoked": True,
                   "last_counter": r.last, "statement": r.to_json()})
    else:
        c.say(f"revoked {p.name!r} ({p.device_id}): its changes after #{r.last} are refused")
        c.say(f"the revocation goes out with the next `{PROG} export`")


@peer.command("revocations")
@json_option
@pass_ctx
def peer_revocations(c: Ctx, as_json: bool) -> None:
    """List the revocations this device holds (issued here or learned from packets).

    Example: sneakersync peer revocations --json
    """
    from . import peers
    from .revocation_store import statements

    names = {p.device_id: p.name for p in peers.all_peers(c.store)}
    names[c.home.device_id] = f"{c.home.name} (this device)"
    items = [{"revoker": r.revoker, "revoker_name": names.get(r.revoker),
              "revoked": r.revoked, "revoked_name": names.get(r.revoked) or r.revoked_card.name,
              "last_counter": r.last, "at": r.at} for r in statements(c.store)]
    if as_json:
        emit_json(items)
        return
    if not items:
        c.say("no revocations")
    for it in items:
        click.echo(f"{it['revoked_name']} ({it['revoked']}) revoked by "
                   f"{it['revoker_name'] or it['revoker']} after #{it['last_counter']}")


@peer.command("rm")
@click.argument("name")
@json_option
@pass_ctx
def peer_rm(c: Ctx, name: str, as_json: bool) -> None:
    """Forget a peer. Its data stays; its share rules go.

    Example: sneakersync peer rm "Old tablet"
    """
    from . import peers, selection

    p = peers.get(c.store, name)
    peers.remove(c.store, p.device_id)
    selection.forget_peer(c.store, p.device_id)
    emit_json({"name": p.name, "device_id": p.device_id, "removed": True}) if as_json else \
        c.say(f"forgot peer {p.name!r}; the records it sent stay")


@peer.command("rename")
@click.argument("old")
@click.argument("new")
@json_option
@pass_ctx
def peer_rename(c: Ctx, old: str, new: str, as_json: bool) -> None:
    """Give a peer another local name.

    Example: sneakersync peer rename "Juma tablet" "Juma (clinic)"
    """
    from . import peers

    p = peers.rename(c.store, peers.get(c.store, old).device_id, new)
    emit_json(p.as_json()) if as_json else c.say(f"renamed {old!r} to {p.name!r}")


# --- settings -----------------------------------------------------------------------

@cli.group()
def settings() -> None:
    """Device settings."""


@settings.command("default-trust")
@click.argument("value", required=False, type=click.Choice(["trusted", "quarantine"]))
@json_option
@pass_ctx
def settings_default_trust(c: Ctx, value: str | None, as_json: bool) -> None:
    """Show or set the trust given to newly added peers.

    trusted: their packets are applied; quarantine: held until `peer trust NAME`.

    Example: sneakersync settings default-trust quarantine
    """
    if value is not None:
        c.store.set_setting("default_trust", value)
    current = c.store.get_setting("default_trust", "trusted")
    emit_json({"default_trust": current}) if as_json else c.say(f"default trust: {current}")


# --- share rules --------------------------------------------------------------------

@cli.command("share")
@click.argument("collection", required=False)
@click.option("--with", "with_", multiple=True, metavar="NAME",
              help="Share with this peer (repeatable); with no --all rule: with these only.")
@click.option("--all", "all_", is_flag=True, help="Share with every peer (replaces the rules).")
@click.option("--except", "except_", multiple=True, metavar="NAME",
              help="Share with every peer but this one (repeatable).")
@click.option("--none", "none_", is_flag=True, help="Share with no peer.")
@click.option("--reset", is_flag=True, help="Back to the default: shared with every peer.")
@click.option("--where", metavar="FIELD=VALUE",
              help="With --all/--with: only records whose FIELD equals VALUE.")
@click.option("--list", "list_", is_flag=True, help="Show every rule.")
@json_option
@pass_ctx
def share(c: Ctx, collection: str | None, with_: tuple[str, ...], all_: bool,
          except_: tuple[str, ...], none_: bool, reset: bool, where: str | None, list_: bool,
          as_json: bool) -> None:
    """Choose which peers get a collection (default, without rules: every peer).

    Rules are honoured by every export, also when relaying others' records:
    a collection not shared with a peer never goes into a packet it can read.

    Example: sneakersync share patients --with "Clinic server"

    Example: sneakersync share households --all --where district=Kibera

    Example: sneakersync share --list --json
    """
    from . import peers, selection

    if list_ or collection is None:
        if collection is not None or with_ or all_ or except_ or none_ or reset or where:
            raise UsageError("--list takes no other option")
        rules = selection.list_rules(c.store)
        if as_json:
            emit_json(rules)
            return
        if not rules:
            c.say("no share rules: every collection is shared with every peer")
        for coll in dict.fromkeys(r["collection"] for r in rules):
            click.echo(selection.describe(c.store, coll))
        return
    modes = [m for m, on in (("all", all_), ("with", bool(with_)), ("except", bool(except_)),
                             ("none", none_), ("reset", reset)) if on]
    if len(modes) != 1:
        raise UsageError("give one of --all, --with, --except, --none, --reset")
    chosen = [peers.get(c.store, n) for n in (with_ or except_)]
    selection.set_rule(c.store, collection, modes[0], chosen, where)
    text = selection.describe(c.store, collection)
    if as_json:
        emit_json({"collection": collection, "rules": [r for r in selection.list_rules(c.store)
                                                       if r["collection"] == collection],
                   "summary": text})
    else:
        c.say(text)


# --- beacon -------------------------------------------------------------------------

@cli.group()
def beacon() -> None:
    """Bluetooth LE beacon: see which peers are nearby (needs the `ble` extra)."""


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
    from . import nearby
    from .beacon.discovery import advertise_forever

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
    from . import nearby, peers
    from .beacon.discovery import scan_nearby

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
    from . import peers

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
        hint = [f"{PROG} export DRIVE --to {_quote(p.name)}",
                f"{PROG} qr send --to {_quote(p.name)}", f"{PROG} qr receive"]
        if as_json:
            emit_json({"picked": dict(n.to_json(), device_id=p.device_id), "next": hint})
        else:
            c.say("next: " + "  |  ".join(hint))
        return
    from .exchange import export_to_drive

    res = export_to_drive(c.home, c.store, export_to, [p.device_id])
    if as_json:
        emit_json({"picked": dict(n.to_json(), device_id=p.device_id), "export": res})
    elif res["packets"] == 0:
        c.say(f"nothing to export: {p.name} already has everything")
    else:
        c.say(f"wrote {res['packets']} packet(s) ({res['bytes']} bytes, {res['changes']} "
              f"changes) for {p.name} to {export_to}; fingerprint {res['fingerprint']}")


def _run_qr(c: Ctx, args: list[str]) -> None:
    """Hand over to the `qr` command group when it is installed in this build."""
    group = cli.commands.get("qr")
    if not isinstance(group, click.Group):
        raise UsageError("this build has no `qr` command yet",
                         hints=(f"run later: {PROG} qr {' '.join(args)}",))
    ctx = click.get_current_context()
    with group.make_context("qr", list(args), parent=ctx) as sub:
        group.invoke(sub)
