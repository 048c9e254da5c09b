"""Stage boundaries: the pipeline's folders import one another in one direction only.

Every module under auditor/ (and every rule's check, rules/<ID>/check.py, which the catalog loads as
part of the rules stage) is parsed with `ast`; imports at module level, in class bodies, under
`if TYPE_CHECKING:` and inside functions all count. Layers, lowest first:

- foundation: the top-level shared modules (FOUNDATION); they import only one another, so any stage
  may import them;
- the stages, in pipeline order (STAGES): a module may import its own stage and earlier ones, never
  a later one. Two exceptions, about the two ways in: collect may import ingest (ALLOWED_LATER) and
  ingest must not import collect (FORBIDDEN_EARLIER);
- the top (auditor.audit, auditor.cli, auditor.__main__): the pipeline itself, may import anything,
  and nothing below imports it.

A foundation module that needs a stage is placed at that stage's level in LATE_FOUNDATION, with the
reason. Module-level imports must also form no cycle (imports inside functions and under
TYPE_CHECKING do not run at import time and may close one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "auditor"
RULE_CHECKS = REPO / "rules"  # rules/<ID>/check.py: loaded by auditor.catalog, rules stage

STAGES = ("collect", "ingest", "estate", "routing", "paths", "rules", "confirm", "report")
# `whatif` orchestrates audits as `audit` does (two of them, before and after a change): it is top too
TOP = frozenset(
    {
        "auditor.audit",
        "auditor.cli",
        "auditor.__main__",
        "auditor.whatif",
        "auditor.whatif.changes",
        "auditor.whatif.compare",
        "auditor.whatif.run",
        "auditor.whatif.scope",
        "auditor.whatif.worker",
        "auditor.cli_whatif",
    }
)
# Shared by every stage; each imports nothing from auditor but other foundation modules (today:
# config -> errors, ids, ipnet; findings -> ids; problems -> ids; sink -> errors; exitcodes -> findings;
# suppress -> config, documents, errors, findings, ids; the rest import nothing from auditor).
FOUNDATION = frozenset(
    {
        "auditor",  # __version__
        "auditor.errors",
        "auditor.problems",
        "auditor.findings",
        "auditor.ipnet",
        "auditor.config",
        "auditor.packaged",
        "auditor.documents",
        "auditor.sink",
        "auditor.exitcodes",
        "auditor.suppress",
        "auditor.gcpause",
        "auditor.safetext",
        "auditor.ids",  # resource ids: the comparison key, names, parents, types
    }
)
# Top-level modules that serve only from a given stage on: module -> (stage, reason).
LATE_FOUNDATION: dict[str, tuple[str, str]] = {
    "auditor.catalog": (
        "rules",
        "the rule registry, which loads the rules' checks and names the paths types "
        "they read; used by the rules stage, report and the top only (the data "
        "folders earlier stages need come from auditor.packaged)",
    ),
}
# collect and ingest are two ways in: live collection writes a snapshot that ingest reads, and reuses
# ingest's row shaping (normalize) and snapshot schema. So collect may import ingest, and ingest, the
# lower of the two, never imports collect: reading files needs no Azure SDK code.
# A later stage a stage may import: (importer, imported) -> reason.
ALLOWED_LATER: dict[tuple[str, str], str] = {
    ("collect", "ingest"): "live collection shapes SDK output and snapshots with ingest's normalize/files",
}
# An earlier stage a stage must not import: (importer, imported) -> reason.
FORBIDDEN_EARLIER: dict[tuple[str, str], str] = {
    ("ingest", "collect"): "ingest must not import collect: reading files never needs the Azure SDK",
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    runtime: bool  # executed when the importer is imported (module or class level, not TYPE_CHECKING)


def module_files() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        if "_data" in rel.parts:
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        found[".".join(parts)] = path
    for path in sorted(RULE_CHECKS.glob("*/check.py")):
        found[f"rules.{path.parent.name}.check"] = path
    return found


MODULES = module_files()


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def resolve(importer: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The auditor modules an import statement names: `from P import m` is P.m when that is a module."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = importer if MODULES[importer].name == "__init__.py" else importer.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
    for name in dict.fromkeys(names):
        if name == "auditor" or name.startswith("auditor."):
            while name not in MODULES and "." in name:  # `import auditor.x.y` of something not parsed
                name = name.rpartition(".")[0]
            yield name


def imports_of(module: str) -> Iterator[Import]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))

    def walk(nodes: Iterable[ast.AST], runtime: bool) -> Iterator[Import]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name in resolve(module, node):
                    if name != module:
                        yield Import(module, name, node.lineno, runtime)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(ast.iter_child_nodes(node), False)
            elif isinstance(node, ast.If) and is_type_checking(node.test):
                yield from walk(node.body, False)
                yield from walk(node.orelse, runtime)
            else:
                yield from walk(ast.iter_child_nodes(node), runtime)

    yield from walk(tree.body, True)


ALL_IMPORTS = [imp for module in MODULES for imp in imports_of(module)]


def layer(module: str) -> tuple[int, str]:
    """(rank, name) of a module's layer: foundation -1, stages 0.., top last."""
    if module in FOUNDATION:
        return -1, "foundation"
    if module in TOP:
        return len(STAGES), "top"
    if module in LATE_FOUNDATION:
        stage = LATE_FOUNDATION[module][0]
        return STAGES.index(stage), stage
    parts = module.split(".")
    if parts[0] == "rules":
        return STAGES.index("rules"), "rules"
    if len(parts) >= 2 and parts[1] in STAGES:
        return STAGES.index(parts[1]), parts[1]
    raise AssertionError(
        f"{module} ({MODULES[module].relative_to(REPO)}) belongs to no layer: put it in a stage "
        "folder, or add it to FOUNDATION / LATE_FOUNDATION / TOP in tests/test_boundaries.py"
    )


