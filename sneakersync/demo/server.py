"""Demo part: the stick reaches the destination server and receipts come back."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from sneakersync.store import home as home_mod
from sneakersync.media.drive import export_to_drive, import_from_drive
from sneakersync.wire.identity import KIND_SERVER
from sneakersync.sync.prune import prune, set_retention
from sneakersync.server.export import ExportOptions, export_to
from sneakersync.server.enroll import enroll
from sneakersync.server.ingest import ingest_drive
from sneakersync.server.setup import use_server
from sneakersync.server.store import SqliteServerStore


def run_server_demo(workdir: Path, devices: dict[str, Path], drive: Path,
                    echo: Callable[[str], None], eden: str | None = None) -> None:
    """Create a server, deliver every device's data via the stick, carry receipts back,
    prune on one device; narrate each step with ``echo``."""
    server_home = Path(workdir) / "server"
    srv = home_mod.create(server_home, "Office server", kind=KIND_SERVER)
    echo(f"   the coordinator creates the server {srv.name!r}")
    homes = {name: home_mod.load(path) for name, path in devices.items()}
    stores = {name: h.open_store() for name, h in homes.items()}
    sstore = SqliteServerStore(srv.open_store())
    try:
        echo("   the server stores data only from devices the coordinator enrolled: each")
        echo("   device shows its card, the coordinator enrolls it, and both compare the")
        echo("   safety number on their screens")
        for name, h in homes.items():
            p = enroll(srv, sstore, h.card.encode(), name)
            echo(f"   $ sneakersync --home server server enroll SNK1:... --name {name!r}  "
                 f"-> {p.name} enrolled")
        echo("   $ sneakersync --home server server verify NAME --confirm   "
             "(device: sneakersync peer verify 'Office server')")
        echo("   each device adds the server's card as its destination, then exports")
        echo("   $ sneakersync server use SNK1:...   $ sneakersync export /media/usb")
        for name, h in homes.items():
            use_server(stores[name], srv.card.encode())
            res = export_to_drive(h, stores[name], drive, [])
            echo(f"   {name} writes {res['packets']} packet{'s' if res['packets'] != 1 else ''} "
                 f"({res['changes']:,} changes)")
        stranger = _stranger_packet(Path(workdir) / "stranger", srv, drive)
        echo(f"   a stranger's device ({stranger}) also slipped a signed packet onto the stick")
        echo("   $ sneakersync --home server server ingest /media/usb")
        rep = ingest_drive(srv, sstore, drive).as_json()
        held = rep["held"]
        echo(f"   the server holds {held} packet{'s' if held != 1 else ''} unopened: "
             f"{'its' if held == 1 else 'their'} signer is not enrolled (`server held` lists "
             "them; `server reject` drops them)")
        echo(f"   the server stores {rep['changes_stored']:,} changes from {rep['stored']} "
             f"packets, each change once ({rep['changes_duplicate']:,} copies came a second way: "
             "devices pass on what they got from each other)")
        echo(f"   it writes {rep['receipts_written']} signed receipts to the stick "
             "(encrypted, one per device)")
        ingest_again = ingest_drive(srv, sstore, drive).as_json()
        echo(f"   ingesting the same stick again stores {ingest_again['changes_stored']} changes "
             "and rewrites byte-identical receipts")
        for name, h in homes.items():
            got = import_from_drive(h, stores[name], drive)
            n = got.receipts  # type: ignore[attr-defined]
            echo(f"   {name} imports the stick and takes {n} receipt{'s' if n != 1 else ''}")
        first = next(iter(homes))
        st = stores[first]
        cols = [c["name"] for c in st.collections()]
        if cols:
            echo(f"   {first} sets retention and prunes what the server confirmed:")
            echo(f"   $ sneakersync collection retention {cols[0]} after-receipt")
            set_retention(st, cols[0], "after-receipt")
            dry = prune(h := homes[first], st, dry_run=True)
            echo(f"   $ sneakersync prune --dry-run  -> would delete {dry['records']} records; "
                 f"kept: {dry['edited_since']} edited since, {dry['not_delivered']} not "
                 f"confirmed, {dry['in_conflict']} in conflict")
            done = prune(h, st)
            echo(f"   $ sneakersync prune --yes  -> deleted {done['records']} local copies "
                 f"({done['changes_erased']} change bodies erased); nothing is sent: the "
                 "others and the server keep theirs")
        try:
            res = export_to(sstore, ExportOptions(fmt="s3xml"),
                            out=Path(workdir) / "eden-export.xml")
            echo(f"   $ sneakersync server export --format s3xml --out eden-export.xml  -> "
                 f"{res['records']} records for Sahana Eden")
        except Exception as exc:  # open conflicts: the export refuses, and says why
            echo(f"   server export refused: {exc}")
        from sneakersync.demo.eden import run_eden_ending

        echo("   the records go on to Sahana Eden, each field stored there or refused with "
             "a reason")
        run_eden_ending(Path(workdir), sstore, eden, echo)
    finally:
        sstore.core.close()
        for s in stores.values():
            s.close()


def _stranger_packet(path: Path, srv: home_mod.Home, drive: Path) -> str:
    """A device nobody enrolled delivers to the server anyway (it has the server's card)."""
    h = home_mod.create(path, "Unknown phone")
    st = h.open_store()
    try:
        use_server(st, srv.card.encode())
        st.put("households", {"head": "Nobody", "size": 99}, "planted")
        export_to_drive(h, st, drive, [])
    finally:
        st.close()
    return h.name
