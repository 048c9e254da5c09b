"""Command line: parse, call one pipeline function, render. No logic lives here.

Heavy imports (Azure SDKs, scapy, networkx, rich) happen inside commands so `pathaudit --help`
stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from auditor import __version__
from auditor.errors import PathauditError

SEVERITY_CHOICES = ["high", "medium", "low", "info", "never"]
# auditor.report.outputs.FORMATS (kept literal here so --help imports no renderer)
REPORT_FORMATS = ["table", "json", "sarif", "junit", "markdown", "csv", "html"]
MAX_PROBLEM_LINES = 20

EPILOG_AUDIT = """\b
Examples:
  pathaudit audit                                  # the bundled demo estate
  pathaudit audit estate/ --format json --out findings.json
  pathaudit audit estate/ --format json --format sarif --format html --out reports/
  pathaudit audit estate/ --bundle evidence.zip --baseline last-week.json
  pathaudit audit vnets.json nics.json.gz --fail-on medium
  az graph query -q "Resources | where type =~ 'microsoft.network/virtualnetworks'" \\
      --first 1000 -o json > vnets.json && pathaudit audit vnets.json

\b
Exit codes: 0 nothing at/above --fail-on; 1 findings at/above --fail-on;
2 usage error or unreadable input; 3 coverage incomplete (see --allow-incomplete).
"""


def err(message: str) -> None:
    click.echo(message, err=True)


def report_problems(problems: list) -> None:
    for p in problems[:MAX_PROBLEM_LINES]:
        err(f"pathaudit: warning: {p.line()}")
    if len(problems) > MAX_PROBLEM_LINES:
        err(f"pathaudit: warning: ... and {len(problems) - MAX_PROBLEM_LINES} more (all listed in coverage.skipped)")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="pathaudit")
def cli() -> None:
    """Audit Azure estates that put Azure OpenAI behind private endpoints, firewalls/NVAs and an API gateway.

    Finds asymmetric private-endpoint flows, missing SNAT / disableSnatOnPL, API keys left enabled and
    paths that bypass the gateway, from exported ARM / Resource Graph JSON or live collection.
    """


@cli.command(epilog=EPILOG_AUDIT)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), multiple=True, default=["table"],
              show_default=True, help="Output format (repeatable; several need --out DIR).")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Write to FILE (one format) or DIR/findings.<ext> (several formats, or an existing DIR).")
@click.option("--bundle", "bundle", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write an evidence bundle (zip: findings, HTML, SARIF, inputs, rules, MANIFEST).")
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Older findings JSON: mark findings new/unchanged, list resolved ones; only new ones fail.")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="high", show_default=True,
              help="Exit 1 when a finding at or above this severity is active.")
@click.option("--allow-incomplete", is_flag=True, help="Exit 0/1 even when some input could not be assessed.")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Config file (default: ./pathaudit.toml or [tool.pathaudit] in ./pyproject.toml).")
@click.option("--rule", "rules", multiple=True, metavar="ID", help="Only evaluate these rule ids (repeatable).")
def audit(inputs: tuple[Path, ...], fmt: tuple[str, ...], out: Path | None, bundle: Path | None,
          baseline_path: Path | None, fail_on: str, allow_incomplete: bool, config_path: Path | None,
          rules: tuple[str, ...]) -> None:
    """Audit exported estate files or directories (*.json, *.json.gz). No INPUT: the bundled demo estate."""
    from auditor.audit import demo_dir, run_audit
    from auditor.config import load_config

    display: dict[Path, str] = {}
    paths = list(inputs)
    if not paths:
        demo = demo_dir()
        paths = [demo]
        for f in sorted(demo.rglob("*.json")):
            display[f] = f"bundled:demo-contoso/{f.relative_to(demo).as_posix()}"
        err(f"pathaudit: no INPUT given: auditing the bundled demo estate ({demo})")
    config = load_config(config_path)
    baseline = None
    if baseline_path is not None:
        from auditor.suppress import load_document

        baseline = load_document(baseline_path)
    result = run_audit(paths, config, display, set(rules) if rules else None, baseline=baseline)
    report_problems(result.problems)
    report_annotations(result.warnings, result.baseline)
    document = result.document()
    render(document, fmt, out, catalog=result.catalog, assessed=result.assessed)
    if bundle is not None:
        from auditor.report.bundle import command_line, write_audit_bundle

        write_audit_bundle(bundle, document, result.catalog, paths, display,
                           command_line("audit", click.get_current_context().params))
    code = result.exit_code(fail_on, allow_incomplete)
    if code == 3:
        err("pathaudit: coverage incomplete: exit 3 (use --allow-incomplete to accept partial coverage)")
    sys.exit(code)


def report_annotations(warnings: list, baseline: dict | None) -> None:
    """Expired suppressions and the baseline comparison, on stderr (also in the document)."""
    for w in warnings:
        err(f"pathaudit: warning: {w.message}")
    if baseline is not None:
        from auditor.suppress import baseline_lines

        for line in baseline_lines(baseline):
            err(f"pathaudit: {line}")


def render(document: dict, fmt: str | tuple[str, ...] | list[str], out: Path | None, *, catalog: dict | None = None,
           assessed: dict | None = None) -> None:
    """Write `document` in one or more formats (auditor.report.outputs); `catalog` defaults to the bundled one."""
    from auditor.report.outputs import ReportContext, write_reports

    if catalog is None:
        from auditor.catalog import load_catalog

        catalog = load_catalog()
    formats = [fmt] if isinstance(fmt, str) else list(fmt)
    write_reports(ReportContext.for_document(document, catalog, assessed), formats, out)


@cli.group(invoke_without_command=True)
@click.pass_context
def rules(ctx: click.Context) -> None:
    """List the rule catalog (`pathaudit rules show ID` prints one rule in full)."""
    if ctx.invoked_subcommand is None:
        from auditor.report.catalog_text import catalog_table

        click.echo(catalog_table(), nl=False)


@rules.command("show")
@click.argument("rule_id")
def rules_show(rule_id: str) -> None:
    """Print one rule: rationale, remediation, references and control mappings."""
    from auditor.report.catalog_text import rule_text

    click.echo(rule_text(rule_id.upper()), nl=False)


EPILOG_ROUTES = """\b
Examples:
  pathaudit routes estate.json --subnet spoke-app/snet-app
  pathaudit routes estate.json --subnet spoke-app/snet-app --ip 10.2.1.4
  pathaudit routes estate.json --subnet /subscriptions/.../subnets/snet-app --format json
  az network nic show-effective-route-table -g rg -n vm1-nic -o json > vm1.json
  pathaudit routes estate.json --subnet spoke-app/snet-app --compare vm1.json
