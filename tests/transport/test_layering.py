"""transport/ is Qt-free: no module under it imports PySide6, qasync or ui."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("PySide6", "qasync", "ui", "shiboken6")
LOCUST_ONLY = {"transport.loadtest.locustfile", "transport.loadtest.loop_thread"}


def test_only_the_storms_own_modules_import_locust_or_gevent():
    """Importing Locust patches the process with gevent: the GUI, the CLI and the tests never may."""
    users = set()
    for path in (ROOT / "transport").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            if any(n.split(".")[0] in ("locust", "gevent") for n in names):
                users.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    assert users == LOCUST_ONLY
    for path in [*(ROOT / "ui").rglob("*.py"), ROOT / "main.py"]:
        text = path.read_text()
        assert "import locust" not in text and "from locust" not in text and "loadtest.locustfile" not in text, path


def test_no_module_under_transport_imports_qt_or_ui():
    offenders = []
    for path in (ROOT / "transport").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_whole_transport_package_loads_no_qt():
    # the storm's locustfile and its loop thread import Locust and gevent (which patches the process):
    # only Locust's own processes load them
    code = ("import importlib, pkgutil, sys, transport\n"
            f"skip = {sorted(LOCUST_ONLY)!r}\n"
            "for m in pkgutil.walk_packages(transport.__path__, 'transport.'):\n"
            "    if m.name not in skip:\n"
            "        importlib.import_module(m.name)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'ui', 'shiboken6', 'locust', "
            "'gevent')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
