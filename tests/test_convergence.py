"""Stateful model test: devices edit and exchange packets with loss, duplication
and reordering; after a final full exchange every store is identical."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sneakersync.store import home as home_mod
from sneakersync.store import peers
from sneakersync.sync.engine import ImportReport, build_export, import_packet

from conftest import det_rng

RIDS = ["r1", "r2", "r3"]


class Sync(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="snk-conv-"))
        self.devs: list = []
        self.pool: list[bytes] = []
        self.t = 1_000

    @initialize(n=st.integers(3, 5), policy=st.sampled_from(["lww", "merge", "fork", "manual"]))
    def setup(self, n: int, policy: str) -> None:
        for i in range(n):
            h = home_mod.create(self.tmp / f"d{i}", f"dev {i}", rng=det_rng(1000 + i))
            s = h.open_store()
            s.set_policy("c", policy)
            self.devs.append((h, s))
        for h, s in self.devs:
            for h2, _ in self.devs:
                if h2 is not h:
                    peers.add(s, h2.card.encode())
        for i, (h, s) in enumerate(self.devs):  # everyone starts with an edit of a shared record
            s.put("c", {"a": i}, RIDS[i % 2], ts=self._tick())

    def _tick(self) -> int:
        self.t += 1
        return self.t

    @rule(d=st.integers(0, 4), rid=st.sampled_from(RIDS), v=st.integers(0, 3),
          field=st.sampled_from(["a", "b"]))
    def put(self, d: int, rid: str, v: int, field: str) -> None:
        h, s = self.devs[d % len(self.devs)]
        try:
            cur = dict(s.get("c", rid).data or {})
        except Exception:
            cur = {}
        cur[field] = v
        s.put("c", cur, rid, ts=self._tick())

    @rule(d=st.integers(0, 4), rid=st.sampled_from(RIDS))
    def delete(self, d: int, rid: str) -> None:
        h, s = self.devs[d % len(self.devs)]
        try:
            s.delete("c", rid, ts=self._tick())
        except Exception:
            pass

    @rule(d=st.integers(0, 4), mask=st.integers(1, 15), full=st.booleans())
    def export(self, d: int, mask: int, full: bool) -> None:
        h, s = self.devs[d % len(self.devs)]
        recips = [p for i, p in enumerate(peers.all_peers(s)) if mask >> i & 1]
        if not recips:
            return
        out = build_export(h, s, recips, full=full, pad_to=0)
        if out is not None:
            out.commit(s)  # the sender believes it delivered, even if the stick is lost
            self.pool.append(out.data)

    @rule(i=st.integers(0, 1000), d=st.integers(0, 4))
    def deliver(self, i: int, d: int) -> None:
        if not self.pool:
            return
        h, s = self.devs[d % len(self.devs)]
        rep = ImportReport()
        import_packet(h, s, self.pool[i % len(self.pool)], rep)
        assert not rep.rejected, rep.rejected

    @invariant()
    def stores_are_sound(self) -> None:
        for _, s in self.devs:
            assert s.counter == s.conn.execute(
                "SELECT COALESCE(MAX(counter),0) FROM changes WHERE origin=?",
                (s.device_id,)).fetchone()[0]

    def teardown(self) -> None:
        try:
            if self.devs:
                # final full exchange: everyone sends everything it holds to everyone
                packets = []
                for h, s in self.devs:
                    out = build_export(h, s, peers.all_peers(s), full=True, pad_to=0)
                    if out is not None:
                        packets.append(out.data)
                for h, s in self.devs:
                    for data in reversed(packets):
                        rep = ImportReport()
                        import_packet(h, s, data, rep)
                        assert not rep.rejected, rep.rejected
                snaps = [s.snapshot() for _, s in self.devs]
                event(f"conflicts after sync: {min(len(self.devs[0][1].conflicts()), 2)}")
                confl = [[(c["conflict"], c["open"]) for c in s.conflicts()] for _, s in self.devs]
                for other in snaps[1:]:
                    assert other == snaps[0]
                for other in confl[1:]:
                    assert other == confl[0]
        finally:
            for _, s in self.devs:
                s.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


Sync.TestCase.settings = settings(max_examples=80, stateful_step_count=40, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])
TestConvergence = Sync.TestCase
