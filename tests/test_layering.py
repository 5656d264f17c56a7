"""The sans-I/O core imports no I/O libraries and opens no files; --help stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PKG = REPO / "sneakersync"
CORE = ["errors", "crypto", "identity", "vclock", "canonical", "resolve", "merkle", "envelope",
        "body", "packet", "age", "armor"]
OPTIONAL_CORE = ["qr/frame", "beacon/payload", "receipts_codec"]
FORBIDDEN = {"cv2", "qrcode", "pyzbar", "zxingcpp", "bumble", "click", "socket", "asyncio",
             "sqlite3", "sqlite_utils", "httpx", "starlette", "uvicorn", "subprocess", "shutil",
             "tempfile", "pathlib", "raptorq", "PIL", "numpy", "imageio"}


def _core_files() -> list[Path]:
    files = [PKG / f"{m}.py" for m in CORE]
    files += [PKG / f"{m}.py" for m in OPTIONAL_CORE if (PKG / f"{m}.py").exists()]
    return files


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.stem)
def test_core_module_is_sans_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module.split(".")[0]]
        else:
            names = []
        bad = FORBIDDEN.intersection(names)
        assert not bad, f"{path.name} imports {bad}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "open", f"{path.name} opens a file"


def test_help_imports_no_heavy_extras() -> None:
    code = ("import sys\nfrom sneakersync.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('cv2', 'bumble', 'zxingcpp', 'raptorq', 'starlette', 'uvicorn',"
            " 'httpx', 'numpy', 'PIL', 'sqlite_utils') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    assert "HEAVY []" in out, out
    assert "Usage:" in out and "export" in out and "import" in out
