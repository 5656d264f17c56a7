"""``push``: deliver to the destination server over HTTP and apply its receipt."""

from __future__ import annotations

from typing import Any

from sneakersync.sync import receipts
from sneakersync.wire.receipt import MEDIA_TYPE
from sneakersync.errors import FormatError, MediaError, UsageError, missing_extra
from sneakersync.store.home import Home
from sneakersync.store.records import Store
from sneakersync.sync.engine import build_exports


class ServerRefused(FormatError):
    """The server answered an upload with an error status."""

    layer = "server"


def push(home: Home, store: Store, url: str, *, timeout: float = 60.0,
         transport: Any = None) -> dict[str, Any]:
    """Upload everything the destination lacks; apply the receipt it returns.

    A large upload goes as the parts of a split export (formats/packet-v1.md, "Split
    exports"), one request each, in order: the server takes at most 10,000 changes in
    one packet (formats/server-http-v1.md §2.1).  Each part is remembered as delivered
    once the server stored it, so an interrupted push resumes with the rest.  With
    nothing new to send, only fetch the current receipt.
    """
    try:
        import httpx
    except ImportError as exc:
        raise missing_extra("server", "httpx") from exc
    dest = receipts.destination(store)
    if dest is None:
        raise UsageError("no destination server", hints=("add one: sneakersync server use CARD",))
    base = url.rstrip("/")
    outs = build_exports(home, store, [dest])
    res: dict[str, Any] = {"server": dest.name, "changes": 0, "bytes": 0}
    if len(outs) > 1:
        res["packets"] = 0
    try:
        with httpx.Client(timeout=timeout, transport=transport) as client:
            if not outs:
                r = client.get(f"{base}/v1/receipts/{home.device_id}")
                res["status"] = "nothing new"
                if r.status_code == 404:
                    res["receipt"] = {"status": "none yet"}
                    return res
            for out in outs:
                r = client.post(f"{base}/v1/packets", content=out.data,
                                headers={"Content-Type": "application/octet-stream"})
                res.update(changes=res["changes"] + out.changes,
                           bytes=res["bytes"] + len(out.data), packet_id=out.packet_id)
                if r.status_code != 200:
                    break
                out.commit(store)  # the server stored it: remember it has these changes
                res["status"] = r.headers.get("X-Sneakersync-Outcome", "stored")
                if "packets" in res:
                    res["packets"] += 1
    except httpx.HTTPError as exc:
        raise MediaError(f"cannot reach {base}: {exc}",
                         hints=("check the URL and that `sneakersync server serve` runs",)
                         ) from exc
    if r.status_code == 202 and r.headers.get("X-Sneakersync-Outcome") == "held":
        # the server keeps the packet for its administrator: not stored, so not committed
        res.update(status="held", receipt={"status": "none"})
        return res
    if r.status_code != 200:
        try:
            err = r.json()
            detail = f"{err.get('layer', '?')}: {err.get('error', '')}"
        except ValueError:
            detail = r.text[:200]
        raise ServerRefused(f"server answered {r.status_code}: {detail}")
    if r.headers.get("content-type", "").startswith(MEDIA_TYPE):
        res["receipt"] = receipts.apply_wrapped(home, store, r.content)
    else:
        res["receipt"] = {"status": "none"}
    return res
