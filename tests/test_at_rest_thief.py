"""The thief: a stolen laptop's home folder (locked) and a copy of the stick reveal nothing.

Two field devices and the destination server, all sealed under passphrases, sync
through a stick folder: records are written, edited and deleted, packets go both
ways, the server ingests and hands receipts back.  Then the thief copies every
home folder (one while its store is still open, so the WAL is on disk too) and
the stick, and searches every byte and every file name for everything that went
in: field values (also the old values of edited records and the last values of
deleted ones), field names, record ids, collection names, device names, device
ids, public keys and every private key byte (signing seeds, agreement secrets,
store keys), in the forms the lost-stick audit uses (raw, hex, base64, base32,
UTF-8/UTF-16, cases).  Nothing is found.  With the passphrases everything reads
back as before, and once every peer and the server hold an edit and a delete,
compaction has erased the values they superseded: not even the passphrase shows
them.  Positive controls: a value planted in a copy, and a --no-passphrase home,
are found by the same search.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import lost_stick_audit as A  # noqa: E402

from sneakersync.store import home as home_mod  # noqa: E402
from sneakersync.store import peers  # noqa: E402
from sneakersync.wire.identity import KIND_SERVER  # noqa: E402

PASS = {"amina": "amina's long passphrase", "juma": "juma walks to kibera",
        "server": "office server key-file text"}
NAMES = {"amina": "Amina clinic laptop", "juma": "Juma field tablet", "server": "District server"}
DIRS = {"amina": "d1", "juma": "d2", "server": "d3"}  # folder names are the owner's choice

RECORDS = [
    ("patients", "pt-ochieng-0001", {"full_name": "Wanjiru Ochieng", "diagnosis": "malaria",
                                     "village": "Kawangware", "phone": "+254711223344"}),
    ("patients", "pt-mutua-0002", {"full_name": "Baraka Mutua", "diagnosis": "cholera",
                                   "village": "Mathare North", "allergy": "penicillin"}),
    ("missing_persons", "mp-akinyi-77", {"name": "Akinyi Odhiambo", "last_seen": "Gikomba market",
                                         "age": 9, "wearing": "yellow raincoat"}),
    ("households", "hh-kibera-4411", {"head": "Mzee Kiprotich", "members": 7,
                                      "needs": "tarpaulin and water tablets"}),
]
EDIT = ("patients", "pt-mutua-0002", {"full_name": "Baraka Mutua", "diagnosis": "typhoid fever",
                                      "village": "Mathare North", "allergy": "penicillin"})
DELETE = ("missing_persons", "mp-akinyi-77")
JUMA_RECORD = ("households", "hh-mukuru-9001", {"head": "Halima Abdallah", "members": 4,
                                                "needs": "mosquito nets"})
JUMA_LATER = ("households", "hh-mukuru-9002", {"head": "Omondi Wekesa", "members": 3,
                                               "needs": "blankets"})


def _needles(homes: dict[str, home_mod.Home], values: list[dict]) -> dict[str, set[bytes]]:
    cat: dict[str, set[bytes]] = {}

    def add(kind: str, forms: list[bytes]) -> None:
        cat.setdefault(kind, set()).update(f for f in forms if len(f) >= A.MIN_NEEDLE)

    for h in homes.values():
        add("device name", A._text_forms(h.name))
        for word in h.name.split():
            add("device name", A._text_forms(word))
        add("device id", A._text_forms(h.device_id) + A._key_forms(h.keys.raw_id))
        card = h.card
        add("public key", A._key_forms(card.sign_public) + A._key_forms(card.enc_public))
        add("identity card", A._text_forms(card.encode()[:24]))
        assert h.store_key is not None
        for secret in (h.keys.sign_seed, h.keys.sign_secret, h.keys.enc_secret, h.store_key):
            add("private key", A._key_forms(secret))
            add("private key", [secret[i:i + 8] for i in range(0, len(secret), 8)])
    for col, rid, data in values:
        add("collection", A._text_forms(col))
        add("record id", A._text_forms(rid))
        for leaf in A._leaves(data):
            add("field value" if leaf not in data else "field name", A._text_forms(leaf))
    return cat


def _search(root: Path, needles: dict[str, set[bytes]]) -> list[tuple[str, str, bytes]]:
    hits = []
    for f in sorted(root.rglob("*")):
        name = f.name.encode()
        blob = f.read_bytes() if f.is_file() else b""
        for kind, ns in needles.items():
            for n in ns:
                if n in name or n in blob:
                    hits.append((kind, str(f.relative_to(root)), n))
    return hits


@pytest.fixture(scope="module")
def theft(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from sneakersync.media.drive import export_to_drive, import_from_drive
    from sneakersync.server.ingest import ingest_drive
    from sneakersync.server.setup import use_server
    from sneakersync.server.store import SqliteServerStore
    from sneakersync.sync.compact import compact

    root = tmp_path_factory.mktemp("theft")
    stick = root / "stick"
    stick.mkdir()
    homes = {n: home_mod.create(root / DIRS[n], NAMES[n], passphrase=PASS[n],
                                kind=KIND_SERVER if n == "server" else 1) for n in NAMES}
    st = {n: homes[n].open_store() for n in ("amina", "juma")}
    for a in ("amina", "juma"):
        for b in ("amina", "juma"):
            if a != b:
                peers.add(st[a], homes[b].card.encode())
        use_server(st[a], homes["server"].card.encode())
    for col, rid, data in RECORDS:
        st["amina"].put(col, data, rid)
    st["juma"].put(JUMA_RECORD[0], JUMA_RECORD[2], JUMA_RECORD[1])
    export_to_drive(homes["amina"], st["amina"], stick, [])
    export_to_drive(homes["juma"], st["juma"], stick, [])
    import_from_drive(homes["juma"], st["juma"], stick)
    import_from_drive(homes["amina"], st["amina"], stick)
    st["amina"].put(EDIT[0], EDIT[2], EDIT[1])
    st["amina"].delete(*DELETE)
    export_to_drive(homes["amina"], st["amina"], stick, [])
    import_from_drive(homes["juma"], st["juma"], stick)
    srv_core = homes["server"].open_store()
    for n in ("amina", "juma"):  # the coordinator enrolled both devices
        peers.add(srv_core, homes[n].card.encode())
    ingest_drive(homes["server"], SqliteServerStore(srv_core), stick)
    srv_core.close()
    for n in ("amina", "juma"):
        import_from_drive(homes[n], st[n], stick)
    # juma's next packet tells amina what juma holds; once every peer and the server hold
    # the edit and the delete, compaction erases the values they superseded
    st["juma"].put(JUMA_LATER[0], JUMA_LATER[2], JUMA_LATER[1])
    export_to_drive(homes["juma"], st["juma"], stick, [])
    import_from_drive(homes["amina"], st["amina"], stick)
    compacted = compact(st["amina"])
    expect = {n: {(c["name"], rid): data for c in st[n].collections()
                  for rid, data in st[n].rows(c["name"])} for n in st}
    st["amina"].close()
    # the thief takes juma's tablet while sneakersync still has its store open
    loot = root / "loot"
    for n in NAMES:
        shutil.copytree(root / DIRS[n], loot / DIRS[n])
    shutil.copytree(stick, loot / "stick")
    wal = (loot / DIRS["juma"] / "store.db-wal")
    st["juma"].close()
    values = RECORDS + [EDIT, JUMA_RECORD, JUMA_LATER]
    return {"root": root, "compacted": compacted, "loot": loot, "homes": homes, "expect": expect, "values": values,
            "needles": _needles(homes, values), "wal_copied": wal.exists()}


def test_thief_with_locked_homes_and_stick_finds_nothing(theft: dict) -> None:
    needles = theft["needles"]
    assert theft["wal_copied"]  # the open store's WAL was taken too
    assert len(needles["private key"]) >= 3 * 4 * 8 and len(needles["field value"]) > 40
    assert {"device name", "device id", "public key", "record id", "collection",
            "field name"} <= set(needles)
    loot = theft["loot"]
    files = [f for f in loot.rglob("*") if f.is_file()]
    assert any(f.parent.name == "stick" or "stick" in f.parts for f in files)
    hits = _search(loot, needles)
    assert hits == [], hits[:20]
    # no plain SQLite database anywhere (a WAL keeps SQLite's 32-byte frame header in
    # clear: page size and salts; its pages are encrypted, as the search shows)
    assert not [f for f in files if f.read_bytes()[:16] == b"SQLite format 3\0"]


def test_the_search_finds_a_planted_value(theft: dict, tmp_path: Path) -> None:
    """Positive control: the same search flags plaintext when it is there."""
    copy = tmp_path / "copy"
    shutil.copytree(theft["loot"] / DIRS["juma"], copy)
    (copy / "notes.txt").write_bytes(b"..." + "yellow raincoat".encode("utf-16-le") + b"...")
    hits = _search(copy, theft["needles"])
    assert [h[0] for h in hits] == ["field value"]


def test_plain_home_would_be_found(tmp_path: Path) -> None:
    """Positive control: a --no-passphrase home leaks, and the search says so."""
    h = home_mod.create(tmp_path / "kiosk", "Kiosk tablet")
    s = h.open_store()
    s.put("patients", {"full_name": "Wanjiru Ochieng"}, "pt-1")
    s.close()
    hits = _search(tmp_path, {"value": set(A._text_forms("Wanjiru Ochieng")),
                              "key": set(A._key_forms(h.keys.sign_seed))})
    assert {k for k, _, _ in hits} == {"value", "key"}


def test_with_the_passphrase_settled_history_is_gone(theft: dict) -> None:
    """Less history: even with amina's passphrase, the value her edit replaced and the
    values of the record she deleted are no longer in her store (every peer and the
    server hold the edit and the delete, so compaction erased them)."""
    assert theft["compacted"]["values_erased"] >= 2, theft["compacted"]
    s = home_mod.load(theft["loot"] / DIRS["amina"], PASS["amina"]).open_store()
    try:
        tables = [r[0] for r in s.conn.execute("SELECT name FROM sqlite_master "
                                                "WHERE type='table'")]
        cells = [c for t in tables for row in s.conn.execute(f'SELECT * FROM "{t}"')
                 for c in row]
    finally:
        s.close()
    dump = b"\n".join(c if isinstance(c, bytes) else str(c).encode() for c in cells)
    assert len(tables) > 5 and b"typhoid fever" in dump  # the current value stays
    for gone in ("cholera", "Akinyi Odhiambo", "yellow raincoat", "Gikomba market"):
        assert gone.encode() not in dump, gone


def test_with_the_passphrases_everything_reads_back(theft: dict) -> None:
    loot = theft["loot"]
    for n in ("amina", "juma"):
        h = home_mod.load(loot / DIRS[n], PASS[n])
        assert h.name == NAMES[n] and h.device_id == theft["homes"][n].device_id
        s = h.open_store()
        got = {(c["name"], rid): data for c in s.collections() for rid, data in s.rows(c["name"])}
        s.close()
        assert got == theft["expect"][n]
        assert got[("patients", EDIT[1])]["diagnosis"] == "typhoid fever"
        assert ("missing_persons", DELETE[1]) not in got
    srv = home_mod.load(loot / DIRS["server"], PASS["server"])
    core = srv.open_store()
    assert core.get("households", JUMA_RECORD[1]).data == JUMA_RECORD[2]
    core.close()
    with pytest.raises(Exception) as err:
        home_mod.load(loot / DIRS["juma"], PASS["amina"])
    assert type(err.value).__name__ == "LockedError"