"""


@cli.command(epilog=EPILOG_ROUTES)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--subnet", "subnet_spec", required=True, metavar="ID|VNET/SUBNET", help="The subnet whose routes to show.")
@click.option("--ip", metavar="ADDRESS", help="Explain which route wins for this destination and why the others lose.")
@click.option("--compare", "compare_file", type=click.Path(path_type=Path, dir_okay=False),
              help="An effective route table exported from Azure for a NIC in this subnet: list every difference.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json: the shape of `az network nic show-effective-route-table` (or the differences with --compare).")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
def routes(inputs: tuple[Path, ...], subnet_spec: str, ip: str | None, compare_file: Path | None, fmt: str,
           config_path: Path | None) -> None:
    """Show a subnet's effective routes as Azure computes them (exit 1 with --compare when they differ)."""
    from auditor.audit import load_estate
    from auditor.config import load_config
    from auditor.report.json_doc import dumps
    from auditor.report.routes_text import render_routes
    from auditor.routing.query import answer

    estate = load_estate(list(inputs))
    report_problems(sorted(estate.problems, key=lambda p: (p.file or "", p.resource_id or "")))
    ans = answer(estate, load_config(config_path), subnet_spec, ip, compare_file)
    if fmt == "json":
        doc = ans.azure_json()
        if ans.differences is not None:
            doc = {"subnet": ans.subnet.id, "compared_with": ans.compared_with,
                   "differences": [d.to_dict() for d in ans.differences]}
        sys.stdout.buffer.write(dumps(doc))
    else:
        click.echo(render_routes(ans), nl=False)
    if ans.differences and any(d.kind != "note" for d in ans.differences):
        sys.exit(1)


# --- report stage (issue #7): re-render, compare, verify ------------------------------------------

@cli.command("report")
@click.argument("findings", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(REPORT_FORMATS), multiple=True, default=["table"],
              show_default=True, help="Output format (repeatable; several need --out DIR).")
@click.option("--out", "out", type=click.Path(path_type=Path),
              help="Write to FILE (one format) or DIR/findings.<ext> (several formats, or an existing DIR).")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="high", show_default=True,
              help="Exit 1 when a finding at or above this severity is active.")
