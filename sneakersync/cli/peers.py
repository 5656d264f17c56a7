"""Peer commands (add, list, verify, trust, revoke, rm, rename), settings and share rules.
"""

from __future__ import annotations

from pathlib import Path

import click

from sneakersync.cli.app import (Ctx, PROG, cli, confirm, emit_json, json_option, pass_ctx, quote,
                                read_card_arg, yes_option)
from sneakersync.errors import UsageError


@cli.group()
def peer() -> None:
    """Devices this one exchanges packets with.

    Example: sneakersync peer add SNK1:AEA... --name "Juma tablet"
    """


@peer.command("add")
@click.argument("card", required=False)
@click.option("--name", help="Local name for the peer (default: the name on its card).")
@click.option("--trust", type=click.Choice(["trusted", "quarantine"]),
              help="Apply its packets, or hold them until `peer trust` "
                   "(default: `settings default-trust`, else trusted).")
@click.option("--scan", "scan_image", type=click.Path(path_type=Path),
              help="Read the card from a photo or screenshot of its QR code.")
@click.option("--camera", type=int, help="Read the card's QR code from camera N (OpenCV).")
@json_option
@pass_ctx
def peer_add(c: Ctx, card: str | None, name: str | None, trust: str | None,
             scan_image: Path | None, camera: int | None, as_json: bool) -> None:
    """Add a peer from its identity card (a string, a file, or a QR image).

    Example: sneakersync peer add SNK1:AEA... --name "Juma tablet"

    Example: sneakersync peer add --scan juma-card.png
    """
    from sneakersync.sync.peering import add_peer

    if sum(x is not None for x in (card, scan_image, camera)) != 1:
        raise UsageError("give exactly one of CARD, --scan IMAGE or --camera N")
    if scan_image is not None or camera is not None:
        from sneakersync.media.qr.card import read_card_camera, read_card_image

        text = read_card_image(scan_image) if scan_image is not None else \
            read_card_camera(camera or 0)
    else:
        text = read_card_arg(card or "")
    added = add_peer(c.store, text, name, trust=trust)
    p = added.peer
    if added.revoked_by_team:
        click.echo(f"warning: a trusted peer has revoked {p.name!r}; it is added as revoked",
                   err=True)
    if as_json:
        emit_json(p.as_json())
    else:
        c.say(f"added peer {p.name!r} ({p.device_id}), trust={p.trust}, not yet verified")
        c.say(f"compare safety numbers in person: {PROG} peer verify {quote(p.name)}")


@peer.command("list")
@json_option
@pass_ctx
def peer_list(c: Ctx, as_json: bool) -> None:
    """List peers with trust state and when they were last seen.

    "Last seen" is when a packet from the peer was last applied here (--json:
    `last_seen` in milliseconds since 1970, and `last_seen_iso` in UTC).

    Example: sneakersync peer list --json
    """
    from sneakersync.store import peers

    ps = peers.all_peers(c.store)
    if as_json:
        from sneakersync.sync.status import iso

        emit_json([dict(p.as_json(), last_seen_iso=iso(p.last_seen)) for p in ps])
        return
    if not ps:
        c.say("no peers yet: add one with `sneakersync peer add CARD`")
    from sneakersync.sync.status import ago

    for p in ps:
        state = "revoked" if p.revoked else ("verified" if p.verified else "UNVERIFIED")
        click.echo(f"{p.name:<24} {p.device_id}  {p.kind:<7} {state:<10} {p.trust:<10} "
                   f"last seen {ago(p.last_seen)}")
    if any(not p.verified and not p.revoked for p in ps):
        c.say(f"UNVERIFIED: keys not yet compared in person ({PROG} peer verify NAME)")


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
    from sneakersync.store import peers
    from sneakersync.sync import peering
    from sneakersync.wire import safety

    p = peers.get(c.store, name)
    if confirm or typed is not None:
        number = peering.verify(c.home, c.store, p, typed)
    else:
        number = peering.safety_number(c.home, p)
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
        c.say(f"    {PROG} peer verify {quote(p.name)} --confirm")


@peer.command("trust")
@click.argument("name")
@click.option("--quarantine", is_flag=True, help="Hold its packets instead, until trusted.")
@json_option
@pass_ctx
def peer_trust(c: Ctx, name: str, quarantine: bool, as_json: bool) -> None:
    """Apply a peer's packets (and those held so far), or hold them with --quarantine.

    Example: sneakersync peer trust "Juma tablet"
    """
    from sneakersync.store import peers
    from sneakersync.sync.peering import set_trust

    p = peers.get(c.store, name)
    out = set_trust(c.home, c.store, p, quarantine=quarantine).as_json()
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
@click.option("--last-counter", type=click.IntRange(0, (1 << 53) - 1),
              help="Last change of the peer still accepted (default: the last one held here).")
@yes_option
@json_option
@pass_ctx
def peer_revoke(c: Ctx, name: str, last_counter: int | None, yes: bool, as_json: bool) -> None:
    """Stop trusting a peer (a lost or stolen device) and tell the other devices.

    Packets are no longer made for it, its later packets and changes are refused,
    and a signed revocation travels in every packet this device exports.
    What was received from it before stays. Cannot be undone: asks first
    (--yes for scripts).

    Example: sneakersync peer revoke "Lost phone" --yes
    """
    from sneakersync.store import peers
    from sneakersync.store.revocations import revoke_peer

    p = peers.get(c.store, name)
    confirm(c, f"Revoke {p.name!r} ({p.device_id}) for good, on every device of the team?", yes)
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
    from sneakersync.store import peers
    from sneakersync.store.revocations import statements

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
@yes_option
@json_option
@pass_ctx
def peer_rm(c: Ctx, name: str, yes: bool, as_json: bool) -> None:
    """Forget a peer. Its data stays; its share rules go. Asks first (--yes for scripts).

    Example: sneakersync peer rm "Old tablet" --yes
    """
    from sneakersync.store import peers
    from sneakersync.sync import selection

    p = peers.get(c.store, name)
    confirm(c, f"Forget peer {p.name!r} ({p.device_id}) and its share rules?", yes)
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
    from sneakersync.store import peers

    p = peers.rename(c.store, peers.get(c.store, old).device_id, new)
    emit_json(p.as_json()) if as_json else c.say(f"renamed {old!r} to {p.name!r}")


@cli.group()
def settings() -> None:
    """Device settings.

    Example: sneakersync settings default-trust quarantine
    """


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
    from sneakersync.store import peers
    from sneakersync.sync import selection

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
    from sneakersync.sync.status import sharing

    chosen = [peers.get(c.store, n) for n in (with_ or except_)]
    before = sharing(c.store)
    selection.set_rule(c.store, collection, modes[0], chosen, where)
    after = sharing(c.store)
    cut = [after[pid]["name"] for pid in after
           if collection in before[pid]["gets"] + list(before[pid]["filtered"])
           and collection in after[pid]["excluded"]]
    text = selection.describe(c.store, collection)
    if cut:
        text += f"\nno longer shared with: {', '.join(cut)}"
    if as_json:
        emit_json({"collection": collection, "rules": [r for r in selection.list_rules(c.store)
                                                       if r["collection"] == collection],
                   "summary": text.split("\n")[0], "no_longer_shared_with": cut})
    else:
        c.say(text)

