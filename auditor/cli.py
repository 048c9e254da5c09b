"""Command line: parse, call one pipeline function, render. No logic lives here.

Heavy imports (Azure SDKs, scapy, networkx, rich) happen inside commands so `pathaudit --help`
stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import click

from auditor import __version__
from auditor.collect.credentials import CLOUDS, CREDENTIAL_KINDS, DEFAULT_TOKEN_ENV
from auditor.errors import PathauditError
from auditor.gcpause import settle
from auditor.sink import write_all

SEVERITY_CHOICES = ["high", "medium", "low", "info", "never"]
REPORTED_SEVERITIES = ["high", "medium", "low", "info"]
# auditor.report.outputs.FORMATS (kept literal here so --help imports no renderer)
REPORT_FORMATS = ["table", "json", "sarif", "junit", "markdown", "csv", "html"]
MAX_PROBLEM_LINES = 20


def exit_codes(*lines: str) -> str:
    """The `Exit codes:` block every command's help ends with (README, exit codes), one code a line."""
    return "\b\nExit codes:\n" + "\n".join(f"  {line}" for line in lines) + "\n"


USAGE_CODE = "2  usage error or unreadable input (the message names the file or option)"
AUDIT_CODES = exit_codes(
    "0  nothing at or above --fail-on, coverage complete",
    "1  findings at or above --fail-on",
    USAGE_CODE,
    "3  coverage incomplete and nothing failed (see --allow-incomplete)",
)
REPORT_CODES = exit_codes(
    "0  nothing at or above --fail-on, coverage complete",
    "1  findings at or above --fail-on",
    USAGE_CODE,
    "3  the document says coverage is incomplete and nothing failed (see --allow-incomplete)",
)
EPILOG_MAIN = exit_codes(
    "0  ran; nothing at or above --fail-on (each command's --help says what 0-3 mean for it)",
    "1  findings at or above --fail-on (diff: new ones; routes --compare: differences; verify-bundle: tampered)",
    USAGE_CODE,
    "3  coverage incomplete: never reported as clean unless --allow-incomplete",
)

EPILOG_AUDIT = (
    """\b
Examples:
  pathaudit audit --demo                           # the bundled demo estate
  pathaudit audit estate/ --format json -o findings.json
  pathaudit audit estate/ --format json --format sarif --format html --out reports/
  pathaudit audit estate/ --bundle evidence.zip --baseline last-week.json
  pathaudit audit vnets.json nics.json.gz --fail-on medium
  pathaudit audit estate/ --severity medium --skip-rule NET006
  az graph query -q "Resources | where type =~ 'microsoft.network/virtualnetworks'" \\
      --first 1000 -o json > vnets.json && pathaudit audit vnets.json

"""
    + AUDIT_CODES
)
SEVERITY_HELP = (
    "Report only findings at or above LEVEL: the others are left out of every output and of the exit "
    "code (the JSON document's `filters` counts them)."
)
SKIP_RULE_HELP = (
    "Do not evaluate this rule (repeatable); it is listed under coverage.not_assessed as "
    '"skipped with --skip-rule".'
)


def terminal_block(block: str) -> str:
    """Multi-line text output (trace, routes, diff) made terminal-safe, line breaks kept."""
    from auditor.safetext import terminal

    return terminal(block, newlines=True)


def err(message: str) -> None:
    """One line on stderr: secret-looking values scrubbed (a token a server echoed back), estate strings
    made terminal-safe (auditor.safetext.terminal)."""
    from auditor.collect.redact import scrub_text
    from auditor.safetext import terminal

    click.echo(terminal(scrub_text(message)), err=True)


def report_problems(problems: list) -> None:
    for p in problems[:MAX_PROBLEM_LINES]:
        err(f"pathaudit: warning: {p.line()}")
    if len(problems) > MAX_PROBLEM_LINES:
        err(
            f"pathaudit: warning: ... and {len(problems) - MAX_PROBLEM_LINES} more (all listed in coverage.skipped)"
        )


