"""Reading the project's own source for its layering rules (tests/adapters/).

Everything is read with ``ast``, never imported: a rule about what a module touches must
not depend on the module loading.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ROOT",
    "WING",
    "Finding",
    "circles",
    "import_graph",
    "imports_of",
    "module_name",
    "sources",
    "trespasses",
]

ROOT = Path(__file__).resolve().parents[2]
WING = "shared.adapters"
_OWN = ("self", "cls")


@dataclass(frozen=True)
class Finding:
    """One place in a module: what it does there."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def sources(*folders: str) -> Iterator[Path]:
    """Every Python file under ``folders`` (relative to the repository root)."""
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(line, module, names) of every import; ``import a.b`` gives names ()."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module, tuple(alias.name for alias in node.names)


def import_graph(folder: str) -> dict[str, set[str]]:
    """Each module under ``folder`` with the modules of that folder it imports, anywhere in
    it (a function's import too: it closes a circle all the same when it runs)."""
    paths = {module_name(path): path for path in sources(folder)}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found: set[str] = set()
        for _, module, names in imports_of(path):
            found |= {target for target in (module, *(f"{module}.{n}" for n in names))}
        graph[name] = (found & paths.keys()) - {name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = stack[stack.index(node) :]
            del stack[stack.index(node) :]
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def trespasses(path: Path) -> Iterator[Finding]:
    """Where a module reaches into another object's or library's insides.

    A private attribute read on anything but ``self``/``cls``, a private name imported,
    an attribute set on an imported module, and ``sys.modules`` touched at all.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    relative = path.relative_to(ROOT).as_posix()
    modules = _imported_modules(tree)
    for node in ast.walk(tree):
        found = _trespass(node, modules)
        if found is not None:
            yield Finding(relative, getattr(node, "lineno", 0), found)


def _imported_modules(tree: ast.Module) -> set[str]:
    """Names bound to modules by ``import x`` / ``import x as y``."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return bound


def _trespass(node: ast.AST, modules: set[str]) -> str | None:
    if isinstance(node, ast.Attribute) and _private(node.attr) and not _own(node.value):
        return f"reads private member {node.attr!r}"
    if isinstance(node, ast.ImportFrom) and not node.level:
        private = [alias.name for alias in node.names if _private(alias.name)]
        if private:
            return f"imports private {', '.join(private)} from {node.module}"
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Attribute) and _names_module(target.value, modules):
                return f"sets {ast.unparse(target)} on an imported module"
    if isinstance(node, ast.Attribute) and ast.unparse(node) == "sys.modules":
        return "touches sys.modules"
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own(value: ast.expr) -> bool:
    return isinstance(value, ast.Name) and value.id in _OWN


def _names_module(value: ast.expr, modules: set[str]) -> bool:
    while isinstance(value, ast.Attribute):
        value = value.value
    return isinstance(value, ast.Name) and value.id in modules
