"""Device-side setup: choose the destination server."""

from __future__ import annotations

from sneakersync.store import peers as peers_mod
from sneakersync.errors import UsageError
from sneakersync.wire.identity import KIND_SERVER, decode_card
from sneakersync.sync.receipts import DESTINATION_SETTING
from sneakersync.store.records import Store


def use_server(store: Store, card_text: str, name: str | None = None) -> peers_mod.Peer:
    """Add the server as a peer of kind server (if new) and mark it the destination."""
    card = decode_card(card_text)
    if card.kind != KIND_SERVER:
        raise UsageError("that card belongs to a device, not a server",
                         hints=("on the server: sneakersync server init --name NAME; "
                                "then give its `whoami` card here",))
    p = peers_mod.by_id(store, card.device_id)
    if p is None:
        p = peers_mod.add(store, card.encode(), name, trust="trusted")
    elif p.revoked:
        raise UsageError(f"server {p.name!r} is revoked here")
    store.set_setting(DESTINATION_SETTING, p.device_id)
    return p
