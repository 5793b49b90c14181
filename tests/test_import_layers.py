"""The import graph of ``ran_edge/`` has no cycles and no upward edges (``docs/architecture.md`` §6).

The graph is built from the source with :mod:`ast` (nothing of ``ran_edge`` is imported, so the test is
fast and needs no extra): every ``import`` and ``from ... import`` counts, at module level and inside
functions; only imports guarded by ``if TYPE_CHECKING:`` are left out (they never run). ``from pkg import
name`` is an edge to ``pkg`` (its ``__init__`` runs first) and, when ``pkg.name`` is a module, to it too.

``LAYERS`` below is the one declaration of the layer order, lowest first. A module belongs to the layer
of the longest prefix that names it. A module may import its own layer or a lower one, never a higher
one, and no two modules may import each other, directly or around a loop.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ran_edge"

# The layer order, lowest first. Each layer lists module prefixes (a package covers its submodules).
LAYERS: list[tuple[str, ...]] = [
    # base: torch-free helpers that any layer may use
    ("ran_edge.errors", "ran_edge.jsonio"),
    ("ran_edge._lazy", "ran_edge.outputs", "ran_edge.option_checks", "ran_edge.bounds", "ran_edge.crop", "ran_edge.metrics", "ran_edge.cuda"),
    ("ran_edge.presets",),
    ("ran_edge.preprocess",),
    ("ran_edge.artifact",),
    ("ran_edge.artifact_check",),
    # the build cache (keys, lock, verified entries), torch-free
    ("ran_edge.cache",),
    # the fused region-batch kernel, and the one sidecar -> model input function built on it
    ("ran_edge.kernels",),
    ("ran_edge.model_input", "ran_edge.face_boxes"),
    # datasets, model feeds, suites
    ("ran_edge.data",),
    ("ran_edge.model",),
    # the engine contract (pure: versions, options, build plans, sidecar checks), which the runtime checks against
    ("ran_edge.engine_contract",),
    # what runs an artifact (every ONNX Runtime session of export, quantize and bench goes through it)
    ("ran_edge.runtime",),
    # the pipeline: export -> quantize -> engine build
    ("ran_edge.export",),
    ("ran_edge.quantize",),
    ("ran_edge.engine",),
    # on-demand preparation for runtime.load (backend choice, cached derived artifacts), reached through one seam
    ("ran_edge.autoload",),
    # applications of the library
    ("ran_edge.describe",),
    ("ran_edge.train",),
    ("ran_edge.bench",),
    ("ran_edge.video",),
    ("ran_edge.serve",),
    ("ran_edge.demo_run", "ran_edge.demo_summary"),
    ("ran_edge.conformance",),
    # the command line
    ("ran_edge.cli", "ran_edge.__main__"),
]


# The seams: upward imports that are allowed, each from one module to one module, inside a function only.
# ``ran_edge.runtime.load`` of a checkpoint (or for another backend or precision) needs export, quantize and the
# engine build, which sit above the runtime; it reaches them through this one late import (docs/architecture.md §6).
SEAMS: frozenset[tuple[str, str]] = frozenset({("ran_edge.runtime.seam", "ran_edge.autoload")})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.lru_cache(maxsize=1)
def _modules() -> dict[str, Path]:
    """``{dotted module name: source file}`` of every module of ``ran_edge/``."""
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree``, skipping the bodies of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module named by a (possibly relative) ``from ... import``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, list[tuple[str, int]]]:
    """``{module: [(imported ran_edge module, line), ...]}`` for every module of ``ran_edge/``."""
    modules = _modules()
    graph: dict[str, list[tuple[str, int]]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: list[tuple[str, int]] = []
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                src = _resolve(name, path.name == "__init__.py", node)
                # `from pkg import sub`: pkg's __init__ runs first, then the submodule
                targets = [src] + [f"{src}.{a.name}" for a in node.names if f"{src}.{a.name}" in modules]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` where c is a name
                    target = target.rpartition(".")[0]
                if target and target != name and target.startswith("ran_edge"):
                    edges.append((target, node.lineno))
        graph[name] = edges
    return graph


def layer_of(module: str) -> int:
    """Index in :data:`LAYERS` of the longest prefix naming ``module``; -1 for the bare package."""
    best, best_len = -1, -1
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    return best


def _where(module: str, line: int) -> str:
    return f"{_modules()[module].relative_to(ROOT)}:{line}"


def _cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w, _ in graph.get(v, []):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_graph_sees_module_and_function_level_imports():
    graph = import_graph()
    targets = {m: {b for b, _ in edges} for m, edges in graph.items()}
    assert "ran_edge.cuda" in targets["ran_edge.runtime.trt_runner"]  # module level
    assert "ran_edge.cuda" in targets["ran_edge.engine.build"]  # inside a function
    assert "ran_edge.kernels" in targets["ran_edge.model_input"]  # `from pkg import name`


def test_every_module_has_a_layer():
    missing = [m for m in _modules() if m != "ran_edge" and layer_of(m) < 0]
    assert not missing, f"modules outside LAYERS (add them to a layer): {missing}"


def layered_graph() -> dict[str, list[tuple[str, int]]]:
    """:func:`import_graph` without the declared :data:`SEAMS`."""
    return {a: [(b, line) for b, line in edges if (a, b) not in SEAMS] for a, edges in import_graph().items()}


def package_of(module: str) -> str:
    """``ran_edge.engine.job`` -> ``ran_edge.engine``; a top-level module is its own package."""
    return ".".join(module.split(".")[:2])


def test_no_import_cycles():
    graph = layered_graph()
    problems = []
    for comp in _cycles(graph):
        members = set(comp)
        edges = [f"    {_where(a, line)}: {a} -> {b}" for a in comp for b, line in graph[a] if b in members]
        problems.append(f"cycle between {', '.join(comp)}:\n" + "\n".join(edges))
    assert not problems, "import cycles in ran_edge/:\n" + "\n".join(problems)


def test_no_import_from_a_higher_layer():
    graph = layered_graph()
    bad = [f"  {_where(a, line)}: {a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
           for a, edges in sorted(graph.items()) for b, line in edges if layer_of(b) > layer_of(a)]
    assert not bad, "upward imports in ran_edge/ (move the shared piece down a layer):\n" + "\n".join(bad)


def test_package_order_is_strict():
    """Every package sits in one layer, and the packages import one way: no package loop such as the former
    runtime -> engine -> quantize -> runtime (the seams aside)."""
    spans = {}
    for m in _modules():
        if m != "ran_edge":
            spans.setdefault(package_of(m), set()).add(layer_of(m))
    split = {p: sorted(layers) for p, layers in spans.items() if len(layers) > 1}
    assert not split, f"packages spanning several layers (split them): {split}"
    pkg_graph: dict[str, list[tuple[str, int]]] = {}
    where: dict[tuple[str, str], str] = {}
    for a, edges in layered_graph().items():
        for b, line in edges:
            pa, pb = package_of(a), package_of(b)
            if pa != pb and b != "ran_edge":
                pkg_graph.setdefault(pa, []).append((pb, line))
                where.setdefault((pa, pb), _where(a, line))
    loops = _cycles(pkg_graph)
    detail = [f"{', '.join(c)}: " + "; ".join(f"{where[(a, b)]} {a} -> {b}" for a in c for b in c if (a, b) in where)
              for c in loops]
    assert not loops, "package loops in ran_edge/:\n  " + "\n  ".join(detail)


def _function_level_imports(module: str) -> dict[str, list[int]]:
    """``{imported ran_edge module: [lines]}`` of the imports inside functions of ``module``."""
    path = _modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inside: dict[str, list[int]] = {}
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in _imports(fn):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [_resolve(module, path.name == "__init__.py", node)])
                for n in names:
                    inside.setdefault(n, []).append(node.lineno)
    return inside


def test_each_seam_is_one_late_import_and_nothing_else_reaches_up():
    graph = import_graph()
    for a, b in sorted(SEAMS):
        assert a in _modules() and b in _modules(), f"seam {a} -> {b}: no such module"
        lines = [line for t, line in graph[a] if t == b]
        assert lines, f"seam {a} -> {b} is declared but not used (remove it from SEAMS)"
        late = _function_level_imports(a).get(b, [])
        assert sorted(set(lines)) == sorted(set(late)), f"seam {a} -> {b}: imported at module level ({_where(a, lines[0])})"
        assert len(set(late)) == 1, f"seam {a} -> {b}: imported at {len(set(late))} places, expected one"
        importers = sorted(m for m, edges in graph.items() if any(t == b for t, _ in edges) and layer_of(m) < layer_of(b))
        assert importers == [a], f"modules below {b} that import it: {importers}; expected only the seam {a}"
