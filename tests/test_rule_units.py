"""Every rule is one unit (docs/adding-a-rule.md): `rules/<ID>/` holds its metadata, its check, an estate
it must report on (`fail/`) and one it must not (`pass/`). These tests run over whatever folders exist,
so a new rule is covered by adding its folder, and they prove the registry refuses a broken unit with
one line naming the file and the field, instead of running without the rule."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from auditor.catalog import load_catalog, rule_folders
from auditor.config import load_config
from auditor.errors import UsageError

RULES = REPO / "rules"
CATALOG = load_catalog()


def audit_folder(folder: Path, only: set[str] | None):
    from auditor.audit import run_audit

    config = load_config(
        folder / "pathaudit.toml" if (folder / "pathaudit.toml").is_file() else None, cwd=folder
    )
    return run_audit(sorted(folder.glob("*.json")), config, only=only)


def names(result, rule_id: str) -> list[str]:
    return sorted(f.resource_id.rsplit("/", 1)[-1] for f in result.findings if f.rule_id == rule_id)


def fingerprints(result, rule_id: str) -> list[tuple[str, str, str]]:
    return [(f.fingerprint, f.status, f.message) for f in result.findings if f.rule_id == rule_id]


def test_every_folder_is_a_rule_and_every_rule_a_folder() -> None:
    folders = [p.name for p in rule_folders(RULES)]
    assert folders == list(CATALOG) and len(folders) >= 13
    strays = [p.name for p in RULES.iterdir() if p.name not in folders and p.name != "__pycache__"]
    assert strays == [], f"rules/ holds only rule folders: {strays}"


@pytest.mark.parametrize("rule_id", list(CATALOG))
def test_fail_example_reports_exactly_the_resources_its_metadata_names(rule_id: str) -> None:
    rule = CATALOG[rule_id]
    result = audit_folder(rule.folder / "fail", {rule_id})
    assert names(result, rule_id) == sorted(rule.examples["fail"]["findings"])
    assert rule_id not in {n.rule_id for n in result.not_assessed}
    assert all(f.status == rule.default_status for f in result.findings)


@pytest.mark.parametrize("rule_id", list(CATALOG))
def test_pass_example_reports_nothing_and_is_assessed(rule_id: str) -> None:
    rule = CATALOG[rule_id]
    result = audit_folder(rule.folder / "pass", {rule_id})
    assert names(result, rule_id) == []
    assert rule_id not in {n.rule_id for n in result.not_assessed}
    assert result.assessed.get(rule_id), "the pass example holds resources the rule assesses"


@pytest.mark.parametrize("rule_id", [r for r, rule in CATALOG.items() if rule.family == "path"])
def test_declared_flows_are_enough_a_rule_alone_finds_what_it_finds_among_all(rule_id: str) -> None:
    """A rule run alone gets only the flows its `flows:` declares; it must find exactly what it finds when
    every rule runs (and the flows are the union of all declarations)."""
    for kind in ("fail", "pass"):
        folder = CATALOG[rule_id].folder / kind
        alone, together = audit_folder(folder, {rule_id}), audit_folder(folder, None)
        assert fingerprints(alone, rule_id) == fingerprints(together, rule_id), (rule_id, kind)
    # and on every example of the other rules too: more shapes than the rule's own two
    for other in CATALOG.values():
        folder = other.folder / "fail"
        assert fingerprints(audit_folder(folder, {rule_id}), rule_id) == fingerprints(
            audit_folder(folder, None), rule_id
        ), (rule_id, other.id)


def test_a_path_rule_that_reads_flows_declares_them() -> None:
    """`ctx.reported_flows` is pruned to what the running rules declare, so a path rule reading it must
    declare `flows:` (else it would see only other rules' flows, or none when run alone)."""
    for rule in CATALOG.values():
        source = (rule.folder / "check.py").read_text(encoding="utf-8")
        reads = "reported_flows" in source or "nvas_to_endpoints" in source
        assert not reads or rule.flows, f"{rule.id} reads flows but declares no `flows:` in rule.yaml"
        if rule.flows.appliances:
            assert callable(rule.reported_appliance())


def test_checks_import_no_other_rule() -> None:
    """A rule's check imports the framework (auditor.*), never another rule's folder: removing a
    folder removes the rule and breaks nothing else."""
    for rule in CATALOG.values():
        tree = ast.parse((rule.folder / "check.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.startswith(
                    (
                        "auditor.",
                        "collections",
                        "typing",
                        "dataclasses",
                        "__future__",
                        "itertools",
                        "functools",
                    )
                ), (rule.id, node.module)
                assert not node.module.startswith("auditor.rules.") or node.module in (
                    "auditor.rules.context",
                    "auditor.rules.pathutil",
                ), (rule.id, node.module)


def test_nothing_outside_a_rule_folder_names_a_rule_module() -> None:
    """The old layout (auditor/rules/<id>.py joined to rules/<ID>.yaml by a string) is gone everywhere."""
    old = [f"auditor.rules.{rid.lower()}" for rid in CATALOG]
    for path in [
        *REPO.joinpath("auditor").rglob("*.py"),
        *REPO.joinpath("tests").rglob("*.py"),
        *REPO.joinpath("docs").rglob("*.md"),
        REPO / "README.md",
    ]:
        text = path.read_text(encoding="utf-8")
        assert not [o for o in old if o in text], path


# --- the registry refuses broken units ------------------------------------------------------------


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    out = tmp_path / "rules"
    shutil.copytree(RULES, out, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    for folder in out.iterdir():
        for kind in ("fail", "pass"):
            (folder / kind).mkdir(exist_ok=True)
    return out


def edit(folder: Path, **changes: object) -> None:
    path = folder / "rule.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")


def load_error(directory: Path) -> str:
    load_catalog.cache_clear()
    try:
        with pytest.raises(UsageError) as err:
            load_catalog(directory)
    finally:
        load_catalog.cache_clear()
    message = str(err.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"severity": "hgh"}, "severity: 'hgh' is not one of"),
        ({"family": "network"}, "family: 'network' is not one of"),
        ({"default_status": "maybe"}, "default_status"),
        ({"id": "NET099"}, "differs from its folder name"),
        ({"references": []}, "references"),
        ({"rationale": None}, "'rationale' is a required property"),
        ({"check": "net001:chek"}, "Additional properties are not allowed ('check'"),
        ({"flows": {"replies": "sometimes"}}, "flows.replies"),
        (
            {
                "examples": {
                    "fail": {"about": "something fails here", "findings": []},
                    "pass": {"about": "all is well here"},
                }
            },
            "examples.fail.findings",
        ),
    ],
)
def test_invalid_metadata_is_refused_naming_file_and_field(
    rules_copy: Path, change: dict, expected: str
) -> None:
    edit(rules_copy / "NET001", **change)
    message = load_error(rules_copy)
    assert str(rules_copy / "NET001" / "rule.yaml") in message and expected in message, message


