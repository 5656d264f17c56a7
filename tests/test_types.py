"""mypy --strict over the sans-I/O core (skipped where mypy is not installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

CORE = ["errors.py", "wire", "store/resolve.py"]


def test_core_is_mypy_strict_clean(tmp_path) -> None:
    pytest.importorskip("mypy")
    files = [str(REPO / "sneakersync" / m) for m in CORE]
    p = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports",
                        "--cache-dir", str(tmp_path / "cache"), *files],
                       capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stdout + p.stderr
