"""The import graph holds the layers of docs/architecture.md: no circles, nothing imported upward.

Every import counts: at module level, inside functions, under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The layers of transport/, each a folder (docs/architecture.md draws them): what each may import from
# transport/ besides itself. The core is what is under transport/core/, not a list kept by hand.
LAYERS = {
    "transport.core": set(),
    "transport.clients": {"transport.core"},
    "transport.browser": {"transport.core", "transport.clients"},
    "transport.apps": {"transport.core", "transport.clients", "transport.browser"},
    "transport.loadtest": {"transport.core", "transport.clients", "transport.apps"},
    "transport.server": {"transport.core"},
}


def layer(module: str) -> str | None:
    return next((name for name in LAYERS if module == name or module.startswith(name + ".")), None)


def modules() -> dict[str, Path]:
    found = {"main": ROOT / "main.py"}
    for top in ("transport", "ui"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:  # an attribute of a module: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    assert cycles(graph()) == []


def test_every_module_of_transport_is_in_a_layer():
    loose = [m for m in modules() if m.startswith("transport.") and layer(m) is None]
    assert loose == [], "a module of transport/ outside the layer folders"


def test_each_layer_imports_only_the_layers_it_builds_on():
    """The core imports nothing above it; the clients only the core; the lab only the core (never a client,
    the browser or an application); the browser the clients; the applications the browser too (the probe and
    Compare run a page); the load test builds on the clients and the applications."""
    g = graph()
    bad = []
    for m, targets in g.items():
        own = layer(m)
        if own is None:
            continue
        for t in targets:
            other = layer(t)
            if other is not None and other != own and other not in LAYERS[own]:
                bad.append(f"{m} -> {t}")
    assert bad == []


def test_the_client_side_and_the_ui_never_import_the_lab():
    g = graph()
    bad = [f"{m} -> {t}" for m, targets in g.items() if not m.startswith("transport.server") and m != "main"
           for t in targets if t.startswith("transport.server")]
    assert bad == []


def test_nothing_below_the_ui_imports_it():
    g = graph()
    bad = [f"{m} -> {t}" for m, targets in g.items() if m.startswith("transport")
           for t in targets if t == "ui" or t.startswith("ui.") or t == "main"]
    assert bad == []


def test_ui_widgets_never_import_controllers_of_other_tabs_upward():
    """ui.widgets lays out and binds: it imports no controller (controllers import widgets' models, not
    the reverse), and no tab module."""
    g = graph()
    bad = [f"{m} -> {t}" for m, targets in g.items() if m.startswith("ui.widgets")
           for t in targets if t.startswith(("ui.controllers", "ui.tabs", "ui.window"))]
    assert bad == []


def test_tabs_and_widgets_leave_the_applications_to_controllers():
    """A tab or a widget lays out and binds: the client-side applications (probe, compare, scenario, the
    lab's admin API, the browser agreement) are run by controllers (ui/controllers/), never from a widget."""
    g = graph()
    apps = ("transport.apps", "transport.clients.lab_admin", "transport.browser.agreement", "transport.browser.probe")
    bad = [f"{m} -> {t}" for m, targets in g.items() if m.startswith(("ui.tabs", "ui.widgets"))
           for t in targets if t.startswith(apps)]
    assert bad == []


def test_every_module_is_named_in_docs_architecture():
    """docs/architecture.md stays the map: each module of transport/ and ui/ under its folder's heading."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    index = text[text.index("## Every module"):]
    sections = {}
    for part in index.split("**`")[1:]:
        folder, _, body = part.partition("/`**")
        sections[folder] = body
    missing = [str(path.relative_to(ROOT)) for top in ("transport", "ui") for path in sorted((ROOT / top).rglob("*.py"))
               if path.name != "__init__.py"
               and f"`{path.name}`" not in sections.get(str(path.parent.relative_to(ROOT)), "")]
    assert missing == [], "name them in docs/architecture.md (## Every module)"
