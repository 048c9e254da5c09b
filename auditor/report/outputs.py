"""Format dispatch and where output goes: stdout, one file, or `DIR/findings.<ext>` per format.

The one entry point the CLI calls for `audit`, `report` (and later `confirm`): `write_reports`.
Each renderer is imported only when its format is asked for.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from auditor.catalog import Rule
from auditor.errors import UsageError
from auditor.report.locate import SourceLocator
from auditor.sink import write_all, write_file_atomic

FORMATS = ("table", "json", "sarif", "junit", "markdown", "csv", "html")  # renderings of the document
FLOWS = "flows"  # every analysed flow (Parquet/CSV), from an audit run only
FLOWS_FILENAME = "flows.parquet"
FILENAMES = {
    "table": "findings.txt",
    "json": "findings.json",
    "sarif": "findings.sarif",
    "junit": "findings.junit.xml",
    "markdown": "findings.md",
    "csv": "findings.csv",
    "html": "findings.html",
}


@dataclass
class ReportContext:
    """What renderers may use: the findings document plus what the document does not carry."""

    document: dict[str, Any]
    catalog: dict[str, Rule]
    assessed: dict[str, list[str]] | None = None  # JUnit pass cases; None for saved documents
    locator: SourceLocator | None = None  # SARIF physical locations
    # every analysed flow (`--format flows`): rows of auditor.paths.export, from an audit run only
    flow_rows: Callable[[], Iterable[tuple[Any, ...]]] | None = None
    notices: list[str] = field(default_factory=list)  # warnings for stderr (SARIF over GitHub's limits)
    # the audited estate (auditor.estate.model.Estate) when rendering straight from an audit: the HTML
    # estate map draws it; None when re-rendering a saved findings document
    estate: Any = None
    # SARIF: the file a result points at when no input file holds its resource (docs/findings.md)
    fallback_artifact: str | None = None
    sarif_category: str | None = None  # automationDetails.id (--sarif-category)
    fail_on: str = "high"  # JUnit: findings at or above it are failures, the others skipped (--fail-on)
    _cache: dict[str, bytes] = field(default_factory=dict, repr=False)

    @classmethod
    def for_document(
        cls,
        document: dict[str, Any],
        catalog: dict[str, Rule],
        assessed: dict[str, list[str]] | None = None,
        flow_rows: Callable[[], Iterable[tuple[Any, ...]]] | None = None,
        *,
        estate: Any = None,
        fallback_artifact: str | None = None,
        fail_on: str = "high",
    ) -> ReportContext:
        return cls(
            document,
            catalog,
            assessed,
            SourceLocator(document["estate"]["inputs"], fallback=fallback_artifact),
            flow_rows,
            estate=estate,
            fallback_artifact=fallback_artifact,
            fail_on=fail_on,
        )


def chunks(fmt: str, ctx: ReportContext) -> Iterator[bytes]:
    """The output of one format, in pieces (no renderer builds the whole output as one bytes object)."""
    doc = ctx.document
    if fmt == "json":
        from auditor.report.json_doc import iter_json

        return iter_json(doc)
    if fmt == "table":
        from auditor.report.table import render_table

        buf = io.StringIO()
        render_table(doc, buf)
        return iter((buf.getvalue().encode("utf-8"),))
    if fmt == "sarif":
        from auditor.report.sarif import github_warnings, iter_sarif, measured

        for w in github_warnings(doc):
            if w not in ctx.notices:
                ctx.notices.append(w)
        return measured(iter_sarif(doc, ctx.catalog, ctx.locator, ctx.sarif_category), ctx.notices)
    if fmt == "junit":
        from auditor.report.junit import iter_junit

        return iter_junit(doc, ctx.catalog, ctx.assessed, fail_on=ctx.fail_on)
    if fmt == "markdown":
        from auditor.report.markdown import iter_markdown

        return iter_markdown(doc, ctx.catalog)
    if fmt == "csv":
        from auditor.report.csv_report import iter_csv

        return iter_csv(doc, ctx.catalog)
    if fmt == "html":
        from auditor.report.html import iter_html

        return iter_html(doc, ctx.catalog, estate=ctx.estate)
    raise UsageError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


def render(fmt: str, ctx: ReportContext) -> bytes:
    """One format as bytes (bundles and tests; files and stdout are written from `chunks`)."""
    if fmt not in ctx._cache:
        ctx._cache[fmt] = b"".join(chunks(fmt, ctx))
    return ctx._cache[fmt]


def plan(formats: list[str] | tuple[str, ...], out: Path | None) -> list[tuple[str, Path | None]]:
    """(format, destination) pairs; destination None = stdout. Several formats need `--out DIR`."""
    fmts = list(dict.fromkeys(formats or ("table",)))
    for fmt in fmts:
        if fmt not in FORMATS and fmt != FLOWS:
            raise UsageError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if out is None and FLOWS in fmts:
        raise UsageError("--format flows writes a file: give --out FILE.parquet, --out FILE.csv or --out DIR")
    if out is None:
        if len(fmts) > 1:
            raise UsageError(
                f"{len(fmts)} formats need --out DIR (one file per format: "
                f"{', '.join(FILENAMES.get(f, FLOWS_FILENAME) for f in fmts)})"
            )
        return [(fmts[0], None)]
    as_dir = len(fmts) > 1 or out.is_dir() or str(out).endswith(("/", os.sep))
    if as_dir:
        return [(f, out / (FILENAMES[f] if f != FLOWS else FLOWS_FILENAME)) for f in fmts]
    return [(fmts[0], out)]


def write_reports(
    ctx: ReportContext, formats: list[str] | tuple[str, ...], out: Path | None, stdout: BinaryIO | None = None
) -> list[Path]:
    """Render every requested format to its destination; returns the files written."""
    written: list[Path] = []
    for fmt, dest in plan(formats, out):
        if fmt == FLOWS:
            if ctx.flow_rows is None:
                raise UsageError(
                    "--format flows needs the estate: it is written by `pathaudit audit`, not from a "
                    "saved findings document"
                )
            from auditor.report.flows import write_flows

            assert dest is not None  # plan() gives --format flows a file or raises
            write_flows(dest, ctx.flow_rows())
            written.append(dest)
            continue
        if dest is None:
            if fmt == "table":
                from auditor.report.table import render_table

                render_table(ctx.document)  # colour when stdout is a terminal
                continue
            write_all(stdout or sys.stdout.buffer, chunks(fmt, ctx), "standard output")
            continue
        write_file_atomic(dest, chunks(fmt, ctx) if fmt not in ctx._cache else (ctx._cache[fmt],))
        written.append(dest)
    return written


def document_exit_code(document: dict[str, Any], fail_on: str, allow_incomplete: bool) -> int:
    """README, exit codes for a saved document: 1 findings at/above fail_on (not suppressed, not refuted, not
    unchanged against a baseline), 3 coverage incomplete, else 0."""
    from auditor.exitcodes import decide, fails_doc

    return decide(
        unreadable=False,
        failing=any(fails_doc(f, fail_on) for f in document["findings"]),
        complete=document["coverage"].get("complete", True),
        allow_incomplete=allow_incomplete,
    )
