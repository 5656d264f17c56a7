"""Parser robustness: a short fuzz run of every target, plus replay of past findings.

The targets live in ``tests/fuzz/targets.py``; the long campaign is
``benchmarks/fuzz_campaign.py``.  Property: only SneakersyncError subclasses
escape, no input takes over 1 s, and the import path never applies (any part
of) a packet it rejects.  Hypothesis runs derandomized, so the suite is stable;
the campaign explores.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzz import targets as T  # noqa: E402
from fuzz.mutate import Mutator  # noqa: E402

NAMES = T.available()
# examples per target, sized so the whole file stays around 20 s on a laptop core
EXAMPLES = {"import_resealed": 500, "import_packet": 1000, "drive_layout": 600,
            "age_decrypt": 1000, "age_header": 1000, "changes": 1200}
DEFAULT_EXAMPLES = 1500


def test_every_parser_has_a_target() -> None:
    expected = {"card", "age_header", "age_decrypt", "envelope", "decompress", "body", "changes",
                "qr_frame", "beacon", "drive_layout", "import_packet", "import_resealed"}
    assert expected <= set(T.TARGETS)
    assert {"card", "age_header", "envelope", "body", "import_packet"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_seeds_and_regressions_behave(name: str) -> None:
    """Every seed and every saved finding runs clean (replay, SQLite fuzzcheck style)."""
    cases = T.seeds(name)
    assert cases
    bad = [f for f in (T.run_one(name, c) for c in cases) if f is not None]
    assert not bad, [(f.kind, f.detail) for f in bad[:3]]


def test_valid_seeds_are_accepted() -> None:
    """The seed corpus really is valid input, so mutations start deep in each parser."""
    ctx = T.context()
    from sneakersync.wire import body as body_mod
    from sneakersync.wire import identity
    from sneakersync.sync.engine import ImportReport, import_packet

    for c in ctx.seeds["card"][:3]:
        identity.decode_card(c.decode())
    for b in ctx.seeds["body"]:
        body_mod.decode(b)
    # a fresh receiver takes the valid packets addressed to it
    for data in ctx.seeds["import_packet"][:2]:
        rep = ImportReport()
        status = import_packet(ctx.bob, ctx.bob_store, data, rep)
        assert status in ("imported", "duplicate"), rep.as_json()


def _inputs(name: str) -> st.SearchStrategy[bytes]:
    seeds = T.seeds(name)

    def mutated(seed: int) -> bytes:
        return Mutator(seeds, random.Random(seed)).next()

    return st.one_of(st.binary(max_size=400), st.builds(mutated, st.integers(0, 2**32)),
                     st.builds(mutated, st.integers(0, 2**32)))


@pytest.mark.parametrize("name", NAMES)
def test_fuzz_short(name: str) -> None:
    T.context()

    @settings(max_examples=EXAMPLES.get(name, DEFAULT_EXAMPLES), derandomize=True, deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(_inputs(name))
    def run(data: bytes) -> None:
        f = T.run_one(name, data)
        if f is not None:
            T.save_regression(f)
        assert f is None, f"{f.kind}: {f.detail}"

    run()


def test_import_store_stays_intact_after_fuzzing() -> None:
    assert T.integrity() == "ok"