def test_a_rule_without_its_check_or_examples_is_refused(rules_copy: Path) -> None:
    (rules_copy / "AOAI002" / "check.py").unlink()
    assert "no check.py beside it" in load_error(rules_copy)
    shutil.copy(RULES / "AOAI002" / "check.py", rules_copy / "AOAI002" / "check.py")
    shutil.rmtree(rules_copy / "AOAI002" / "pass")
    assert "examples.pass: no pass/ folder" in load_error(rules_copy)


def test_a_check_module_without_check_or_declared_function_is_refused(rules_copy: Path) -> None:
    load_catalog.cache_clear()
    try:
        path = rules_copy / "NET002" / "check.py"
        path.write_text(
            path.read_text(encoding="utf-8").replace("def untagged_units(", "def untagged_unit("),
            encoding="utf-8",
        )
        with pytest.raises(
            UsageError, match=r"flows\.appliances: check\.py defines no function 'untagged_units'"
        ):
            load_catalog(rules_copy)["NET002"].module()
        (rules_copy / "AOAI001" / "check.py").write_text("def chek(ctx):\n    return []\n", encoding="utf-8")
        with pytest.raises(UsageError, match=r"check.py: defines no check\(ctx\) function"):
            load_catalog(rules_copy)["AOAI001"].check()
        assert not [
            m
            for m in sys.modules
            if m.startswith("pathaudit_rule_AOAI001_")
            and str(rules_copy) in str(getattr(sys.modules[m], "__file__", ""))
        ]
    finally:
        load_catalog.cache_clear()


def test_removing_a_rule_folder_removes_the_rule(rules_copy: Path) -> None:
    shutil.rmtree(rules_copy / "NET006")
    load_catalog.cache_clear()
    try:
        catalog = load_catalog(rules_copy)
    finally:
        load_catalog.cache_clear()
    assert "NET006" not in catalog and len(catalog) == len(CATALOG) - 1
