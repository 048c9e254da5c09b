"""On a large estate the audit after the change runs in a second process (auditor.whatif.worker). The
answer must be the one the single-process what-if gives, byte for byte, in both comparison modes
(every flow, and the flows the rules read on estates above EVERY_FLOW_PAIRS); errors in the worker
surface as they would in one process."""

from __future__ import annotations

import pytest
from helpers.scenarios import scenario
from helpers.whatif_cases import kinds_of_change

import auditor.whatif.run as whatif_run
from auditor.audit import demo_inputs
from auditor.config import load_config
from auditor.errors import UsageError
from auditor.ingest.files import read_inputs
from auditor.report.whatif_report import render_whatif, whatif_document
from auditor.whatif.changes import Change
from auditor.whatif.run import audit_raw, plan_changes, run_whatif


def cases():
    paths, display = demo_inputs()
    out = [("demo", paths, display, None)]
    for number in ("S01", "S09", "S12"):
        folder = scenario(number)
        config = folder / "pathaudit.toml"
        out.append((number, [folder / "resources.json"], None, config if config.is_file() else None))
    return out


@pytest.mark.parametrize("pairs", [10**9, 0], ids=["every-flow", "large-estate"])
@pytest.mark.parametrize(("name", "paths", "display", "config_path"), cases(), ids=[c[0] for c in cases()])
def test_two_processes_give_the_same_answer(monkeypatch, pairs, name, paths, display, config_path) -> None:
    monkeypatch.setattr(whatif_run, "EVERY_FLOW_PAIRS", pairs)
    config = load_config(config_path)
    current = audit_raw(read_inputs(paths, display), config)
    kinds = kinds_of_change(current.estate)
    planned = plan_changes(current, current.document(), None)
    if planned:
        kinds["every first planned fix"] = planned
    for label, changes in kinds.items():
        one = run_whatif(paths, config, changes, display, parallel=False)
        two = run_whatif(paths, config, changes, display, parallel=True)
        assert two.why_not == "the audit after the change ran in a second process"
        for fmt in ("json", "table"):
            assert render_whatif(whatif_document(two, "medium"), fmt) == render_whatif(
                whatif_document(one, "medium"), fmt
            ), f"{name}: {label}: {fmt}"
        assert two.after_problems == one.after_problems


def test_a_change_naming_nothing_fails_before_either_audit() -> None:
    paths, display = demo_inputs()
    with pytest.raises(UsageError, match="no resource /subscriptions/x in the estate"):
        run_whatif(
            paths,
            load_config(None),
            [Change("t", "/subscriptions/x", tags={"a": "b"})],
            display,
            parallel=True,
        )


def test_an_unexpected_error_in_the_worker_is_one_line_without_a_traceback(capfd, monkeypatch) -> None:
    """A worker that crashes (here: given no config) says what happened in one line, which the parent
    raises; no traceback reaches standard error unless PATHAUDIT_DEBUG is set."""
    from auditor.whatif.worker import Job, Worker

    monkeypatch.delenv("PATHAUDIT_DEBUG", raising=False)
    paths, display = demo_inputs()
    job = Job(paths, display, None, [], {}, 0)  # type: ignore[arg-type]
    with (
        pytest.raises(RuntimeError, match=r"in the what-if worker process: AttributeError"),
        Worker.start(job) as w,
    ):
        w.side()
    assert "Traceback" not in capfd.readouterr().err


def test_a_usage_error_in_the_worker_is_raised_as_such(monkeypatch) -> None:
    """The worker's own usage errors (here: a change naming nothing, sent to it directly) come back as
    the same error, not as an internal one."""
    from auditor.whatif.worker import Job, Worker

    paths, display = demo_inputs()
    job = Job(paths, display, load_config(None), [Change("t", "/subscriptions/x", tags={"a": "b"})], {}, 0)
    with (
        pytest.raises(UsageError, match="no resource /subscriptions/x in the estate"),
        Worker.start(job) as w,
    ):
        w.side()