def where(imp: Import) -> str:
    kind = "" if imp.runtime else " (inside a function or TYPE_CHECKING)"
    return (
        f"{MODULES[imp.importer].relative_to(REPO)}:{imp.line}: {imp.importer} imports {imp.imported}{kind}"
    )


def layering_violations(imports: list[Import]) -> list[str]:
    bad = []
    for imp in imports:
        (rank_from, name_from), (rank_to, name_to) = layer(imp.importer), layer(imp.imported)
        if rank_to > rank_from and (name_from, name_to) not in ALLOWED_LATER:
            bad.append(f"{where(imp)}: {name_from} must not import {name_to} (a later layer)")
        elif (name_from, name_to) in FORBIDDEN_EARLIER:
            bad.append(f"{where(imp)}: {FORBIDDEN_EARLIER[(name_from, name_to)]}")
    return bad


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """Cycles of module-level imports, each starting at its smallest module name."""
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    graph.add_edges_from((imp.importer, imp.imported) for imp in imports if imp.runtime)
    cycles = [
        cycle[cycle.index(min(cycle)) :] + cycle[: cycle.index(min(cycle))]
        for cycle in nx.simple_cycles(graph)
    ]
    return sorted(cycles)


def test_every_module_has_a_layer() -> None:
    assert (
        "auditor.audit" in MODULES
        and "auditor.report.locate" in MODULES
        and "auditor.ingest.files" in MODULES
    )
    for module in MODULES:
        layer(module)
    for module in FOUNDATION | TOP | set(LATE_FOUNDATION):
        assert module in MODULES, f"{module} is listed in tests/test_boundaries.py but no longer exists"


def test_stages_import_only_earlier_stages_and_the_foundation() -> None:
    assert not layering_violations(ALL_IMPORTS), "\n".join(layering_violations(ALL_IMPORTS))


def test_no_import_cycle_at_module_level() -> None:
    cycles = import_cycles(ALL_IMPORTS)
    assert not cycles, "module-level import cycles:\n" + "\n".join(" -> ".join([*c, c[0]]) for c in cycles)


def test_locate_does_not_import_the_audit_pipeline() -> None:
    """`pathaudit report` resolves bundled inputs without loading the audit (auditor.packaged.demo_dir)."""
    reached = [
        where(imp) for imp in ALL_IMPORTS if imp.importer == "auditor.report.locate" and imp.imported in TOP
    ]
    assert not reached, "\n".join(reached)
