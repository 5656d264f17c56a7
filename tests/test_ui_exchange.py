"""The browser UI end to end in headless Chromium: conflicts, sync through a stick, status.

One browser for the module; the device the UI shows (Amina) exchanges packets with
Juma's device, made through the library.  Screenshots go to the pytest tmp folder
(and to $SNEAKERSYNC_UI_SHOTS when set).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from conftest import Device, befriend, recv, send
from sneakersync.store import home as home_mod
from ui_browser import Browser, need_chromium

pytest.importorskip("jinja2")


class UI:
    def __init__(self, browser: Browser, running, amina: Device, juma: Device,  # type: ignore[no-untyped-def]
                 shots: Path, work: Path) -> None:
        self.b = browser
        self.running = running
        self.base = running.base
        self.amina = amina
        self.juma = juma
        self.shots = shots
        self.work = work

    def go(self, path: str) -> None:
        self.b.goto(self.base + path)

    def shot(self, name: str) -> Path:
        return self.b.artifact(self.shots, name)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    need_chromium()
    from sneakersync.ui.run import start
    from sneakersync.ui.session import Session

    work = tmp_path_factory.mktemp("uix")
    amina = Device(home_mod.create(work / "amina", "Amina clinic laptop"))
    juma = Device(home_mod.create(work / "juma", "Juma tablet"))
    befriend(amina, juma)
    running = start(Session(work / "amina"))
    browser = Browser(work)
    try:
        browser.goto(running.url)
        yield UI(browser, running, amina, juma, work / "screenshots", work)
    finally:
        browser.close()
        running.stop()
        amina.close()
        juma.close()


def test_resolve_a_conflict_field_by_field(ui: UI) -> None:
    a, j = ui.amina, ui.juma
    a.store.set_policy("shelters", "manual")
    a.store.put("shelters", {"name": "Kibera school", "capacity": 120, "open": True}, "s1")
    recv(j, send(a, [j]).data)
    a.store.put("shelters", {"name": "Kibera school", "capacity": 150, "open": True}, "s1")
    j.store.put("shelters", {"name": "Kibera Primary", "capacity": 120, "open": False}, "s1")
    rep = recv(a, send(j, [a]).data)
    assert rep.open_conflicts == 1
    ui.go("/conflicts")
    assert ui.b.eval("document.querySelectorAll('section.conflict').length") == 1
    heads = ui.b.text("table.versions thead")
    assert "Juma tablet" in heads and "Amina clinic laptop" in heads
    # the fields that differ are marked
    assert ui.b.eval("document.querySelectorAll('td.diff').length") >= 4
    ui.shot("conflicts")
    # take the name from one version, capacity from the other, and type 'open'
    versions = a.store.conflicts()[0]["versions"]
    by_name = {v["data"]["name"]: i + 1 for i, v in enumerate(versions)}
    by_cap = {v["data"]["capacity"]: i + 1 for i, v in enumerate(versions)}
    ui.b.eval(f"document.querySelector('input[name=\"c.name\"][value=\"{by_name['Kibera Primary']}\"]').click()")
    ui.b.eval(f"document.querySelector('input[name=\"c.capacity\"][value=\"{by_cap[150]}\"]').click()")
    ui.b.eval("document.querySelector('input[name=\"c.open\"][value=edit]').click()")
    ui.b.fill("input[name='e.open']", "true")
    ui.b.click("button.merge")
    assert "saved the merged record" in ui.b.text(".flash")
    assert a.store.get("shelters", "s1").data == {"name": "Kibera Primary", "capacity": 150,
                                                  "open": True}
    assert a.store.conflicts() == []
    # the decision syncs like an edit: Juma's device reads the same afterwards
    recv(j, send(a, [j]).data)
    assert j.store.get("shelters", "s1").data == a.store.get("shelters", "s1").data
    assert j.store.conflicts() == []
    ui.go("/conflicts")
    assert ui.b.eval("!!document.querySelector('#none')")


def test_keep_one_version_whole(ui: UI) -> None:
    a, j = ui.amina, ui.juma
    a.store.set_policy("notes", "manual")
    a.store.put("notes", {"text": "first"}, "n1")
    recv(j, send(a, [j]).data)
    a.store.put("notes", {"text": "amina's"}, "n1")
    j.store.delete("notes", "n1")
    recv(a, send(j, [a]).data)
    versions = a.store.conflicts()[0]["versions"]
    deleted = next(i + 1 for i, v in enumerate(versions) if v["op"] == "del")
    ui.go("/conflicts")
    assert "deleted it" in ui.b.text("main")
    ui.b.click(f"button.pick[value='{deleted}']")
    assert "kept version" in ui.b.text(".flash")
    assert [r for r, _ in a.store.rows("notes")] == []
    assert a.store.conflicts() == []


def _wait_job(ui: UI) -> str:
    ui.b.wait("['done', 'failed'].includes(document.querySelector('[data-job]').dataset.state)",
              "the exchange to finish")
    assert ui.b.eval("document.querySelector('[data-job]').dataset.state") == "done", \
        ui.b.text("main")
    return ui.b.text("#report")


def test_sync_through_a_stick(ui: UI) -> None:
    from sneakersync.media.drive import export_to_drive, import_from_drive

    a, j = ui.amina, ui.juma
    stick = ui.work / "stick"
    stick.mkdir()
    a.store.write_many("households", [(f"hh-{i}", {"head": f"Head {i}"}) for i in range(25)])
    ui.go("/sync")
    assert "Juma tablet" in ui.b.text("#whom")
    ui.b.fill("#drive", str(stick))
    ui.shot("sync")
    ui.b.click("#export")
    report = _wait_job(ui)
    assert "Wrote 1 packet for Juma tablet" in report, report
    ui.shot("sync-report")
    # Juma's device reads the stick, edits, writes back
    rep = import_from_drive(j.home, j.store, stick)
    assert rep.imported == 1 and j.store.get("households", "hh-3").data == {"head": "Head 3"}
    j.store.put("households", {"head": "Head 3", "size": 5}, "hh-3")
    j.store.put("households", {"head": "New family"}, "hh-99")
    export_to_drive(j.home, j.store, stick, [])
    # and something that is not a packet, named like one (a damaged or forged file)
    import hashlib

    junk = b"age-encryption.org/v1\n-> X25519 not really\n"
    (stick / "sneakersync" / "v1" / "packets" / f"{hashlib.sha256(junk).hexdigest()}.pkt"
     ).write_bytes(junk)
    # Amina reads it in the browser: the stick folder is remembered
    ui.go("/sync")
    assert ui.b.eval("document.querySelector('#drive').value") == str(stick)
    ui.b.click("#import")
    report = _wait_job(ui)
    assert "From Juma tablet: 1 packet, 2 changes applied." in report, report
    assert f"Refused {hashlib.sha256(junk).hexdigest()}.pkt" in report, report
    assert a.store.get("households", "hh-99").data == {"head": "New family"}


def test_a_missing_stick_is_one_clear_message(ui: UI) -> None:
    ui.go("/sync")
    ui.b.fill("#drive", str(ui.work / "no-such-stick"))
    ui.b.click("#import")
    assert "does not exist" in ui.b.text(".flash.error")
    assert "plugged in" in ui.b.text(".flash.error")


def test_send_by_qr_full_screen_and_read_it_off_the_screen(ui: UI) -> None:
    """The player draws real QR frames: read them off screenshots into Juma's device."""
    import io

    import numpy as np
    from PIL import Image

    from sneakersync.media.qr.decoders import ZxingDecoder
    from sneakersync.media.qr.receiver import Receiver

    a, j = ui.amina, ui.juma
    a.store.put("visits", {"where": "Kibera", "n": 1}, "v1")
    ui.go("/qr")
    ui.b.click("#send")
    assert "/qr/show?id=" in ui.b.url()
    ui.b.wait("document.querySelector('#fr').textContent.includes('/')", "the player to start")
    ui.b.click("#play", navigates=False)  # pause, then step frame by frame
    ui.shot("qr-send")
    rx, dec, got = Receiver(), ZxingDecoder(thorough=True), []
    for _ in range(60):
        png = ui.b.send("Page.captureScreenshot", {"format": "png"})["data"]
        import base64

        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("L"))
        _, done = rx.feed_capture(dec.decode(img))
        got += done
        if got:
            break
        ui.b.click("#next", navigates=False)
    assert got, "no packet could be read off the player"
    rep = recv(j, got[0].packet)
    assert rep.imported == 1 and j.store.get("visits", "v1").data == {"where": "Kibera", "n": 1}