# Scope, credential and endpoint of live collection: shared by `collect` and `audit --live`, handed to
# the command as one `live` dict (auditor.collect.live.CollectOptions.from_cli).
LIVE_OPTIONS = [
    click.option(
        "--subscription",
        "subscriptions",
        multiple=True,
        metavar="ID",
        help="[live] Subscription to collect (repeatable). Default: every subscription the identity sees.",
    ),
    click.option(
        "--management-group",
        "management_groups",
        multiple=True,
        metavar="MG",
        help="[live] Collect every subscription under this management group (repeatable).",
    ),
    click.option(
        "--tenant", metavar="TENANT", help="[live] Microsoft Entra tenant to sign in to (id or domain)."
    ),
    click.option(
        "--credential",
        type=click.Choice(CREDENTIAL_KINDS),
        default="default",
        show_default=True,
        help="[live] How to sign in; `token`: a bearer token from the --token-env variable.",
    ),
    click.option(
        "--token-env",
        default=DEFAULT_TOKEN_ENV,
        show_default=True,
        metavar="VAR",
        help="[live] Environment variable holding the bearer token for --credential token.",
    ),
    click.option(
        "--cloud",
        type=click.Choice(list(CLOUDS)),
        default="AzureCloud",
        show_default=True,
        help="[live] Azure cloud.",
    ),
    click.option(
        "--arm-endpoint",
        metavar="URL",
        help="[live] Resource Manager endpoint (https; token scope URL/.default). "
        "TLS trust: REQUESTS_CA_BUNDLE or SSL_CERT_FILE.",
    ),
    click.option(
        "--effective-routes",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        metavar="N",
        help="[live] Also fetch Azure's effective route tables of up to N NICs (NVA NICs first).",
    ),
    click.option(
        "--fresh-accounts",
        is_flag=True,
        help="[live] Re-read AI accounts from ARM (Resource Graph can lag recent changes).",
    ),
    click.option(
        "--request-timeout",
        type=click.FloatRange(min=0.1),
        default=60.0,
        show_default=True,
        metavar="SECONDS",
        help="[live] Read timeout of each request to Azure.",
    ),
]
LIVE_PARAMS = (
    "subscriptions",
    "management_groups",
    "tenant",
    "credential",
    "token_env",
    "cloud",
    "arm_endpoint",
    "effective_routes",
    "fresh_accounts",
    "request_timeout",
)


