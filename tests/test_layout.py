"""The test tree's layout: test modules share helpers through tests/helpers (or conftest), never by
importing one another (tests/helpers/__init__.py says why).

Every .py file under tests/ (test modules, helpers, conftest, fakes, bench scripts) is parsed with `ast`,
so imports inside functions count too, and so do `from tests.test_x import`, `from tests import test_x`
and `importlib.import_module("test_x")`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def names_of_test_modules() -> set[str]:
    """The bare names of the test modules under tests/ (test_report_html, ...)."""
    return {p.stem for p in TESTS.rglob("test_*.py")}


def imported_test_modules(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, module) for each import in `source` of a module in `names`, however it is spelled."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            modules = [base, *(f"{base}.{alias.name}" if base else alias.name for alias in node.names)]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Attribute, ast.Name))
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            modules = [node.args[0].value]
        else:
            continue
        for module in modules:
            hit = next((part for part in module.split(".") if part in names), None)
            if hit:
                found.append((node.lineno, hit))
                break
    return found


def test_no_module_under_tests_imports_a_test_module() -> None:
    names = names_of_test_modules()
    assert "test_layout" in names and len(names) > 20  # the scan sees the real tree
    offenders = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module in imported_test_modules(path.read_text(encoding="utf-8"), names)
    ]
    assert not offenders, (
        "share helpers through tests/helpers (or conftest), not by importing test modules:\n"
        + "\n".join(offenders)
    )


@pytest.mark.parametrize(
    "source",
    [
        "from test_schema import validator",
        "import test_schema",
        "import test_schema as s",
        "from tests.test_schema import validator",
        "from tests import test_schema",
        "from . import test_schema",
        "from .test_schema import validator",
        "def f():\n    from test_schema import validator\n    return validator",
        "import importlib\nimportlib.import_module('test_schema')",
    ],
)
def test_the_check_sees_every_spelling(source: str) -> None:
    assert [m for _, m in imported_test_modules(source, {"test_schema"})] == ["test_schema"]


@pytest.mark.parametrize(
    "source",
    [
        "from helpers.scenarios import audit",
        "from conftest import run_cli",
        "import pytest",
        "from auditor.catalog import load_catalog",
        "x = 'from test_schema import validator'",
    ],
)
def test_the_check_lets_helpers_through(source: str) -> None:
    assert imported_test_modules(source, {"test_schema"}) == []
