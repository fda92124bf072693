"""The shape of the code: the import graph of the library has no cycle, and the light modules the
workflow reads while Snakemake parses (config, methods, paths) stay free of torch."""

import ast
import sys
from pathlib import Path

import langneurons

PACKAGE = Path(langneurons.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str], top_level_only: bool = False) -> set[str]:
    """The langneurons modules ``path`` imports, anywhere in the file (lazy imports inside functions count)
    or, with ``top_level_only``, at module level (what importing it costs)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body if top_level_only else ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # "from . import x" imports the module x (not its package's names); "from .m import f" imports m
            candidates = [f"{target}.{alias.name}" for alias in node.names] + ([target] if node.module else [])
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in modules and c != name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports(path, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 30 and "langneurons.config" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_config_gate_imports_only_light_modules():
    """config reads the schema, the bundled data's index, the paths table, the stages' splitting and the errors
    at import; nothing else (a lazy import of neuronsets reads an imported neuron file, only for configs that
    import one)."""
    graph = import_graph()
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    top = {
        name: imports(files[name], set(graph), top_level_only=True)
        for name in (
            "langneurons.config",
            "langneurons.methods",
            "langneurons.paths",
            "langneurons.bundled",
            "langneurons.tasks",
        )
    }
    assert top["langneurons.config"] <= {
        "langneurons.bundled",
        "langneurons.errors",
        "langneurons.paths",
        "langneurons.splitting",
        "langneurons.tasks",
    }
    # the tasks module's names and bundled items are read while Snakemake parses; the harness loads in its job
    assert top["langneurons.tasks"] <= {"langneurons.bundled", "langneurons.errors"}
    assert graph["langneurons.errors"] == set() and graph["langneurons.paths"] == set()
    assert graph["langneurons.splitting"] == set()  # the stages' work and jobs: arithmetic on the config
    assert top["langneurons.methods"] <= {"langneurons.errors"}  # the algorithms load when a method runs
    assert top["langneurons.bundled"] <= {"langneurons.errors", "langneurons.io"}
    assert graph["langneurons.config"] - top["langneurons.config"] <= {"langneurons.neuronsets"}


def test_parse_time_modules_do_not_import_torch_at_module_level():
    for name in ("config", "methods", "paths", "bundled", "errors", "io", "splitting", "tasks"):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names} | {
            n.module for n in top if isinstance(n, ast.ImportFrom) and n.module
        }
        assert not any(m.split(".")[0] in ("torch", "lm_eval", "pandas") for m in names), name
    assert sys.modules  # (the parse itself is checked in a fresh interpreter: tests/integration/test_parse.py)
