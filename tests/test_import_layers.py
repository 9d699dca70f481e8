"""The package's imports, read from the source (ast): no cycle between modules, and the pages
only render (no CLI, no ORM session, no SQL).

Every import counts, including those inside a function: an import put off until a call
still makes the two modules depend on each other (and hides the cycle from the reader).
Known violations, each in a module another piece of work is changing, are listed below
with "to remove": the tests fail on any new one, and on a listed one that is gone (so that
the list only shrinks).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "observatoire"

# Cycles left, as sets of modules (to remove).
KNOWN_CYCLES: list[frozenset[str]] = []
# (page module, imported name) pairs allowed in dashboards/: none; pages call services
# that take an `Engine` (`countnight`, `accounts`, `evaluation.figures`,
# `evaluation.convention_service`).
KNOWN_PAGE_IMPORTS: set[tuple[str, str]] = set()
# Store modules that import `observatoire.indicators` (to remove): the store speaks SQL
# only; computing the aggregates from the indicators belongs above it.
KNOWN_STORE_TO_INDICATORS = {"observatoire.store.feed_aggregates",
                             "observatoire.store.indicators_repository",
                             # to remove: reads the catalogue to type hand-entered figures
                             "observatoire.store.evaluation_repository"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that the file at ``path`` imports, anywhere in it."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from a import b`` imports the module ``a.b`` when there is one.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            # The module itself, or the innermost package of the package that holds it.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph(folder: str) -> dict[str, set[str]]:
    files = sorted((ROOT / folder).rglob("*.py"))
    modules = {_module_name(p) for p in files}
    return {_module_name(p): _imports(p, modules) for p in files}


def _cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walker_sees_a_cycle_and_a_package_import(tmp_path, monkeypatch):
    """The walker itself, on a package made for it: a cycle through a relative import and a
    function-level import, and ``from package import module`` read as the module."""
    package = tmp_path / "paquet"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from paquet import b\n")
    (package / "b.py").write_text("def f():\n    from .c import x\n    return x\n")
    (package / "c.py").write_text("import paquet.a\nx = 1\n")
    (package / "d.py").write_text("from paquet.a import f\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    graph = _graph("paquet")
    assert graph["paquet.a"] == {"paquet.b"}
    assert graph["paquet.b"] == {"paquet.c"}
    assert graph["paquet.d"] == {"paquet.a"}
    assert _cycles(graph) == [frozenset({"paquet.a", "paquet.b", "paquet.c"})]


def test_no_import_cycle_between_modules_of_the_package():
    cycles = _cycles(_graph(PACKAGE))
    new = [sorted(c) for c in cycles if c not in KNOWN_CYCLES]
    assert not new, f"Cycle(s) d'imports : {new}"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in cycles]
    assert not gone, f"Cycle(s) disparu(s) : retirez-les de KNOWN_CYCLES : {gone}"


_FORBIDDEN_IN_PAGES = ("observatoire.cli", "sqlalchemy.orm.Session", "sqlalchemy.select")


def _page_imports(path: Path) -> set[str]:
    """What a page imports, as dotted names (``sqlalchemy.orm.Session``, ``observatoire.
    cli_publish.load_inputs``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") or (
        f == "observatoire.cli" and name.startswith("observatoire.cli_")) for f in
        _FORBIDDEN_IN_PAGES)


@pytest.mark.parametrize("name, forbidden", [
    ("observatoire.cli_publish.load_inputs", True),
    ("observatoire.cli", True),
    ("observatoire.cli.main", True),
    ("sqlalchemy.orm.Session", True),
    ("sqlalchemy.select", True),
    ("observatoire.client", False),
    ("observatoire.publish.load_publication", False),
    ("sqlalchemy.orm.sessionmaker", False),
], ids=lambda v: str(v))
def test_what_a_page_may_not_import(name, forbidden):
    assert _forbidden(name) is forbidden


def test_pages_import_neither_the_cli_nor_sessions_nor_select():
    found = set()
    for path in sorted((ROOT / "dashboards").rglob("*.py")):
        found |= {(_module_name(path), n) for n in _page_imports(path) if _forbidden(n)}
    new = sorted(found - KNOWN_PAGE_IMPORTS)
    assert not new, f"Page(s) important la CLI, Session ou select : {new}"
    gone = sorted(KNOWN_PAGE_IMPORTS - found)
    assert not gone, f"Retirez de KNOWN_PAGE_IMPORTS ce qui a disparu : {gone}"


def test_the_store_does_not_import_the_indicators():
    graph = _graph(PACKAGE)
    found = {m for m, targets in graph.items() if m.startswith(f"{PACKAGE}.store")
             and any(t.startswith(f"{PACKAGE}.indicators") for t in targets)}
    assert not found - KNOWN_STORE_TO_INDICATORS, sorted(found - KNOWN_STORE_TO_INDICATORS)
    gone = KNOWN_STORE_TO_INDICATORS - found
    assert not gone, f"Retirez de KNOWN_STORE_TO_INDICATORS : {sorted(gone)}"


def test_pseudonymisation_and_linkage_do_not_import_each_other():
    """Both import the one name module (`observatoire.names`), and `pseudonymise` never
    imports the linkage (the linkage uses the encodings of `pseudonymise`, not the other
    way round)."""
    graph = _graph(PACKAGE)
    assert not {t for t in graph[f"{PACKAGE}.pseudonymise"]
                if t.startswith(f"{PACKAGE}.linkage")}
    assert f"{PACKAGE}.names" in graph[f"{PACKAGE}.pseudonymise"]
    assert f"{PACKAGE}.names" in graph[f"{PACKAGE}.linkage.prepare"]


def test_the_help_of_the_command_line_imports_neither_pandas_nor_the_orm():
    """`observatoire --help` builds every parser; the commands import the stack when run."""
    import subprocess
    import sys

    code = ("import sys\nfrom observatoire.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('pandas', 'sqlalchemy.orm', 'geopandas') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.strip().splitlines()[-1] == "[]"
