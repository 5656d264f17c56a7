"""Exchange results told in plain sentences, for people who do not read JSON.

Takes the ``as_json()`` of an import report or the result of an export and names
peers by the names this device gave them.
"""

from __future__ import annotations

from typing import Any

from sneakersync.store import peers as peers_mod
from sneakersync.store.records import Store


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def _name(store: Store, device_id: str) -> str:
    p = peers_mod.by_id(store, device_id)
    return p.name if p is not None else f"an unknown device ({device_id})"


def import_sentences(store: Store, rep: dict[str, Any]) -> list[str]:
    """What arrived, from whom, what conflicts, what was held or refused and why."""
    out: list[str] = []
    if not rep.get("packets"):
        out.append("No packets for this device were found.")
    by_sender: dict[str, list[int]] = {}
    for a in rep.get("arrived", []):
        got = by_sender.setdefault(a["sender"], [0, 0, 0])
        got[0] += 1
        got[1] += int(a["changes"])
        got[2] += int(a.get("conflicts", 0))
    for sender, (packets, changes, _) in by_sender.items():
        out.append(f"From {_name(store, sender)}: {_n(packets, 'packet')}, "
                   f"{_n(changes, 'change')} applied.")
    skipped = []
    if rep.get("duplicates"):
        skipped.append(f"{_n(rep['duplicates'], 'packet')} had already arrived before")
    if rep.get("not_for_me"):
        skipped.append(f"{_n(rep['not_for_me'], 'packet')} were for other devices")
    if skipped:
        out.append("; ".join(skipped).capitalize() + ".")
    if rep.get("conflicts"):
        waiting = rep.get("open_conflicts", 0)
        out.append(f"{_n(rep['conflicts'], 'record')} had been edited on two devices at once; "
                   + (f"{waiting} need you to decide (see Conflicts)." if waiting
                      else "the collection's policy settled them."))
    if rep.get("revocations"):
        out.append(f"{_n(rep['revocations'], 'revocation')} from the team applied.")
    if rep.get("receipts"):
        out.append(f"{_n(rep['receipts'], 'delivery receipt')} from the server accepted.")
    for h in rep.get("quarantine", []):
        out.append(f"Held, not applied: {h['reason']}.")
    for r in rep.get("rejected", []):
        out.append(f"Refused {r['file']}: {r['error']}.")
    return out


def export_sentences(res: dict[str, Any]) -> list[str]:
    """What an export wrote, for whom."""
    if not res.get("packets"):
        return ["Nothing to write: every recipient already has everything."]
    out = []
    for w in res.get("written", []):
        out.append(f"Wrote 1 packet for {', '.join(w['recipients'])}: {_n(w['changes'], 'change')}, "
                   f"{w['bytes']:,} bytes (fingerprint {w['fingerprint']}).")
    return out