def test_status_receipts_and_prune_after_a_confirmation(ui: UI) -> None:
    from server_support import Server

    from sneakersync.media.drive import export_to_drive, import_from_drive
    from sneakersync.server.setup import use_server
    from sneakersync.sync.prune import set_retention

    a = ui.amina
    srv = Server(ui.work / "server")
    try:
        use_server(a.store, srv.home.card.encode())
        srv.enroll(a)
        stick = ui.work / "stick-status"
        stick.mkdir()
        a.store.write_many("deliveries", [(f"d{i}", {"i": i}) for i in range(12)])
        set_retention(a.store, "deliveries", "after-receipt")
        export_to_drive(a.home, a.store, stick, [])
        srv.ingest(stick)
        import_from_drive(a.home, a.store, stick)  # picks up the receipt
    finally:
        srv.close()
    ui.go("/status")
    assert "Office server: receipt #" in ui.b.text("#receipts")
    assert "12 delivered records could be deleted" in ui.b.text("#prune-plan")
    ui.shot("status")
    ui.b.click("#prune")
    assert "never syncs" in ui.b.text("main")
    assert len(list(a.store.rows("deliveries"))) == 12  # nothing before the confirmation
    ui.b.click("#confirm")
    assert "Deleted the local copy of 12" in ui.b.text(".flash")
    assert list(a.store.rows("deliveries")) == []


