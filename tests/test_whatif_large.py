"""On estates above EVERY_FLOW_PAIRS, `whatif` compares only the pairs (route context, endpoint) either
side's rules read, each worked out on both sides (auditor.whatif.run.same_pairs). That mode must reach
the same verdict as comparing every flow, and every flow change it reports must be one the full
comparison reports too. The fixtures are small, so the threshold is lowered to force the mode."""

from __future__ import annotations

import pytest
from helpers.whatif_cases import estates, kinds_of_change

import auditor.whatif.run as whatif_run
from auditor.config import load_config
from auditor.ingest.files import read_inputs
from auditor.whatif.run import audit_raw, plan_changes, run_whatif


def normal(text: str) -> str:
    """`blocked` (every flow) and `not delivered` (large estate) are the same fact seen two ways."""
    return text.replace("not delivered", "blocked").replace("absent", "blocked")


def changes_of(result):
    return {
        (normal(c.context), dest, port, normal(c.before), normal(c.after))
        for c in result.comparison.flows
        for dest, port in c.destinations
    }


@pytest.mark.parametrize(
    ("name", "paths", "display", "config_path"), estates(), ids=[e[0] for e in estates()]
)
def test_large_estate_mode_reaches_the_same_verdict(monkeypatch, name, paths, display, config_path) -> None:
    config = load_config(config_path)
    raw = read_inputs(paths, display)
    current = audit_raw(raw, config)
    doc = current.document()
    kinds = kinds_of_change(current.estate)
    every_fix = plan_changes(current, doc, None)
    if every_fix:
        kinds["every first planned fix"] = every_fix
    for label, changes in kinds.items():
        monkeypatch.setattr(whatif_run, "EVERY_FLOW_PAIRS", 10**9)
        full = run_whatif(paths, config, changes, display)
        monkeypatch.setattr(whatif_run, "EVERY_FLOW_PAIRS", 0)
        large = run_whatif(paths, config, changes, display)
        assert full.comparison.every_flow
        if large.comparison.every_flow:  # no (context, endpoint) pair at all: nothing to reduce
            assert not full.comparison.flows
            continue
        assert sorted(map(normal, large.comparison.worse("medium"))) == sorted(
            map(normal, full.comparison.worse("medium"))
        ), f"{name}: {label}"
        missing = changes_of(large) - changes_of(full)
        assert not missing, (
            f"{name}: {label}: reported only when comparing fewer flows: {sorted(missing)[:3]}"
        )