def live_options(func):
    """Add LIVE_OPTIONS to a command; their values reach it as one `live` dict."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        live = {name: kwargs.pop(name) for name in LIVE_PARAMS}
        return func(*args, live=live, **kwargs)

    for option in reversed(LIVE_OPTIONS):
        wrapper = option(wrapper)
    return wrapper


def live_given(ctx: click.Context) -> list[str]:
    """The [live] options set on the command line or through the environment."""
    from click.core import ParameterSource

    return [
        p.opts[0]
        for p in ctx.command.params
        if p.name in LIVE_PARAMS
        and ctx.get_parameter_source(p.name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    ]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}, epilog=EPILOG_MAIN
)
@click.version_option(__version__, prog_name="pathaudit")
def cli() -> None:
    """Audit Azure estates that put Azure OpenAI behind private endpoints, firewalls/NVAs and an API gateway.

    Finds asymmetric private-endpoint flows, missing SNAT / disableSnatOnPL, API keys left enabled and
    paths that bypass the gateway, from exported ARM / Resource Graph JSON or live collection.
    """


@cli.command(epilog=EPILOG_AUDIT)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*REPORT_FORMATS, "flows"]),
    multiple=True,
    default=["table"],
    show_default=True,
    help="Output format (repeatable; several need --out DIR). `flows`: every analysed "
    "flow, one row per route context, endpoint and port, as Parquet or CSV "
    "(--out FILE.parquet|FILE.csv, or DIR/flows.parquet).",
)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path),
    help="Write to FILE (one format) or DIR/findings.<ext> (several formats, or an existing DIR).",
)
@click.option(
    "--bundle",
    "bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write an evidence bundle (zip: findings, HTML, SARIF, inputs, rules, MANIFEST).",
)
@click.option(
    "--baseline",
    "baseline_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Older findings JSON: mark findings new/unchanged, list resolved ones; only new ones fail.",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITY_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a finding at or above this severity is active.",
)
@click.option("--allow-incomplete", is_flag=True, help="Exit 0/1 even when some input could not be assessed.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: ./pathaudit.toml or [tool.pathaudit] in ./pyproject.toml).",
)
@click.option(
    "--rule", "rules", multiple=True, metavar="ID", help="Only evaluate these rule ids (repeatable)."
)
@click.option("--skip-rule", "skip_rules", multiple=True, metavar="ID", help=SKIP_RULE_HELP)
@click.option("--severity", type=click.Choice(REPORTED_SEVERITIES), metavar="LEVEL", help=SEVERITY_HELP)
@click.option(
    "--live",
    "live_collect",
    is_flag=True,
    help="Collect the estate from Azure now (read-only) and audit it; see `collect`.",
)
@click.option("--demo", is_flag=True, help="Audit the bundled demo estate (no INPUT).")
@live_options
def audit(
    inputs: tuple[Path, ...],
    fmt: tuple[str, ...],
    out: Path | None,
    bundle: Path | None,
    baseline_path: Path | None,
    fail_on: str,
    allow_incomplete: bool,
    config_path: Path | None,
    rules: tuple[str, ...],
    skip_rules: tuple[str, ...],
    severity: str | None,
    live_collect: bool,
    demo: bool,
    live: dict,
) -> None:
    """Audit exported estate files or directories (*.json, *.json.gz), or --demo for the bundled demo.

    With --live: collect from Azure first (the options marked [live], as for `collect`).
    """
    from auditor.audit import preflight, run_audit, select_inputs
    from auditor.collect.progress import stages
    from auditor.config import load_config

    paths = list(inputs)
    if live_collect and (paths or demo):
        raise click.UsageError("--live collects the estate from Azure: give no INPUT and no --demo")
    if not live_collect and (given := live_given(click.get_current_context())):
        raise click.UsageError(f"{given[0]} needs --live")
    if not live_collect:
        paths, display = select_inputs(paths, demo, "audit", live=True)
    preflight(fmt, out, bundle=bundle, rules=rules or None, skip=skip_rules, severity=severity)
    config = load_config(config_path)
    baseline = None
    if baseline_path is not None:
        from auditor.suppress import load_document

        baseline = load_document(baseline_path)
    if live_collect:
        from auditor.collect.live import CollectOptions, collect_for_audit

        collected = collect_for_audit(CollectOptions.from_cli(**live))
        click.get_current_context().call_on_close(collected.cleanup)
        for line in collected.summary():
            err(line)
        assert collected.path is not None  # collect_for_audit writes the snapshot
        paths, display = [collected.path], {collected.path: f"live:{collected.path.name}"}
    elif demo:
        err(f"pathaudit: auditing the bundled demo estate ({paths[0]})")
    if config.path is not None:
        err(f"pathaudit: config: {config.path}")  # values in it change verdicts: always say which file
    with stages() as progress:
        result = run_audit(
            paths,
            config,
            display,
            set(rules) if rules else None,
            baseline=baseline,
            skip=skip_rules,
            severity=severity,
            progress=progress,
        )
    settle()  # only rendering is left (auditor.gcpause)
    report_problems(result.problems)
    report_annotations(result.warnings, result.baseline)
    for line in result.selection.lines():
        err(f"pathaudit: {line}")
    document = result.document()
    with stages(f"writing reports ({', '.join(dict.fromkeys(fmt))})" if out is not None else None):
        written = render(
            document,
            fmt,
            out,
            catalog=result.catalog,
            assessed=result.assessed,
            flow_rows=lambda: result.flow_rows(document),
            estate=result.estate,
            say_written=False,
            fail_on=fail_on,
        )
        if bundle is not None:
            from auditor.report.bundle import command_from_context, write_audit_bundle

            write_audit_bundle(
                bundle,
                document,
                result.catalog,
                [(r.name, r.path, r.sha256) for r in result.estate.read_files],
                command_from_context(click.get_current_context(), "audit"),
            )
    announce(document, fmt, out, written)
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


def render(
    document: dict,
    fmt: str | tuple[str, ...] | list[str],
    out: Path | None,
    *,
    catalog: dict | None = None,
    assessed: dict | None = None,
    flow_rows: Callable[[], Iterable[tuple]] | None = None,
    estate: object = None,
    fallback_artifact: str | None = None,
    say_written: bool = True,
    fail_on: str = "high",
) -> list[Path]:
    """Write `document` in one or more formats (auditor.report.outputs); `catalog` defaults to the bundled
    one. With --out, one line on stderr says what was written where (unless `say_written` is False: the
    caller says it later). Returns the files written."""
    from auditor.report.outputs import ReportContext, write_reports

    if catalog is None:
        from auditor.catalog import load_catalog

        catalog = load_catalog()
    formats = [fmt] if isinstance(fmt, str) else list(fmt)
    ctx = ReportContext.for_document(
        document,
        catalog,
        assessed,
        flow_rows,
        estate=estate,
        fallback_artifact=fallback_artifact,
        fail_on=fail_on,
    )
    written = write_reports(ctx, formats, out)
    for notice in ctx.notices:
        err(f"pathaudit: warning: {notice}")
    if say_written:
        announce(document, formats, out, written)
    return written


def announce(document: dict, fmt: Iterable[str], out: Path | None, written: list[Path]) -> None:
    """`pathaudit: 17 findings (10 high, 7 medium) written to reports/ (json, sarif)` when --out was used,
    so a CI log says what happened; nothing on stdout."""
    if out is None:
        return
    from auditor.report.destination import written_line

    err(written_line(document, list(fmt), out, written))


RULES_CODES = exit_codes("0  listed", "2  usage error (an unknown rule id: the known ones are named)")
EPILOG_RULES = (
    """\b
