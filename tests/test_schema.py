"""Findings documents validate against auditor/schemas/findings-v2.schema.json (Draft 2020-12), are
sorted as docs/findings.md says, and are byte-identical across runs on the same input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli, write_json
from helpers.findings_schema import validator
from helpers.malformed_inputs import UNREADABLE, bad_resources, good_estate
from helpers.scenarios import SCENARIO_DIRS, audit

from auditor.findings import SEVERITY_RANK

DEMO = REPO / "fixtures" / "estates" / "demo-contoso"


def assert_valid(doc: dict[str, Any]) -> None:
    errors = sorted(validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def assert_sorted(doc: dict[str, Any]) -> None:
    keys = [
        (SEVERITY_RANK[f["severity"]], f["rule_id"], f["resource_id"].lower(), f["fingerprint"])
        for f in doc["findings"]
    ]
    assert keys == sorted(keys)
    assert len({f["fingerprint"] for f in doc["findings"]}) == len(doc["findings"]), (
        "fingerprints must be unique"
    )


def assert_consistent(doc: dict[str, Any]) -> None:
    """summary counts and coverage.complete agree with the lists they summarise."""
    active = [f for f in doc["findings"] if f["suppression"] is None]
    for severity in SEVERITY_RANK:
        assert doc["summary"][severity] == sum(f["severity"] == severity for f in active)
    assert doc["summary"]["suppressed"] == len(doc["findings"]) - len(active)
    assert doc["coverage"]["complete"] is (doc["coverage"]["skipped"] == [])
    assert doc["estate"]["resources"] >= 0


def test_schema_rejects_what_it_should() -> None:
    """The schema is not vacuous: a document missing a field or with a bad enum fails."""
    _, out, _ = run_cli("audit", DEMO, "--format", "json")
    doc = json.loads(out)
    assert_valid(doc)
    broken = json.loads(out)
    del broken["coverage"]
    assert list(validator().iter_errors(broken))
    broken = json.loads(out)
    broken["findings"][0]["severity"] = "critical"
    assert list(validator().iter_errors(broken))
    broken = json.loads(out)
    broken["findings"][0]["fingerprint"] = "not-hex"
    assert list(validator().iter_errors(broken))


def test_demo_estate_document_is_valid_sorted_and_stable() -> None:
    runs = [run_cli("audit", DEMO, "--format", "json") for _ in range(2)]
    (code1, out1, err1), (code2, out2, err2) = runs
    assert (code1, out1, err1) == (code2, out2, err2)  # same input, same bytes (and same stderr)
    doc = json.loads(out1)
    assert_valid(doc)
    assert_sorted(doc)
    assert_consistent(doc)
    assert len(doc["findings"]) > 5 and doc["coverage"]["complete"] is True


@pytest.mark.parametrize("folder", SCENARIO_DIRS, ids=[p.name[:3] for p in SCENARIO_DIRS])
def test_scenario_documents_are_valid_and_sorted(folder: Path) -> None:
    _, doc, _ = audit(folder)
    assert_valid(doc)
    assert_sorted(doc)
    assert_consistent(doc)


def test_same_scenario_twice_gives_the_same_bytes() -> None:
    folder = next(p for p in SCENARIO_DIRS if p.name.startswith("S14-"))
    outs = {run_cli("audit", folder / "resources.json", "--format", "json")[1] for _ in range(2)}
    assert len(outs) == 1


def malformed_inputs(tmp_path: Path) -> list[tuple[str, list[Path]]]:
    cases = []
    for case, (name, data) in UNREADABLE.items():
        path = tmp_path / case.replace(" ", "-") / name
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        good = write_json(path.parent, "good.json", good_estate())
        cases.append((case, [path, good]))
    for case, (resources, _) in bad_resources().items():
        cases.append(
            (
                case,
                [write_json(tmp_path / case.replace(" ", "-"), "estate.json", [*good_estate(), *resources])],
            )
        )
    cases.append(("missing path", [tmp_path / "nope.json"]))
    return cases


def test_malformed_input_documents_are_valid(tmp_path: Path) -> None:
    seen_effects = set()
    for case, paths in malformed_inputs(tmp_path):
        code, out, err = run_cli("audit", *paths, "--format", "json")
        assert code in (1, 2, 3), case
        assert "Traceback" not in err, case
        doc = json.loads(out)
        assert_valid(doc)
        assert_sorted(doc)
        assert_consistent(doc)
        assert doc["coverage"]["complete"] is False, case
        seen_effects |= {s["effect"] for s in doc["coverage"]["skipped"]}
    assert seen_effects == {"file not read", "resource skipped", "value ignored", "conflicting copies"}
