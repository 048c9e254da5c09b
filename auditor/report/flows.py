"""`--format flows`: every analysed flow as Parquet or CSV, written by DuckDB, streamed.

The findings document names each misconfigured object once; this is the complete matrix behind it,
one row per (route context, destination endpoint, port), blocked flows included, with the fingerprint
of the finding that covers each flow, so a network engineer can query it with DuckDB or Spark
(`SELECT * FROM 'flows.parquet' WHERE verdict = 'asymmetric'`). Rows are written to a temporary CSV
as the analysis produces them (one endpoint at a time), then DuckDB converts that file to the
destination's format; no pyarrow, no matrix in memory. The temporary file lives in a fresh folder of
its own, so no character of the user's paths ever reaches DuckDB's file globbing.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from auditor.errors import UsageError
from auditor.ids import key
from auditor.paths.analysis import Flow
from auditor.paths.export import COLUMNS
from auditor.report.text import csv_cell
from auditor.sink import write_file_atomic

KINDS = {".parquet": "parquet", ".csv": "csv"}


def kind_of(path: Path) -> str:
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"--format flows writes Parquet or CSV: {path} must end in .parquet or .csv")
    return kind


def covering(document: dict[str, Any]) -> Callable[[Flow], str | None]:
    """Which finding of `document` covers a flow: NET001 by (route context, appliance), NET005 by the
    endpoint's subnet and the flow's context, NET008 by the endpoint's subnet for on-premises flows."""
    from auditor.rules.pathutil import context_resource

    net001 = {}
    net005: dict[str, tuple[str, set[str]]] = {}
    net008: dict[str, str] = {}
    for f in document["findings"]:
        flow = f.get("flow") or {}
        if f["rule_id"] == "NET001":
            for app in flow.get("appliances") or []:
                net001[(key(f["resource_id"]), key(app))] = f["fingerprint"]
        elif f["rule_id"] == "NET005":
            net005[key(f["resource_id"])] = (
                f["fingerprint"],
                {key(s) for s in flow.get("sources") or []},
            )
        elif f["rule_id"] == "NET008":
            net008[key(f["resource_id"])] = f["fingerprint"]

    def find(flow: Flow) -> str | None:
        if flow.outcome != "delivered":
            return None
        if flow.tail.appliances and flow.verdict in ("asymmetric", "return-unroutable"):
            hit = net001.get((key(context_resource(flow)), key(flow.tail.appliances[0].id)))
            if hit:
                return hit
        subnet = key(flow.pe.subnet_id or "")
        if flow.source_kind == "on-premises" and subnet in net008 and not flow.tail.appliances:
            return net008[subnet]
        hit5 = net005.get(subnet)
        if (
            hit5
            and key(flow.source) in hit5[1]
            and not flow.tail.appliances
            and flow.tail.route is not None
            and flow.tail.route.kind == "private-endpoint"
        ):
            return hit5[0]
        return None

    return find


def write_flows(path: Path, rows: Iterable[tuple[Any, ...]]) -> int:
    """Write every row to `path` (.parquet or .csv) through DuckDB; returns the number of rows."""
    kind = kind_of(path)
    import duckdb

    work = Path(tempfile.mkdtemp(prefix="pathaudit-flows-"))
    try:
        staged = work / "flows.csv"
        count = 0
        with open(staged, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL)
            writer.writerow([name for name, _ in COLUMNS])
            # a CSV is opened in spreadsheets: text cells (names, reasons) lose any formula lead there
            texts = [i for i, (_, t) in enumerate(COLUMNS) if t == "VARCHAR"] if kind == "csv" else []
            row: tuple[Any, ...] | list[Any]
            for row in rows:
                if texts:
                    row = list(row)
                    for i in texts:
                        if row[i] is not None:
                            row[i] = csv_cell(row[i])
                writer.writerow(row)
                count += 1
        out = work / ("out." + kind)
        columns = "{" + ", ".join(f"'{n}': '{t}'" for n, t in COLUMNS) + "}"
        options = "FORMAT parquet, COMPRESSION zstd" if kind == "parquet" else "FORMAT csv, HEADER true"
        con = duckdb.connect(":memory:")
        try:
            con.execute("SET threads = 1")  # one writer: rows in order, same bytes every run
            con.execute("SET preserve_insertion_order = true")
            con.execute(
                f"COPY (SELECT * FROM read_csv('{staged.as_posix()}', header = true, quote = '\"', "
                f"escape = '\"', columns = {columns}, auto_detect = false)) TO '{out.as_posix()}' ({options})"
            )
        finally:
            con.close()
        with open(out, "rb") as fh:
            write_file_atomic(path, iter(lambda: fh.read(1 << 20), b""))
        return count
    finally:
        shutil.rmtree(work, ignore_errors=True)


__all__ = ["COLUMNS", "covering", "kind_of", "write_flows"]
