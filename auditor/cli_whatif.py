"""`pathaudit whatif` and `pathaudit plan`: parse, call auditor.whatif, render. No logic lives here
(registered on the main group by auditor.cli)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from auditor.cli import SEVERITY_CHOICES, USAGE_CODE, err, exit_codes, report_problems
from auditor.gcpause import settle

WHATIF_FORMATS = ["table", "json", "markdown", "html"]

EPILOG_WHATIF = """\b
Examples:
  pathaudit whatif --demo --tag NIC_ID disableSnatOnPL=true
  pathaudit whatif estate/ --set SUBNET_ID properties.privateEndpointNetworkPolicies=Enabled
  pathaudit whatif estate/ --change proposed.yaml --format markdown -o change-ticket.md
  pathaudit whatif estate/ --plan findings.json --only NET001     # try the planned fixes

""" + exit_codes(
    "0  nothing worse (no new or risen finding at or above --fail-on, no flow newly broken, the gateway "
    "keeps every path) and coverage complete",
    "1  worse (the verdict says why): a new or rising finding at or above --fail-on, a flow that newly "
    "breaks, or the API gateway losing its path to an AI account",
    USAGE_CODE + "; an unknown resource id or property path names the change",
    "3  nothing worse, but coverage is incomplete before or after the change: never reported safe",
)
EPILOG_PLAN = """\b
Examples:
  pathaudit plan findings.json                   # the estate is re-read from the inputs it lists
  pathaudit plan findings.json --only NET002 --format json -o plan.json