Examples:
  pathaudit rules                         # one line per rule
  pathaudit rules --format json           # the catalog: id, title, synopsis, severity, family,
                                          # default_status, resource_types, references, mappings
  pathaudit rules show NET001 --format json

"""
    + RULES_CODES
)


@cli.group(invoke_without_command=True, epilog=EPILOG_RULES)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: every rule with its metadata, keys always in the same order.",
)
@click.pass_context
def rules(ctx: click.Context, fmt: str) -> None:
    """List the rule catalog (`pathaudit rules show ID` prints one rule in full)."""
    ctx.obj = {"format": fmt}
    if ctx.invoked_subcommand is None:
        from auditor.report.catalog_text import catalog_json, catalog_table

        click.echo(catalog_json() if fmt == "json" else catalog_table(), nl=False)


@rules.command("show", epilog=RULES_CODES)
@click.argument("rule_id")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default=None,
    help="json: the rule's metadata as in `pathaudit rules --format json`.  [default: text]",
)
@click.pass_context
def rules_show(ctx: click.Context, rule_id: str, fmt: str | None) -> None:
    """Print one rule: rationale, remediation, references and control mappings."""
    from auditor.report.catalog_text import catalog_json, rule_text

    if fmt is None:  # `pathaudit rules --format json show ID` means json too
        fmt = "json" if (ctx.obj or {}).get("format") == "json" else "text"
    click.echo(catalog_json(rule_id) if fmt == "json" else rule_text(rule_id.upper()), nl=False)


EPILOG_ROUTES = """\b
Examples:
  pathaudit routes --demo --subnet vnet-app-weu/snet-app     # the bundled demo estate
  pathaudit routes estate.json --subnet spoke-app/snet-app
  pathaudit routes estate.json --subnet spoke-app/snet-app --ip 10.2.1.4
  pathaudit routes estate.json --subnet /subscriptions/.../subnets/snet-app --format json
  az network nic show-effective-route-table -g rg -n vm1-nic -o json > vm1.json
  pathaudit routes estate.json --subnet spoke-app/snet-app --compare vm1.json

