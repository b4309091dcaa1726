"""The shape of the package: imports point one way, one seed rule, course names instead of file names."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "dllab"
# The command line, the run contract and the suite sit above the experiments; everything else is library code.
TOP = {"dllab.cli", "dllab.__main__", "dllab.runner", "dllab.suite", "dllab.suite.plan", "dllab.suite.resume",
       "dllab.suite.display", "dllab.suite.shipping"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _resolve(name: str, modules: dict) -> str | None:
    """The dllab module an import names (``dllab.nn.train``; ``from dllab import plotting`` -> dllab.plotting)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """module -> the dllab modules it imports anywhere in its code, imports inside functions included."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            deps |= {m for t in targets if t.startswith("dllab") and (m := _resolve(t, modules)) and m != name}
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert "dllab.recorder" in graph and graph["dllab.runner"] >= {"dllab.recorder", "dllab.report"}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_library_module_imports_an_experiment():
    offenders = {m: sorted(d for d in deps if d.startswith("dllab.experiments"))
                 for m, deps in import_graph().items()
                 if not m.startswith("dllab.experiments") and m not in TOP}
    assert {m: d for m, d in offenders.items() if d} == {}


def test_the_report_and_the_data_layer_do_not_import_the_recorder():
    graph = import_graph()
    for module in ("dllab.report", "dllab.data.store", "dllab.fileio", "dllab.progress"):
        assert "dllab.recorder" not in graph[module], module


GLOBAL_SEEDING = re.compile(r"\bnp\.random\.seed\(|(?<![\w.])random\.seed\(|\btorch\.manual_seed\(")


def test_only_the_seed_helper_seeds_global_generators():
    files = [*SRC.rglob("*.py"), *(REPO / "benchmarks").glob("*.py"), *(REPO / "tests").glob("*.py")]
    hits = [f"{p.relative_to(REPO)}:{i}" for p in files if p != SRC / "seeding.py" and p != Path(__file__)
            for i, line in enumerate(p.read_text().splitlines(), 1) if GLOBAL_SEEDING.search(line)]
    assert hits == []


def test_the_seeding_pattern_sees_what_it_must():
    for line in ("np.random.seed(0)", "random.seed(1)", "torch.manual_seed(2)"):
        assert GLOBAL_SEEDING.search(line)
    for line in ("torch.Generator().manual_seed(3)", "seeding.rng(0, 'x')", "np.random.default_rng(1)"):
        assert not GLOBAL_SEEDING.search(line)


HOMEWORK_FILE = re.compile(r"\b00[0-4]_[0-9a-f]{16}\b|\b[Hh]omework 00[0-4]\b|\b00[0-4] Q\d|\b00[0-4], 00[0-4]\b")


def test_no_homework_file_names_in_code_or_docs():
    files = [*SRC.rglob("*.py"), *(REPO / "docs").rglob("*.md"), REPO / "README.md"]
    hits = [f"{p.relative_to(REPO)}:{i}: {line.strip()[:80]}" for p in files
            for i, line in enumerate(p.read_text().splitlines(), 1) if HOMEWORK_FILE.search(line)]
    assert hits == []
    assert HOMEWORK_FILE.search("see 003_1cc81d9b549fbe26.txt") and HOMEWORK_FILE.search("Homework 002 (Q2-Q4)")
