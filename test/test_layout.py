"""The package's layering (issue 19): no import cycle anywhere in lucid_ros, counting the imports
inside functions too (a cycle hidden in a lazy import still ties two modules into one), and the
command-line applications (lucid_ros/cli.py, lucid_ros/app/) sit on top: nothing else imports them.

Read from the source (ast), so it needs no ROS and checks every module, including those a test
run never imports."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lucid_ros"
APPS = ("lucid_ros.cli", "lucid_ros.app")


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = f.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The lucid_ros modules `name` imports anywhere in its body (a `from pkg import sub` counts as sub)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for a in node.names:
                out.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {m for m in out if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
    return out


def test_no_import_cycle_in_lucid_ros():
    found = cycles(import_graph())
    assert not found, "modules that import each other (directly or around a loop): " + "; ".join(" <-> ".join(c) for c in found)


def test_the_checker_finds_a_cycle_and_a_lazy_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "lucid_ros.app.sim" in graph["lucid_ros.cli"]  # imported inside a function: still an edge
    assert "lucid_ros.hardware.drivers" in graph["lucid_ros.hardware.motor_client"]


def test_only_the_command_line_imports_the_applications():
    offenders = [f"{m} imports {dep}" for m, deps in import_graph().items() if not m.startswith(APPS)
                 for dep in deps if dep.startswith(APPS)]  # fmt: skip
    assert not offenders, offenders


def test_nodes_holds_no_command_line_application():
    apps = [m for m in import_graph() if m.startswith("lucid_ros.nodes.") and m.endswith(("_run", "sim_run", "success_run"))
            and "def run_" in _modules()[m].read_text()]  # fmt: skip
    assert not apps, f"command-line applications belong in lucid_ros/app/: {apps}"
