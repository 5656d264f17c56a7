"""``sneakersync demo``: a narrated scenario on embedded sample data.

Everything happens in a temporary folder (or ``--dir``): three devices, a
"USB stick" folder, and, when the optional extras are installed, a QR handover
through a video file, a beacon scan on virtual radios and a destination server.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from sneakersync.store import home as home_mod
from sneakersync.store import peers
from sneakersync.media.drive import export_to_drive, import_from_drive
from sneakersync.store.home import Home
from sneakersync.store.records import Store

Echo = Callable[[str], None]


class _Dev:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.store: Store = home.open_store()

    @property
    def name(self) -> str:
        return self.home.name


def _digest(store: Store) -> str:
    return hashlib.sha256(json.dumps(store.snapshot(), sort_keys=True).encode()).hexdigest()[:12]


def run_demo(workdir: Path | None, *, fast: bool = False, echo: Echo = print,
             eden: str | None = None) -> dict[str, Any]:
    keep = workdir is not None
    root = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="sneakersync-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        return _scenario(root, fast, echo, eden)
    finally:
        echo(f"\n(demo finished in {time.perf_counter() - t0:.1f} s; "
             + (f"files kept in {root})" if keep else "temporary files removed)"))
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _n(count: int, one: str, many: str | None = None) -> str:
    """'1 packet', '2 packets'."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _step(echo: Echo, n: int, title: str, cmd: str = "") -> None:
    echo(f"\n== {n}. {title}")
    if cmd:
        echo(f"   $ {cmd}")


