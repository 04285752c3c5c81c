"""The floors of spmopt.territory (read from the source with ``ast``, nothing is imported): every module has a
floor, imports between the modules go down (or sideways within a floor, without a cycle), they sit at the top of
the file, and no module takes a private (underscore) name from another."""

import ast
from pathlib import Path

import pytest

PACKAGE = "spmopt.territory"
ROOT = Path(__file__).resolve().parents[1] / "spmopt" / "territory"

FLOORS = {
    # 0: the problem, the adjacency graph utilities and the independent checker
    "contiguity": 0, "split": 0, "problem": 0, "evaluate": 0,
    # 1: an assignment's bookkeeping (State), the unit graph (Graph) and the moves and connectivity checks
    "state": 1,
    # 2: searches and models of one problem: transfer chains, spanning-tree splits, the penalty search, the MIP,
    # the Lagrangian pricing, the p-median bound and branch-and-bound
    "balance": 2, "treepart": 2, "search": 2, "mip": 2, "pricing": 2, "pmedian": 2,
    # 3: what chains them: the heuristic, the regions, the what-if screen (the last two are handed
    # solve.solve_problem by their caller)
    "heuristics": 3, "decompose": 3, "whatif": 3,
    # 4: orchestration
    "solve": 4,
    # 5: built on solve
    "pareto": 5,
    # the package's public names
    "__init__": 6,
}


def _modules() -> dict[str, ast.Module]:
    return {f.stem: ast.parse(f.read_text(encoding="utf-8"), filename=str(f)) for f in sorted(ROOT.glob("*.py"))}


def _imports(name: str, tree: ast.Module):
    """(line, territory module imported, names taken from it, at the top of the file?) for every import of a
    territory module in ``tree``, wherever it is (functions, classes, ``if`` blocks)."""
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        at_top = id(node) in top
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE + "."):
                    yield node.lineno, a.name.split(".")[2], [], at_top
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x / from .x import y
                base = f"{PACKAGE}.{node.module}" if node.module else PACKAGE
            else:
                base = node.module or ""
            if base == PACKAGE:  # from spmopt.territory import x: a module, or a name of the package itself
                for a in node.names:
                    if a.name in FLOORS and a.name != "__init__":
                        yield node.lineno, a.name, [], at_top
                    else:
                        yield node.lineno, "__init__", [a.name], at_top
            elif base.startswith(PACKAGE + "."):
                yield node.lineno, base.split(".")[2], [a.name for a in node.names], at_top


def _module_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name → territory module, for ``import spmopt.territory.x as y`` and ``from spmopt.territory import
    x``."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(PACKAGE + ".") and a.asname:
                    out[a.asname] = a.name.split(".")[2]
        elif isinstance(node, ast.ImportFrom) and node.module == PACKAGE and not node.level:
            for a in node.names:
                if a.name in FLOORS:
                    out[a.asname or a.name] = a.name
    return out


def test_every_module_has_a_floor():
    missing = sorted(set(_modules()) - set(FLOORS))
    assert not missing, f"add {missing} to FLOORS in {Path(__file__).name}"
    gone = sorted(set(FLOORS) - set(_modules()))
    assert not gone, f"{gone} in FLOORS but not in {ROOT}"


def test_no_private_name_is_taken_from_another_module():
    bad = []
    for name, tree in _modules().items():
        for line, dep, names, _ in _imports(name, tree):
            bad += [f"{name}.py:{line} imports {dep}.{n}" for n in names if n.startswith("_") and dep != name]
        aliases = _module_aliases(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                    node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__"):
                bad.append(f"{name}.py:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not bad, "private names taken across modules:\n" + "\n".join(bad)


def test_imports_go_down_the_floors_without_a_cycle():
    mods = _modules()
    up, graph = [], {name: set() for name in mods}
    for name, tree in mods.items():
        for line, dep, _, _ in _imports(name, tree):
            if dep == name or name not in FLOORS or dep not in FLOORS:
                continue
            graph[name].add(dep)
            if FLOORS[dep] > FLOORS[name]:
                up.append(f"{name}.py:{line} (floor {FLOORS[name]}) imports {dep} (floor {FLOORS[dep]})")
    assert not up, "imports going up a floor:\n" + "\n".join(up)
    # within a floor imports may go sideways, but never round in a circle
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                pytest.fail("import cycle: " + " → ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d, [*path, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_imports_between_modules_sit_at_the_top_of_the_file():
    """With the floors in place no import between the modules needs to hide inside a function."""
    lazy = [f"{name}.py:{line} imports {dep}" for name, tree in _modules().items()
            for line, dep, _, at_top in _imports(name, tree) if not at_top]
    assert not lazy, "imports inside functions (move them to the top):\n" + "\n".join(lazy)
