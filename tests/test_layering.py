"""The sans-I/O core imports no I/O libraries and opens no files; --help stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PKG = REPO / "sneakersync"
FORBIDDEN = {"cv2", "qrcode", "pyzbar", "zxingcpp", "bumble", "click", "socket", "asyncio",
             "sqlite3", "sqlite_utils", "httpx", "starlette", "uvicorn", "subprocess", "shutil",
             "tempfile", "pathlib", "raptorq", "PIL", "numpy", "imageio"}
# which layers each layer may import (besides itself and sneakersync.errors)
ALLOWED = {
    "wire": set(),
    "store": {"wire"},
    "sync": {"wire", "store"},
    "media": {"wire", "store", "sync"},
    "server": {"wire", "store", "sync", "media"},
    "demo": {"wire", "store", "sync", "media", "server"},
    "ui": {"wire", "store", "sync", "media", "server"},
    "cli": {"wire", "store", "sync", "media", "server", "demo", "ui"},
}
LAYERS = set(ALLOWED)


def _core_files() -> list[Path]:
    return sorted((PKG / "wire").glob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_imports(path: Path) -> set[str]:
    """Every sneakersync module a file imports (also inside functions), as dotted names."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (use absolute imports)"
            if node.module and node.module.split(".")[0] == "sneakersync":
                out.update(f"{node.module}.{a.name}" for a in node.names)
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "sneakersync")
    return out


def _layer(dotted: str) -> str | None:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_lives_in_a_layer() -> None:
    loose = sorted(p.name for p in PKG.glob("*.py")
                   if p.name not in ("__init__.py", "__main__.py", "errors.py"))
    assert not loose, f"modules outside the layer folders: {loose}"
    for layer in LAYERS:
        doc = ast.get_docstring(ast.parse((PKG / layer / "__init__.py").read_text()))
        assert doc and "import" in doc, f"{layer}/__init__.py must say what it may import"


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layers_import_only_downward(layer: str) -> None:
    bad = []
    for path in sorted((PKG / layer).rglob("*.py")):
        for dotted in _package_imports(path):
            target = _layer(dotted)
            if target is not None and target != layer and target not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(REPO)} imports {dotted}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles_between_modules() -> None:
    modules = {_module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {d for d in _package_imports(path) if d in modules and d != name}
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack + [node, nxt]))
            if nxt not in state:
                visit(nxt, stack + [node])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])


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
    code = ("import sys\nfrom sneakersync.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('cv2', 'bumble', 'zxingcpp', 'raptorq', 'starlette', 'uvicorn',"
            " 'httpx', 'numpy', 'PIL', 'sqlite_utils', 'jinja2') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    assert "HEAVY []" in out, out
    assert "Usage:" in out and "export" in out and "import" in out


def test_reading_the_store_imports_no_heavy_libraries(tmp_path: Path) -> None:
    """`collections` must start fast: no sqlite-utils (which pulls numpy in) nor any extra."""
    code = ("import sys\nfrom sneakersync.store import home\n"
            f"h = home.create({str(tmp_path / 'h')!r}, 'x')\n"
            "s = h.open_store(); s.collections(); s.close()\n"
            "heavy = [m for m in ('sqlite_utils', 'numpy', 'cv2', 'starlette', 'httpx', 'PIL')"
            " if m in sys.modules]\nprint('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         check=True).stdout
    assert "HEAVY []" in out, out