def _scenario(root: Path, fast: bool, echo: Echo, eden: str | None = None) -> dict[str, Any]:
    from sneakersync.demo import fielddata

    echo("sneakersync demo: three devices keep a shelter registry and household needs")
    echo("assessments in sync with nothing but a USB stick (a folder here).")
    stick = root / "usb-stick"
    stick.mkdir(exist_ok=True)

    _step(echo, 1, "Create three devices", 'sneakersync init --name "Amina clinic laptop"')
    amina = _Dev(home_mod.create(root / "amina", "Amina clinic laptop"))
    juma = _Dev(home_mod.create(root / "juma", "Juma field tablet"))
    office = _Dev(home_mod.create(root / "office", "District office PC"))
    devs = [amina, juma, office]
    for d in devs:
        echo(f"   {d.name}")

    _step(echo, 2, "Exchange identity cards in person (each device adds the others)",
          "sneakersync peer add SNK1:... --name 'Juma field tablet'")
    for d in devs:
        for other in devs:
            if other is not d:
                peers.add(d.store, other.home.card.encode())
        d.store.set_policy("shelters", "merge")
        d.store.set_policy("households", "manual")
    echo(f"   card of {amina.name}: {amina.home.card.encode()[:48]}...")
    echo("   policies: shelters = field-level merge, households = manual (a person decides)")

    _step(echo, 3, "Amina loads the registry from sample files",
          "sneakersync load shelters samples/shelters.jsonl")
    n_sh, n_hh = (60, 200) if fast else (300, 1000)
    amina.store.write_many("shelters", ((r.pop("id"), r) for r in
                                        fielddata.generate("shelters", n_sh, seed=1,
                                                           with_ids=True)))
    amina.store.write_many("households", ((r.pop("id"), r) for r in
                                          fielddata.generate("households", n_hh, seed=2,
                                                             with_ids=True)))
    for c in amina.store.collections():
        echo(f"   {c['name']:<12} {c['records']} records")

    _step(echo, 4, "First sync: Amina writes one packet for both colleagues onto the stick",
          "sneakersync export /media/usb")
    res = export_to_drive(amina.home, amina.store, stick, [])
    echo(f"   one packet for {' and '.join(res['recipients'])}: {_n(res['changes'], 'change')}, "
         f"{res['bytes']:,} bytes, fingerprint {res['fingerprint']}")
    echo(f"   on the stick: {Path(res['files'][0]).relative_to(stick)}")
    echo("   (the name is the packet's hash: no names, places or dates are visible)")
    for d in (juma, office):
        rep = import_from_drive(d.home, d.store, stick)
        echo(f"   {d.name} imports it: {_n(rep.changes_applied, 'change')} applied")

    _step(echo, 5, "Both edit the same household while apart (a real conflict)",
          "sneakersync put households '{...}' --id HH")
    rid = next(iter(amina.store.rows("households")))[0]
    base = amina.store.get("households", rid).data or {}
    amina.store.put("households", {**base, "priority": "high", "notes": "roof damaged"}, rid)
    juma.store.put("households", {**base, "priority": "medium", "household_size": 7}, rid)
    sh = next(iter(amina.store.rows("shelters")))[0]
    sbase = amina.store.get("shelters", sh).data or {}
    amina.store.put("shelters", {**sbase, "status": "full"}, sh)
    juma.store.put("shelters", {**sbase, "population": 512}, sh)
    juma.store.put("shelters", {"name": "Mobile clinic tent", "capacity": 40}, "new-tent")
    echo(f"   household {rid[:8]}: Amina says priority high, Juma says medium")
    echo(f"   shelter {sh[:8]}: Amina sets status, Juma sets population (different fields)")

    _step(echo, 6, "Delta sync: each writes only what the others lack",
          "sneakersync export /media/usb && sneakersync import /media/usb")
    for d in (amina, juma):
        res = export_to_drive(d.home, d.store, stick, [])
        echo(f"   {d.name} writes a packet with {_n(res['changes'], 'change')} "
             f"({res['bytes']:,} bytes)")
    for d in devs:
        rep = import_from_drive(d.home, d.store, stick)
        skipped = rep.not_for_me + rep.duplicates
        echo(f"   {d.name} imports {_n(rep.imported, 'new packet')} "
             f"({_n(rep.changes_applied, 'change')})"
             + (f"; {_n(rep.conflicts, 'conflict')}, {rep.open_conflicts} for a person to decide"
                if rep.conflicts else "")
             + (f"; {_n(skipped, 'packet')} on the stick: its own or already imported"
                if skipped else ""))
    merged = office.store.get("shelters", sh).data or {}
    echo(f"   shelter merged field by field: status={merged.get('status')!r}, "
         f"population={merged.get('population')!r}")
    settled = [c for c in office.store.conflicts(include_settled=True) if not c["open"]]
    names = {d.home.device_id: d.name for d in devs}
    for c in settled:
        echo(f"   {c['collection']} {c['id'][:8]}: edited on two devices, settled by the "
             f"{c['policy']} policy (listed by `sneakersync conflicts --all`)")
    conflicts = office.store.conflicts()
    for c in conflicts:
        echo(f"   {c['collection']} {c['id'][:8]}: edited on two devices, waiting for a person:")
        for i, v in enumerate(c["versions"], 1):
            echo(f"      {i}. {names.get(v['origin'], v['origin'])} says priority "
                 f"{(v['data'] or {}).get('priority')}")

    _step(echo, 7, "Re-import the same stick: nothing changes (idempotent)",
          "sneakersync import /media/usb")
    before = _digest(office.store)
    rep = import_from_drive(office.home, office.store, stick)
    echo(f"   {_n(rep.duplicates, 'packet')} already imported, "
         f"{_n(rep.changes_applied, 'change')} applied; store digest {before} -> "
         f"{_digest(office.store)}")

    _step(echo, 8, "The coordinator decides the conflict; the decision syncs like an edit",
          "sneakersync conflicts resolve households/HH --pick 1")
    if conflicts:
        office.store.resolve_conflict(conflicts[0]["conflict"], pick=1)
    export_to_drive(office.home, office.store, stick, [])
    for d in (amina, juma):
        import_from_drive(d.home, d.store, stick)
    for d in (amina, juma):
        export_to_drive(d.home, d.store, stick, [])
    for d in devs:
        import_from_drive(d.home, d.store, stick)
    digests = {d.name: _digest(d.store) for d in devs}
    for name, dg in digests.items():
        echo(f"   {name:<22} store digest {dg}")
    same = len(set(digests.values())) == 1
    echo("   all three devices hold exactly the same records" if same else
         "   WARNING: devices differ")
    summary: dict[str, Any] = {"converged": same, "digests": digests,
                               "packets_on_stick": len(list((stick / "sneakersync/v1/packets")
                                                            .iterdir()))}
    n = 9
    for module, title, cmd, run in _PARTS:
        try:
            part = importlib.import_module(f"sneakersync.demo.{module}")
        except ImportError as exc:
            echo(f"\n(skipped: {title.split(':')[0].split('?')[0]}: needs {exc.name}; "
                 "install sneakersync[all])")
            continue
        _step(echo, n, title, cmd)
        n += 1
        for d in devs:  # each part opens the devices' stores itself
            d.store.close()
        run(part, root, {d.name: d.home.path for d in devs}, stick, echo, eden)
        for d in devs:
            d.store = d.home.open_store()
    for d in devs:
        d.store.close()
    return summary


# optional parts: (module, title, equivalent command, how to run it); each module raises
# ImportError when its extra is missing, and the demo goes on without it
_PARTS: list[tuple[str, str, str, Callable[..., None]]] = [
    ("qr", "No stick at hand: a QR code stream, screen to camera (a video file here)",
     "sneakersync qr send --to 'Juma field tablet' --out handover.mp4",
     lambda m, root, homes, stick, echo, eden: m.run_qr_demo(root, homes, echo)),
    ("beacon", "Who is around? A Bluetooth LE beacon on virtual radios",
     "sneakersync beacon scan --timeout 3",
     lambda m, root, homes, stick, echo, eden: m.run_beacon_demo(root, homes, echo)),
    ("server", "The stick reaches the destination server; receipts come back",
     "sneakersync --home server server init --name 'Office server'",
     lambda m, root, homes, stick, echo, eden: m.run_server_demo(root, homes, stick, echo,
                                                                     eden=eden)),
]
