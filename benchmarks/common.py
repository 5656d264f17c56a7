"""Shared helpers for the benchmarks: timing, result files, sample rows."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).resolve().parent / "results"


def best_of(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Minimum wall time over ``repeat`` runs (the least noisy estimate) and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def median_of(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or
                        platform.machine(), "cores": os.cpu_count(),
                        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "load_average": round(os.getloadavg()[0], 1)}, **data}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


def table(rows: list[tuple[str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