def test_trusting_a_quarantined_colleague_applies_what_was_held(ui: UI) -> None:
    from sneakersync.store import peers

    a = ui.amina
    baraka = Device(home_mod.create(ui.work / "baraka", "Baraka phone"))
    try:
        peers.add(a.store, baraka.home.card.encode(), trust="quarantine")
        peers.add(baraka.store, a.home.card.encode())
        baraka.store.put("sightings", {"where": "river crossing"}, "x1")
        rep = recv(a, send(baraka, [a]).data)
        assert rep.quarantined == 1 and list(a.store.rows("sightings")) == []
        ui.go(f"/people/peer?id={baraka.id}")
        assert ui.b.eval("document.querySelector('input[value=quarantine]').checked")
        ui.b.eval("document.querySelector('input[value=trusted]').checked = true")
        ui.b.click("#set-trust")
        assert "1 held packets, 1 changes applied now" in ui.b.text(".flash")
        assert a.store.get("sightings", "x1").data == {"where": "river crossing"}
        # a card whose safety number does not match is removed, its data stays
        ui.go(f"/people/peer?id={baraka.id}")
        ui.b.click("#nomatch")
        assert peers.by_id(a.store, baraka.id) is None
        assert a.store.get("sightings", "x1").data == {"where": "river crossing"}
    finally:
        baraka.close()


def test_what_each_colleague_lacks_and_what_is_on_its_way(ui: UI) -> None:
    from sneakersync.media.drive import export_to_drive

    a = ui.amina
    stick = ui.work / "stick-counts"
    stick.mkdir()
    export_to_drive(a.home, a.store, stick, [])  # Juma is up to date (on the way)
    a.store.write_many("counts", [(f"c{i}", {"i": i}) for i in range(7)])

    def row(table: str) -> str:
        return str(ui.b.eval(f"[...document.querySelectorAll('{table} tbody tr')]"
                             ".find(r => r.innerText.includes('Juma tablet')).innerText"))

    ui.go("/status")
    cells = row("#peer-status").split("\t")
    assert cells[1].strip() == "7", cells  # lacks the 7 new changes
    ui.shot("status-peers")
    ui.go("/sync")
    assert row("#whom").split("\t")[1].strip() == "7"
    ui.b.fill("#drive", str(stick))
    ui.b.click("#export")
    _wait_job(ui)
    ui.go("/status")
    cells = row("#peer-status").split("\t")
    assert cells[1].strip() == "0" and int(cells[2]) >= 7, cells  # now on the way
