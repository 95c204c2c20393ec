"""Imports only go downward: no cycle between jetfm's packages and top-level modules, deferred
(function-level) imports included."""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "jetfm"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).parts
        unit = parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = list(parts[:-1])[:len(parts) - node.level] if node.level > 1 \
                    else list(parts[:-1])
                full = [x for x in base + (node.module or "").split(".") if x]
                targets = [full[0]] if full else [a.name for a in node.names]
            elif (node.module or "").startswith("jetfm."):
                targets = [node.module.split(".")[1]]
            else:
                continue
            graph.setdefault(unit, set()).update(t for t in targets if t != unit)
    return graph


def test_no_import_cycles_between_packages():
    graph = _graph()
    done, path = set(), []

    def visit(node):
        if node in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(node):] + [node]))
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
