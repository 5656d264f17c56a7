"""The demo's ending: the server hands the records to Sahana Eden.

With an Eden at hand (``sneakersync demo --eden URL``) the server binds the sample
collections to Eden's tables (schema read from Eden), pushes over REST, pushes again
(nothing goes twice) and reads Eden back. Without one, it binds them with the schema
snapshot in ``data/eden-bindings.json`` (taken from Eden e1cbdd6) and writes what Eden
would import: one S3JSON file and a FileSync drop folder.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from sneakersync.errors import SneakersyncError
from sneakersync.server import eden_push
from sneakersync.server.store import ServerStore
from sneakersync.store import binding as binding_mod
from sneakersync.wire import eden as wire_eden


def snapshot() -> dict[str, Any]:
    data = resources.files("sneakersync.demo").joinpath("data/eden-bindings.json").read_text(
        encoding="utf-8")
    got: dict[str, Any] = json.loads(data)
    return got


def run_eden_ending(workdir: Path, sstore: ServerStore, eden_url: str | None,
                    echo: Callable[[str], None]) -> dict[str, Any]:
    bindings = snapshot()
    names = sorted(c["name"] for c in sstore.core.collections() if c["name"] in bindings)
    client = None
    if eden_url:
        from sneakersync.media.eden import EdenClient, schema_forms

        client = EdenClient(eden_url)
    try:
        for name in names:
            spec = bindings[name]
            if client is not None:
                forms = schema_forms(client, spec["resource"], spec["fields"])
                spec = wire_eden.binding_from_mform(name, spec["resource"], forms,
                                                    spec["fields"], spec["keep"])
            b = binding_mod.set_binding(sstore.core, spec)
            echo(f"   $ sneakersync eden bind --file samples/eden/{name}.binding.json"
                 f"{' --url EDEN' if client else ''}  -> {name} to {b.resource}: "
                 f"{len(b.targets)} fields sent, {len(b.keep)} kept on the devices")
        if client is not None:
            rep = eden_push.rest_push(sstore, client)
            echo(f"   $ sneakersync eden push --url EDEN  -> {rep.accepted} records stored in "
                 f"Eden, {len(rep.refused)} refused, {len(rep.conflicts)} waiting on a conflict")
            for r in (rep.refused + rep.conflicts)[:3]:
                echo(f"     {r['collection']}/{r['id'][:12]}: {r['reason'][:90]}")
            again = eden_push.rest_push(sstore, client)
            echo(f"   pushing again sends {again.sent} records (Eden already has them)")
            held = {}
            for name in names:
                b = binding_mod.get_binding(sstore.core, name)
                if b is None:
                    continue
                items = wire_eden.read_eden(client.export_s3json(b.resource))
                held[name] = sum(1 for it in items if it.table == b.resource)
                echo(f"   Eden's {b.resource} now lists {held[name]} records "
                     f"(GET {b.resource.replace('_', '/', 1)}.s3json)")
            return {"pushed": rep.accepted, "refused": len(rep.refused), "eden": held}
        out = Path(workdir) / "eden.s3json"
        doc = eden_push.write_document(sstore, out)
        drop = Path(workdir) / "eden-drop"
        fs = eden_push.write_files(sstore, drop)
        echo(f"   no Eden given (--eden URL): {doc.written} records written to {out.name} "
             f"and {len(fs.files)} FileSync files to {drop.name}/ "
             f"({len(fs.refused)} refused, {len(fs.conflicts)} waiting on a conflict)")
        for r in (fs.refused + fs.conflicts)[:3]:
            echo(f"     {r['collection']}/{r['id'][:12]}: {r['reason'][:90]}")
        echo("   import them in Eden: POST <eden>/cr/shelter.s3json (each table), or a "
             "FileSync repository on that folder with the pattern sneakersync_<table>_*.xml")
        return {"written": doc.written, "files": [f["file"] for f in fs.files]}
    except SneakersyncError as exc:
        echo(f"   Eden handover stopped: {exc}")
        return {"error": str(exc)}
    finally:
        if client is not None:
            client.close()
