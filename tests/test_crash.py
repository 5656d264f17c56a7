"""Crash consistency: kill -9 of ``import``, ``export`` (and, where the server
module exists, ``server ingest`` and ``prune``) at durability points.

Each trial runs the CLI in a child under ``tests/crash/run_with_crash.py``, which
SIGKILLs it just before or just after the k-th fsync / rename / COMMIT; a few
more trials kill after a random delay.  Afterwards every store passes
``PRAGMA integrity_check``, the exporter never records as sent what is not on
the stick, and a re-run reaches exactly the clean result.  The long version is
``benchmarks/crash_campaign.py`` (>= 1,000 trials).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "crash"))

import scenario as S  # noqa: E402


@pytest.fixture(scope="module")
def ref(tmp_path_factory: pytest.TempPathFactory) -> S.Reference:
    root = tmp_path_factory.mktemp("crash")
    S.make_template(root / "template", records=200, packets=2)
    return S.Reference(root / "template", root)


def test_clean_runs_have_durability_points(ref: S.Reference) -> None:
    assert ref.points["import"][0] >= 2  # one COMMIT per packet at least
    assert {"fsync", "replace", "commit"} <= set(ref.points["export"][1])


def _plan(op: str, n: int) -> list[tuple[int, str]]:
    if op in ("import", "export"):  # every point, both sides of it
        return [(k, ph) for k in range(1, n + 1) for ph in ("before", "after")]
    # longer runs: four points spread over the run, alternating sides (the campaign
    # walks all of them)
    ks = sorted({1 + round(i * (n - 1) / 3) for i in range(4)})
    return [(k, ("before", "after")[i % 2]) for i, k in enumerate(ks)]


@pytest.mark.parametrize("op", S.OPS)
def test_kill_at_durability_points(ref: S.Reference, op: str, tmp_path: Path) -> None:
    n = ref.points[op][0]
    rows = [S.trial(ref, op, tmp_path / f"k{k}{ph}", kill_at=k, phase=ph)
            for k, ph in _plan(op, n)]
    assert all(r["killed"] for r in rows), rows
    bad = [r for r in rows if not r["ok"]]
    assert not bad, bad


def test_kill_at_random_moments(ref: S.Reference, tmp_path: Path) -> None:
    rng = random.Random(7)
    rows = []
    for i in range(2):
        op = S.OPS[i % len(S.OPS)]
        wall = ref.points[op][2]
        rows.append(S.trial(ref, op, tmp_path / f"r{i}", delay=rng.uniform(0.05, wall)))
    bad = [r for r in rows if not r["ok"]]
    assert not bad, bad
