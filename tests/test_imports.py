"""The package's import structure: no cycles, no import up the layers, no submodule shadowed by
a function, and every module importable on its own in a fresh interpreter.

The graph is read from the source with ``ast`` (every import statement, also those inside
functions; not those under ``if TYPE_CHECKING:``), so a lazy import that goes up a layer or
closes a cycle fails here as well as an eager one.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "simengine"

# The layers, lowest first. A module may import its own layer and the layers below it, never a
# layer above. Prefixes match a module and everything under it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("simengine._version", "simengine.errors", "simengine.codes", "simengine.stats",
              "simengine.fmt", "simengine._lazy", "simengine.files")),
    ("scenario", ("simengine.scenario",)),
    ("compile", ("simengine.compile",)),
    ("kernels", ("simengine.kernels",)),
    ("engine", ("simengine.engine",)),
    ("dataset", ("simengine.dataset", "simengine.api")),
    ("analysis", ("simengine.analysis", "simengine.calibrate")),
    ("output", ("simengine.plot", "simengine.report", "simengine.explore", "simengine.export")),
    # the public facade (``import simengine as se``) re-exports every layer: only the CLI uses it
    ("cli", ("simengine.cli", "simengine.cli_common", "simengine.cli_report",
             "simengine.cli_calibrate", "simengine.cli_analysis", "simengine.cli_explore",
             "simengine")),
]

# Known exceptions, each with the work that removes it.
KNOWN_CYCLES: set[frozenset[str]] = set()
KNOWN_CYCLE_PACKAGES: tuple[str, ...] = ()
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_SHADOWED = {
    # the package is callable as the function se.calibrate (see calibrate/__init__)
    "simengine.calibrate",
}


def _modules() -> dict[str, Path]:
    mods = {}
    for p in sorted(PKG.rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = p
    return mods


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(name: str) -> set[str]:
    """The simengine modules ``name`` imports, at any depth of its code.

    ``from pkg import x`` depends on ``pkg``'s ``__init__`` as well as on ``pkg.x``; importing
    ``a.b.c`` from outside ``a.b`` runs ``a.b``'s ``__init__`` first; a string constant that
    names a module (``importlib.import_module("simengine.x")``, a table of lazy attributes) is
    an import too. The root package counts only where it is imported for its own names
    (``import simengine as se``): its ``__init__`` runs no layer's code.
    """
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    here = name.split(".") if _is_package(name) else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(here[:len(here) - child.level + 1] + ([base] if base else []))
                for a in child.names:
                    sub = f"{base}.{a.name}"
                    if sub in MODULES:
                        found.add(sub)
                        if base != "simengine":
                            found.add(base)
                    else:
                        found.add(base)
            elif isinstance(child, ast.Constant) and child.value in MODULES \
                    and child.value != "simengine":
                found.add(child.value)
            visit(child)

    visit(tree)
    targets = set()
    for t in found:
        if t.split(".")[0] != "simengine" or t == name:
            continue
        targets.add(t)
        parts = t.split(".")
        for k in range(2, len(parts)):
            parent = ".".join(parts[:k])
            if not (name == parent or name.startswith(parent + ".")):
                targets.add(parent)
    return targets


GRAPH = {m: _imports(m) for m in MODULES}


def _layer(name: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    if rank is None:
        raise AssertionError(f"{name}: in no layer of LAYERS (add it there)")
    return rank


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[set[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_checks_find_what_they_look_for():
    """A cycle and an upward import planted in a made-up graph are found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _layer("simengine.kernels.funnel") > _layer("simengine.compile.build")
    assert _layer("simengine.cli_report") > _layer("simengine.report.sections")
    assert _layer("simengine.api") < _layer("simengine.analysis.compare")


def test_every_module_is_in_a_layer():
    for m in MODULES:
        _layer(m)


def _inside_known(cycle: set[str]) -> bool:
    return any(all(m == p or m.startswith(p + ".") for m in cycle) for p in KNOWN_CYCLE_PACKAGES)


def test_no_import_cycles():
    cycles = [c for c in _cycles(GRAPH)
              if frozenset(c) not in KNOWN_CYCLES and not _inside_known(c)]
    assert cycles == [], f"import cycles: {cycles}"


def test_no_import_goes_up_the_layers():
    up = sorted((m, t) for m, ts in GRAPH.items() for t in ts
                if _layer(t) > _layer(m) and (m, t) not in KNOWN_UPWARD)
    assert up == [], "imports up the layers (" + " -> ".join(n for n, _ in LAYERS) + "): " + \
        ", ".join(f"{m} imports {t}" for m, t in up)


def test_known_exceptions_are_still_needed():
    """An exception that no longer occurs is removed from the lists above."""
    cycles = {frozenset(c) for c in _cycles(GRAPH)}
    assert KNOWN_CYCLES <= cycles, KNOWN_CYCLES - cycles


@pytest.mark.parametrize("package", sorted(m for m in MODULES if _is_package(m)))
def test_no_submodule_is_shadowed(package):
    """``pkg.sub`` is the module simengine/pkg/sub.py, not a function of the same name."""
    pkg = importlib.import_module(package)
    for sub in sorted(m for m in MODULES if m.rpartition(".")[0] == package):
        if sub in KNOWN_SHADOWED:
            continue
        importlib.import_module(sub)
        attr = getattr(pkg, sub.rpartition(".")[2])
        assert attr is sys.modules[sub], f"{sub} resolves to {attr!r}"


def test_nested_modules_resolve_by_attribute():
    code = "import simengine.report.sections as s, simengine; " \
           "assert simengine.report.sections is s; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.stdout.strip() == "ok", done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_alone(module):
    """In a fresh interpreter, so that a module working only after another was imported fails."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_public_names_are_the_lazy_ones():
    import simengine

    lazy = set(simengine._HOME) | set(simengine._NAMESPACES)
    eager = {"__version__", "RunSizeError", "ScenarioError", "SimEngineError"}
    assert set(simengine.__all__) == lazy | eager
    for name in simengine.__all__:
        assert getattr(simengine, name) is not None