""" + exit_codes(
    "0  routes shown (with --compare: the model and Azure agree)",
    "1  --compare found differences",
    USAGE_CODE,
)
DEMO_HELP = "Use the bundled demo estate (no INPUT), as `pathaudit audit --demo` does."


@cli.command(epilog=EPILOG_ROUTES)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--subnet",
    "subnet_spec",
    required=True,
    metavar="NAME|VNET/SUBNET|ID",
    help="The subnet whose routes to show (its name when unique, vnet/subnet, or its id).",
)
@click.option(
    "--ip", metavar="ADDRESS", help="Explain which route wins for this destination and why the others lose."
)
@click.option(
    "--compare",
    "compare_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="An effective route table exported from Azure for a NIC in this subnet: list every difference.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json: the shape of `az network nic show-effective-route-table` (or the differences with --compare).",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
@click.option("--demo", is_flag=True, help=DEMO_HELP)
def routes(
    inputs: tuple[Path, ...],
    subnet_spec: str,
    ip: str | None,
    compare_file: Path | None,
    fmt: str,
    config_path: Path | None,
    demo: bool,
) -> None:
    """Show a subnet's effective routes as Azure computes them (exit 1 with --compare when they differ)."""
    from auditor.audit import load_query_estate, select_inputs
    from auditor.config import load_config
    from auditor.problems import sort_key
    from auditor.report.json_doc import dumps
    from auditor.report.routes_text import render_routes
    from auditor.routing.query import answer

    estate = load_query_estate(*select_inputs(list(inputs), demo, "routes"))
    report_problems(sorted(estate.problems, key=sort_key))
    ans = answer(estate, load_config(config_path), subnet_spec, ip, compare_file)
    if fmt == "json":
        doc = ans.azure_json()
        if ans.differences is not None:
            doc = {
                "subnet": ans.subnet.id,
                "compared_with": ans.compared_with,
                "differences": [d.to_dict() for d in ans.differences],
            }
        write_all(sys.stdout.buffer, (dumps(doc),), "standard output")
    else:
        click.echo(terminal_block(render_routes(ans)), nl=False)
    if ans.differences and any(d.kind != "note" for d in ans.differences):
        sys.exit(1)


# --- report stage (issue #7): re-render, compare, verify ------------------------------------------


@cli.command("report", epilog=REPORT_CODES)
@click.argument("findings", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    multiple=True,
    default=["table"],
    show_default=True,
    help="Output format (repeatable; several need --out DIR).",
)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path),
    help="Write to FILE (one format) or DIR/findings.<ext> (several formats, or an existing DIR).",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITY_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a finding at or above this severity is active.",
)
@click.option(
    "--allow-incomplete", is_flag=True, help="Exit 0/1 even when the document says coverage is incomplete."
)
@click.option("--skip-rule", "skip_rules", multiple=True, metavar="ID", help=SKIP_RULE_HELP)
@click.option("--severity", type=click.Choice(REPORTED_SEVERITIES), metavar="LEVEL", help=SEVERITY_HELP)
def report_cmd(
    findings: Path,
    fmt: tuple[str, ...],
    out: Path | None,
    fail_on: str,
    allow_incomplete: bool,
    skip_rules: tuple[str, ...] = (),
    severity: str | None = None,
) -> None:
    """Re-render a saved findings document (pathaudit/findings@2) without re-auditing.

    SARIF locations are found by reading the input files the document lists, when they still exist.
    JUnit lists failing resources plus one passing case per rule (the estate is not re-read).
    """
    from auditor.audit import filter_document, preflight
    from auditor.report.outputs import document_exit_code
    from auditor.suppress import load_document

    preflight(fmt, out, skip=skip_rules, severity=severity)
    document, lines = filter_document(load_document(findings), skip_rules, severity)
    for line in lines:
        err(f"pathaudit: {line}")
    # SARIF: a resource no listed input still holds points at this document (GitHub needs a file)
    render(document, fmt, out, fallback_artifact=str(findings), fail_on=fail_on)
    sys.exit(document_exit_code(document, fail_on, allow_incomplete))