""" + exit_codes("0  plans written", USAGE_CODE + " (the findings document's inputs must be readable)")


def _inputs(inputs: tuple[Path, ...], demo: bool) -> tuple[list[Path], dict[Path, str] | None]:
    if demo:
        from auditor.audit import demo_inputs

        if inputs:
            raise click.UsageError("--demo audits the bundled demo estate: give no INPUT")
        return demo_inputs()
    if not inputs:
        raise click.UsageError("no INPUT given: name exported estate files or folders, or --demo")
    return list(inputs), None


def _document_inputs(findings: Path) -> tuple[dict, list[Path], dict[Path, str]]:
    """A findings document and the input files it lists (bundled demo names resolved)."""
    from auditor.report.locate import default_resolver
    from auditor.suppress import load_document

    document = load_document(findings)
    paths, display = [], {}
    for name in document["estate"]["inputs"]:
        path = default_resolver(name)
        if path is None:
            raise click.UsageError(
                f"{findings}: its input {name!r} cannot be read here: plans need the estate the document was "
                "audited from (run `pathaudit plan` where the inputs are)"
            )
        paths.append(path)
        display[path] = name
    return document, paths, display


def _check_only(only: tuple[str, ...], findings: list[dict[str, Any]], source: Path) -> None:
    """Every --only value names a rule id or a fingerprint of the document's findings: a typo must not
    read as "nothing to fix"."""
    from auditor.safetext import terminal

    rules = sorted({str(f.get("rule_id")) for f in findings})
    fingerprints = {str(f.get("fingerprint")) for f in findings}
    unknown = [o for o in only if o not in rules and o not in fingerprints]
    if unknown:
        raise click.UsageError(
            f"--only {', '.join(unknown)} matches no rule id or fingerprint of the findings in {source}: "
            f"--only takes one of its rule ids ({terminal(', '.join(rules)) or 'it has no findings'}) or the "
            "fingerprint of one of its findings"
        )


def _write(blob: bytes, out: Path | None) -> None:
    from auditor.sink import write_all, write_file_atomic

    if out is None:
        write_all(sys.stdout.buffer, (blob,), "standard output")
    else:
        write_file_atomic(out, (blob,))
        err(f"pathaudit: written to {out}")


@click.command("whatif", epilog=EPILOG_WHATIF)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--change",
    "change_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Change-set file, JSON or YAML (repeatable; docs/whatif.md), or a `plan --format json` document "
    "(the first fix of each plan).",
)
@click.option(
    "--tag", "tags", multiple=True, nargs=2, metavar="ID KEY=VALUE", help="Merge a tag into resource ID."
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    nargs=2,
    metavar="ID PATH=VALUE",
    help='Set a property (VALUE is JSON when it parses: true, 3, ["a"]).',
)
@click.option(
    "--plan",
    "plan_from",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Apply the first planned fix of each finding of this findings document.",
)
@click.option(
    "--only", "only", multiple=True, metavar="RULE|FINGERPRINT", help="With --plan: these findings only."
)
@click.option("--format", "fmt", type=click.Choice(WHATIF_FORMATS), default="table", show_default=True)
@click.option("-o", "--out", "out", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE.")
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITY_CHOICES),
    default="medium",
    show_default=True,
    help="Exit 1 when the change adds a finding at or above this severity.",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
@click.option("--demo", is_flag=True, help="Use the bundled demo estate (no INPUT).")
def whatif(
    inputs: tuple[Path, ...],
    change_files: tuple[Path, ...],
    tags: tuple[tuple[str, str], ...],
    sets: tuple[tuple[str, str], ...],
    plan_from: Path | None,
    only: tuple[str, ...],
    fmt: str,
    out: Path | None,
    fail_on: str,
    config_path: Path | None,
    demo: bool,
) -> None:
    """Try a change before making it: audit the estate before and after it, in memory.

    Reports the findings the change resolves, keeps and adds, the flows whose verdict changes (a flow
    from the API gateway to an AI account that becomes blocked is a broken change) and the effective
    routes that change per route context. Usable as a CI gate on a proposed change.
    """
    from auditor.config import load_config
    from auditor.ingest.files import read_inputs
    from auditor.report.whatif_report import render_whatif, whatif_document
    from auditor.whatif.changes import load_changes, short_form
    from auditor.whatif.run import audit_before, plan_changes, run_whatif

    paths, display = _inputs(inputs, demo)
    config = load_config(config_path)
    changes = [c for f in change_files for c in load_changes(f)]
    changes += [short_form("tag", rid, kv) for rid, kv in tags]
    changes += [short_form("set", rid, kv) for rid, kv in sets]
    raw, baseline = None, None
    if plan_from is not None:
        from auditor.suppress import load_document

        planned = load_document(plan_from)
        _check_only(only, planned["findings"], plan_from)
        raw = read_inputs(paths, display)
        baseline = audit_before(raw, config)  # also the "before" of the what-if below
        current = baseline.result
        known = {f["fingerprint"] for f in current.document()["findings"]}
        missing = [f["fingerprint"] for f in planned["findings"] if f["fingerprint"] not in known]
        if missing:
            err(
                f"pathaudit: warning: {len(missing)} finding(s) of {plan_from} are not in this estate any more"
            )
        doc = current.document()
        doc["findings"] = [
            f for f in doc["findings"] if f["fingerprint"] in {g["fingerprint"] for g in planned["findings"]}
        ]
        changes += plan_changes(current, doc, set(only) if only else None)
        if not changes:
            raise click.UsageError(f"{plan_from}: no finding selected has a fix a change set can express")
    elif only:
        raise click.UsageError("--only selects planned fixes: use it with --plan")
    result = run_whatif(paths, config, changes, display, raw=raw, before=baseline)
    settle()  # only rendering is left (auditor.gcpause)
    report_problems(result.after_problems)
    doc = whatif_document(result, fail_on)
    _write(render_whatif(doc, fmt), out)
    sys.exit(doc["verdict"]["exit"])


@click.command("plan", epilog=EPILOG_PLAN)
@click.argument("findings", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--only", "only", multiple=True, metavar="RULE|FINGERPRINT", help="These findings only.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("-o", "--out", "out", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
def plan(findings: Path, only: tuple[str, ...], fmt: str, out: Path | None, config_path: Path | None) -> None:
    """Remediation plans for a findings document: per finding, its fixes as change sets (with the az
    command and the Bicep property), smallest blast radius first, and what each costs."""
    from auditor.config import load_config
    from auditor.ingest.files import read_inputs
    from auditor.report.plan_text import render_plan
    from auditor.whatif.run import audit_raw, plan_document

    document, paths, display = _document_inputs(findings)
    _check_only(only, document["findings"], findings)
    current = audit_raw(read_inputs(paths, display), load_config(config_path))
    doc = current.document()
    wanted = {f["fingerprint"] for f in document["findings"]}
    doc["findings"] = [
        f
        for f in doc["findings"]
        if f["fingerprint"] in wanted and (not only or f["rule_id"] in only or f["fingerprint"] in only)
    ]
    _write(render_plan(plan_document(current, doc), fmt), out)
    sys.exit(0)