@click.option("--allow-incomplete", is_flag=True, help="Exit 0/1 even when the document says coverage is incomplete.")
def report_cmd(findings: Path, fmt: tuple[str, ...], out: Path | None, fail_on: str, allow_incomplete: bool) -> None:
    """Re-render a saved findings document (pathaudit/findings@1) without re-auditing.

    SARIF locations are found by reading the input files the document lists, when they still exist.
    JUnit lists failing resources plus one passing case per rule (the estate is not re-read).
    """
    from auditor.report.outputs import document_exit_code
    from auditor.suppress import load_document

    document = load_document(findings)
    render(document, fmt, out)
    sys.exit(document_exit_code(document, fail_on, allow_incomplete))


@cli.command("diff")
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="high", show_default=True,
              help="Exit 1 when a NEW finding at or above this severity is active.")
def diff_cmd(old: Path, new: Path, fmt: str, fail_on: str) -> None:
    """Compare two findings documents by fingerprint: new, unchanged and resolved findings."""
    from auditor.report.diff import diff_exit_code, diff_json, diff_text
    from auditor.suppress import load_document

    old_doc, new_doc = load_document(old), load_document(new)
    if fmt == "json":
        data, comparison = diff_json(old_doc, new_doc)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        text, comparison = diff_text(old_doc, new_doc)
        click.echo(text, nl=False)
    sys.exit(diff_exit_code(comparison, fail_on))


@cli.command("verify-bundle")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
def verify_bundle_cmd(bundle: Path) -> None:
    """Check an evidence bundle against its MANIFEST.json: exit 0 intact, 1 tampered (files named), 2 unreadable."""
    from auditor.report.bundle import BundleUnreadable, verify_bundle

    try:
        result = verify_bundle(bundle)
    except BundleUnreadable as exc:
        err(f"pathaudit: error: {exc}")
        sys.exit(2)
    for line in result.lines():
        click.echo(line)
    if result.intact:
        click.echo(f"bundle intact: {result.files} files match MANIFEST.json (manifest sha256 {result.manifest_sha256})")
        sys.exit(0)
    err(f"pathaudit: bundle TAMPERED: {len(result.lines())} problem(s) (manifest sha256 {result.manifest_sha256})")
    sys.exit(1)


EPILOG_TRACE = """\b
Examples:
  pathaudit trace estate.json --from spoke-app/snet-app --to pe-aoai
  pathaudit trace estate.json --from 10.1.1.4 --to aoai1 --format json
  pathaudit trace estate.json --from on-premises --to 10.2.1.4 --format dot | dot -Tsvg > flow.svg
"""


@cli.command(epilog=EPILOG_TRACE)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--from", "source", required=True, metavar="SUBNET|VNET/SUBNET|IP|on-premises", help="Where the flow starts.")
@click.option("--to", "destination", required=True, metavar="PE|AI-ACCOUNT|IP", help="The private endpoint (or account).")
@click.option("--port", type=click.IntRange(1, 65535), default=443, show_default=True, help="Destination TCP port.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "dot"]), default="table", show_default=True)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
def trace(inputs: tuple[Path, ...], source: str, destination: str, port: int, fmt: str, config_path: Path | None) -> None:
    """Trace one flow forward and back: hops, deciding routes, appliances, NSG rules, verdict."""
    from auditor.audit import load_estate
    from auditor.config import load_config
    from auditor.paths.trace import render_trace
    from auditor.paths.trace import trace as run_trace
    from auditor.report.json_doc import dumps

    estate = load_estate(list(inputs))
    report_problems(sorted(estate.problems, key=lambda p: (p.file or "", p.resource_id or "")))
    result = run_trace(estate, load_config(config_path), source, destination, port)
    if fmt == "json":
        sys.stdout.buffer.write(dumps(result.to_dict()))
    elif fmt == "dot":
        from auditor.paths.graph import flow_graph, to_dot

        click.echo(to_dot(flow_graph(result.to_dict()["flows"]), f"{source} -> {destination}"), nl=False)
    else:
        click.echo(render_trace(result), nl=False)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err("pathaudit: aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except PathauditError as exc:
        err(f"pathaudit: error: {exc}")
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
    except KeyboardInterrupt:
        err("pathaudit: interrupted")
        sys.exit(130)
    except Exception as exc:  # no traceback reaches the user unless asked for
        if os.environ.get("PATHAUDIT_DEBUG"):
            raise
        err(f"pathaudit: internal error: {type(exc).__name__}: {exc} (set PATHAUDIT_DEBUG=1 for details)")
        sys.exit(2)


if __name__ == "__main__":
    main()