@cli.command(
    "diff",
    epilog=exit_codes(
        "0  no NEW finding at or above --fail-on",
        "1  new findings at or above --fail-on",
        "2  usage error or an unreadable findings document",
    ),
)
@click.argument("old", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("new", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITY_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when a NEW finding at or above this severity is active.",
)
def diff_cmd(old: Path, new: Path, fmt: str, fail_on: str) -> None:
    """Compare two findings documents by fingerprint: new, unchanged and resolved findings."""
    from auditor.report.diff import diff_exit_code, diff_json, diff_text
    from auditor.suppress import load_document

    old_doc, new_doc = load_document(old), load_document(new)
    if fmt == "json":
        data, comparison = diff_json(old_doc, new_doc)
        write_all(sys.stdout.buffer, (data,), "standard output")
    else:
        text, comparison = diff_text(old_doc, new_doc)
        click.echo(terminal_block(text), nl=False)
    sys.exit(diff_exit_code(comparison, fail_on))


@cli.command(
    "verify-bundle",
    epilog=exit_codes(
        "0  intact: every file matches MANIFEST.json",
        "1  tampered (the files are named)",
        "2  usage error or an unreadable bundle",
    ),
)
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False))
def verify_bundle_cmd(bundle: Path) -> None:
    """Check an evidence bundle against its MANIFEST.json: exit 0 intact, 1 tampered (files named), 2 unreadable."""
    from auditor.report.bundle import BundleUnreadable, verify_bundle

    try:
        result = verify_bundle(bundle)
    except BundleUnreadable as exc:
        err(f"pathaudit: error: {exc}")
        sys.exit(2)
    for line in result.lines():  # member names come from the bundle under test
        click.echo(terminal_block(line))
    if result.intact:
        click.echo(
            f"bundle intact: {result.files} files match MANIFEST.json (manifest sha256 {result.manifest_sha256})"
        )
        sys.exit(0)
    err(
        f"pathaudit: bundle TAMPERED: {len(result.lines())} problem(s) (manifest sha256 {result.manifest_sha256})"
    )
    sys.exit(1)


EPILOG_TRACE = """\b
Examples:
  pathaudit trace --demo --from snet-app --to pe-aoai-contoso-dev    # the bundled demo estate
  pathaudit trace estate.json --from snet-app --to pe-aoai
  pathaudit trace estate.json --from spoke-app/snet-app --to pe-aoai --port 443
  pathaudit trace estate.json --from 10.1.1.4 --to aoai1 --format json
  pathaudit trace estate.json --from on-premises --to 10.2.1.4 --format dot | dot -Tsvg > flow.svg

""" + exit_codes("0  traced (whatever the verdict: it is in the output)", USAGE_CODE)


@cli.command(epilog=EPILOG_TRACE)
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--from",
    "source",
    required=True,
    metavar="SUBNET|VNET/SUBNET|IP|on-premises",
    help="Where the flow starts: a subnet (its name when unique, vnet/subnet, or its id), an IP, "
    "or on-premises.",
)
@click.option(
    "--to",
    "destination",
    required=True,
    metavar="PE|AI-ACCOUNT|IP",
    help="The private endpoint (or account).",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=443, show_default=True, help="Destination TCP port."
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "dot"]), default="table", show_default=True
)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Config file.")
@click.option("--demo", is_flag=True, help=DEMO_HELP)
def trace(
    inputs: tuple[Path, ...],
    source: str,
    destination: str,
    port: int,
    fmt: str,
    config_path: Path | None,
    demo: bool,
) -> None:
    """Trace one flow forward and back: hops, deciding routes, appliances, NSG rules, verdict."""
    from auditor.audit import load_query_estate, select_inputs
    from auditor.config import load_config
    from auditor.paths.trace import render_trace
    from auditor.paths.trace import trace as run_trace
    from auditor.problems import sort_key
    from auditor.report.json_doc import dumps

    estate = load_query_estate(*select_inputs(list(inputs), demo, "trace"))
    report_problems(sorted(estate.problems, key=sort_key))
    result = run_trace(estate, load_config(config_path), source, destination, port)
    if fmt == "json":
        write_all(sys.stdout.buffer, (dumps(result.to_dict()),), "standard output")
    elif fmt == "dot":
        from auditor.paths.graph import flow_graph, to_dot

        click.echo(
            terminal_block(to_dot(flow_graph(result.to_dict()["flows"]), f"{source} -> {destination}")),
            nl=False,
        )
    else:
        click.echo(terminal_block(render_trace(result)), nl=False)


# --- confirm stage (issue #6): evidence from firewall logs and packet captures ----------------------

EPILOG_CONFIRM = """\b
Examples:
  pathaudit audit estate/ --format json --out findings.json
  pathaudit confirm findings.json --pcap nva1-eth0.pcapng -o confirmed.json
  pathaudit confirm findings.json --flow-trace flowtrace.csv --flow-trace netrule.json
  pathaudit confirm findings.json --workspace WORKSPACE-GUID --timespan P2D --credential azure-cli
  pathaudit audit estate/ --format json | pathaudit confirm - --pcap afw-instance0.pcap

\b
Captures must be taken on the appliance (NVA NIC, Azure Firewall packet capture). The KQL sent to
the workspace is in checks/log-analytics/ (runnable by hand).

""" + exit_codes(
    "0  nothing at or above --fail-on",
    "1  findings at or above --fail-on that were not refuted",
    "2  usage error, unreadable input or a failed sign-in",
    "3  a query failed or returned partial results (see --allow-incomplete)",
)


@cli.command(epilog=EPILOG_CONFIRM)
@click.argument("findings", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option(
    "--pcap",
    "pcaps",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Packet capture taken on the appliance: pcap or pcapng (repeatable).",
)
@click.option(
    "--flow-trace",
    "flow_traces",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="AZFWFlowTrace / AZFWNetworkRule export: CSV, JSON (az monitor log-analytics "
    "query -o json) or Parquet (repeatable).",
)
@click.option(
    "--workspace", metavar="ID", help="Log Analytics workspace ID to query AZFWFlowTrace / AZFWNetworkRule."
)
@click.option(
    "--timespan",
    default="P1D",
    show_default=True,
    metavar="DURATION|START/END",
    help="Time range for --workspace: ISO 8601 duration (P1D, PT6H) or interval.",
)
@click.option(
    "--credential",
    type=click.Choice(["default", "azure-cli", "managed-identity", "workload-identity", "token"]),
    default="default",
    show_default=True,
    help="How to sign in for --workspace.",
)
@click.option(
    "--token-env",
    default="AZURE_ACCESS_TOKEN",
    show_default=True,
    metavar="VAR",
    help="With --credential token: variable holding a Log Analytics access token.",
)
@click.option(
    "--cloud",
    type=click.Choice(["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"]),
    default="AzureCloud",
    show_default=True,
    help="Cloud of the workspace.",
)
@click.option("--logs-endpoint", metavar="URL", help="Log Analytics endpoint (https), overriding --cloud's.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    multiple=True,
    default=["json"],
    show_default=True,
    help="Output format (repeatable; several need --out DIR), as for `audit`.",
)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path),
    help="Write to FILE (one format) or DIR/findings.<ext> (several formats, or an existing DIR).",
)
@click.option(
    "--bundle",
    "bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write an evidence bundle (0600): the confirmed findings (JSON, HTML, SARIF), the findings "
    "document read, the captures and log exports used, the rules, MANIFEST.",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITY_CHOICES),
    default="high",
    show_default=True,
    help="Exit 1 when an unrefuted finding at or above this severity is active.",
)
@click.option("--allow-incomplete", is_flag=True, help="Exit 0/1 even when a query failed or was partial.")
def confirm(
    findings: Path,
    pcaps: tuple[Path, ...],
    flow_traces: tuple[Path, ...],
    workspace: str | None,
    timespan: str,
    credential: str,
    token_env: str,
    cloud: str,
    logs_endpoint: str | None,
    fmt: tuple[str, ...],
    out: Path | None,
    bundle: Path | None,
    fail_on: str,
    allow_incomplete: bool,
) -> None:
    """Confirm or refute path findings (NET001, NET008...) with firewall logs and packet captures.

    Writes the findings document again with each flow finding's status set to confirmed, refuted or
    inconclusive and the evidence attached; other findings are unchanged.
    """
    from auditor.audit import preflight
    from auditor.confirm import confirm_document, load_findings

    if not (pcaps or flow_traces or workspace):
        raise click.UsageError("no evidence given: use --pcap, --flow-trace and/or --workspace")
    preflight(fmt, out, bundle=bundle)
    document = load_findings(findings)
    client = None
    if workspace:
        from auditor.confirm.loganalytics import open_client

        client = open_client(credential, token_env, cloud, logs_endpoint)
    result = confirm_document(
        document,
        pcaps=[str(p) for p in pcaps],
        flow_traces=[str(p) for p in flow_traces],
        workspace=workspace,
        timespan=timespan,
        logs_client=client,
    )
    for line in result.lines():
        err(f"pathaudit: {line}")
    report_problems(result.problems)
    render(result.document, fmt, out, fail_on=fail_on)
    if bundle is not None:
        from auditor.catalog import load_catalog
        from auditor.report.bundle import command_from_context, write_audit_bundle

        # only what this run read: the findings document and the evidence files, never the estate files the
        # document lists (a crafted document could name any file on this machine)
        read: list[tuple[str, Path, str | None]] = (
            [] if str(findings) == "-" else [(findings.name, findings.resolve(), None)]
        )
        write_audit_bundle(
            bundle,
            result.document,
            load_catalog(),
            read,
            command_from_context(click.get_current_context(), "confirm"),
            evidence=[(p.name, p.resolve()) for p in (*pcaps, *flow_traces)],
        )
    code = result.exit_code(fail_on, allow_incomplete)
    if code == 3:
        err("pathaudit: coverage incomplete: exit 3 (use --allow-incomplete to accept partial evidence)")
    sys.exit(code)


# ---------------------------------------------------------------- live collection

EPILOG_COLLECT = """\b
Examples:
  pathaudit collect                                 # every subscription the signed-in identity sees
  pathaudit collect --management-group mg-prod -o prod.json.gz
  pathaudit collect --subscription 00000000-0000-0000-0000-000000000000 --credential azure-cli
  AZURE_ACCESS_TOKEN=$(az account get-access-token --query accessToken -o tsv) \\
      pathaudit collect --credential token --effective-routes 20
  pathaudit audit prod.json.gz                      # audit the snapshot later, anywhere

\b
Needs only the built-in Reader role (docs/live-collection.md). Read-only: Resource Graph queries
(checks/resource-graph/*.kql) and ARM reads; keys are never listed, secret-looking values are
redacted.

""" + exit_codes(
    "0  complete",
    "2  usage error, failed sign-in or connection error",
    "3  some scope or query failed (named in the summary and in the snapshot's coverage.failed)",
)


@cli.command("collect", epilog=EPILOG_COLLECT)
@live_options
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Snapshot file (default: ./pathaudit-snapshot-<UTC time>.json.gz; gzip when it ends in .gz).",
)
def collect_cmd(out: Path | None, live: dict) -> None:
    """Collect a snapshot of the estate from Azure: Resource Graph plus a few ARM reads (mode 0600)."""
    from auditor.collect.live import CollectOptions, collect_to_file
    from auditor.report.destination import check_destination

    if out is not None:
        check_destination(out, "--out", folder=False)
    result = collect_to_file(CollectOptions.from_cli(**live), out)
    for line in result.summary():
        err(line)
    sys.exit(result.exit_code)


def main() -> None:
    from auditor import gcpause

    gcpause.EXITS_AFTER_COMMAND = True
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


def _register_whatif() -> None:
    """`whatif` and `plan` live in auditor.cli_whatif (it imports this module's helpers)."""
    from auditor.cli_whatif import plan, whatif

    cli.add_command(whatif)
    cli.add_command(plan)


_register_whatif()


if __name__ == "__main__":
    main()
