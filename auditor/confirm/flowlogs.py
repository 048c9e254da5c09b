"""Offline Azure Firewall log exports (AZFWFlowTrace / AZFWNetworkRule rows) analysed with DuckDB.

Accepted files (the format is sniffed, the extension only breaks ties):
- CSV, optionally gzipped: portal "Export to CSV" (column `TimeGenerated [UTC]`, times like
  `7/18/2025, 12:26:46.737 PM`) or any CSV with the table's column names;
- JSON as `az monitor log-analytics query -o json` prints it (an array of row objects, every value a
  string), or newline-delimited JSON;
- Parquet (e.g. from a data export rule or `az ... | duckdb`).
Rows of both tables may be mixed in one file (a `union` export: told apart by `Type`, else by a
non-empty `Flag`). ASIM NetworkSession column names (SrcIpAddr, DstPortNumber, DvcAction...) are
understood too. A file that is already the output of `checks/log-analytics/*.kql` (columns Table,
Direction, ClientIp, PeIp, PePort, Flag, Rows...) is taken as it is.

DuckDB reads the files out of core with one aggregation per file (the same as the KQL), a memory
limit and a spill directory, so a 50M-row export stays well under 2 GB of RAM.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any

from auditor.confirm.flows import TargetSet
from auditor.confirm.logs import FLOW_TRACE, NETWORK_RULE, RESULT_COLUMNS, LogData, group_from_row
from auditor.errors import InputError

MEMORY_LIMIT = "1GB"
# ISO 8601 in UTC sorts as text (to within a second if fraction digits vary between rows)
_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00(:?00)?)?$")

# canonical column -> accepted names (compared case-insensitively)
ALIASES: dict[str, tuple[str, ...]] = {
    "SourceIp": ("SourceIp", "SourceIP", "SrcIpAddr", "src_ip", "SourceAddress"),
    "DestinationIp": ("DestinationIp", "DestinationIP", "DstIpAddr", "dst_ip", "DestinationAddress"),
    "SourcePort": ("SourcePort", "SrcPortNumber", "src_port"),
    "DestinationPort": ("DestinationPort", "DstPortNumber", "dst_port"),
    "Flag": ("Flag", "Flags"),
    "Action": ("Action", "DvcAction"),
    "Protocol": ("Protocol", "NetworkProtocol"),
    "TimeGenerated": (
        "TimeGenerated",
        "TimeGenerated [UTC]",
        "TimeGenerated_UTC",
        "EventStartTime [UTC]",
        "EventStartTime",
    ),
    "Type": ("Type", "TableName_"),
    "Firewall": ("_ResourceId", "ResourceId", "Resource_Id"),
}


def _q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sniff_format(path: Path) -> str:
    name = path.name.lower()
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv"  # DuckDB decompresses .csv.gz; gzipped JSON is read as JSON by extension below
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"[":
        return "json-array"
    if stripped[:1] == b"{":
        return "json-lines"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def _connect(memory_limit: str, temp_dir: str | None, threads: int | None) -> Any:
    import duckdb

    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": True})
    con.execute(f"SET memory_limit={_q(memory_limit)}")
    con.execute(f"SET temp_directory={_q(temp_dir or tempfile.gettempdir())}")
    con.execute("SET preserve_insertion_order=false")
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")  # it would write into the JSON on stdout
    if threads:
        con.execute(f"SET threads={int(threads)}")
    return con


def _source_sql(con: Any, path: Path, fmt: str) -> tuple[str, dict[str, str]]:
    """The table function reading the file, and its columns (name -> type)."""
    p = _q(str(path))
    if fmt == "parquet":
        src = f"read_parquet({p})"
    elif fmt == "csv":
        src = f"read_csv({p}, header=true, all_varchar=true, auto_detect=true, sample_size=20480)"
    else:
        jf = "'array'" if fmt == "json-array" else "'newline_delimited'"
        probe = f"read_json({p}, format={jf}, records=true, sample_size=20480, maximum_object_size=16777216)"
        cols = con.execute(f"DESCRIBE SELECT * FROM {probe}").fetchall()
        spec = "{" + ", ".join(f"{_q(c[0])}: 'VARCHAR'" for c in cols) + "}"
        src = f"read_json({p}, format={jf}, records=true, columns={spec}, maximum_object_size=16777216)"
    cols = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    return src, {c[0]: str(c[1]).upper() for c in cols}


def _resolve(columns: dict[str, str]) -> dict[str, str]:
    lower = {c.lower(): c for c in columns}
    out = {}
    for canon, names in ALIASES.items():
        for n in names:
            if n.lower() in lower:
                out[canon] = lower[n.lower()]
                break
    return out


def _time_expr(c: str | None, ctype: str) -> str:
    """Epoch seconds of a time column expression: native timestamps, ISO 8601 text, or portal text."""
    if c is None:
        return "NULL::DOUBLE"
    if "TIMESTAMP" in ctype or "DATE" in ctype:
        return f"epoch({c})"
    return (
        f"epoch(coalesce(TRY_CAST({c} AS TIMESTAMPTZ), "
        f"try_strptime(CAST({c} AS VARCHAR), '%m/%d/%Y, %I:%M:%S.%g %p'), "
        f"try_strptime(CAST({c} AS VARCHAR), '%m/%d/%Y, %I:%M:%S %p')))"
    )


def aggregation_sql(src: str, columns: dict[str, str], targets: TargetSet, iso_time: bool = False) -> str:
    """The SQL twin of checks/log-analytics/flow-trace.kql + network-rule.kql, for one file.

    One pass, one GROUP BY. Every row only pays for its table and a string IN test against the PE
    addresses; parsing ports, times, flags and the firewall id happens for matching rows only
    (DuckDB evaluates CASE branches for the selected rows only). Rows that do not match collapse
    into one "(all rows)" group per table, which gives the table totals. With `iso_time` (text times
    in ISO 8601, as Log Analytics writes them) min/max run on the text and Python parses two values.
    """
    col = _resolve(columns)
    missing = [c for c in ("SourceIp", "DestinationIp", "SourcePort", "DestinationPort") if c not in col]
    if missing:
        raise ValueError(f"no column for {', '.join(missing)} (columns: {', '.join(list(columns)[:20])})")

    def raw(name: str) -> str:
        if name not in col:
            return "NULL::VARCHAR"
        c = _ident(col[name])
        return c if columns.get(col[name], "VARCHAR").startswith("VARCHAR") else f"CAST({c} AS VARCHAR)"

    flag = f"upper(trim({raw('Flag')}))" if "Flag" in col else "NULL::VARCHAR"
    has_flag = f"coalesce({raw('Flag')}, '') NOT IN ('', ' ')" if "Flag" in col else "FALSE"
    if "Type" in col:
        t = raw("Type")
        table = (
            f"CASE WHEN {t} = '{FLOW_TRACE}' THEN '{FLOW_TRACE}' WHEN {t} = '{NETWORK_RULE}' THEN '{NETWORK_RULE}' "
            f"WHEN lower(trim({t})) = 'azfwflowtrace' THEN '{FLOW_TRACE}' "
            f"WHEN lower(trim({t})) IN ('azfwnetworkrule', 'azurediagnostics') THEN '{NETWORK_RULE}' "
            f"WHEN coalesce(trim({t}), '') = '' THEN "
            f"(CASE WHEN {has_flag} THEN '{FLOW_TRACE}' ELSE '{NETWORK_RULE}' END) END"
        )
    else:
        table = f"CASE WHEN {has_flag} THEN '{FLOW_TRACE}' ELSE '{NETWORK_RULE}' END"
    action = raw("Action") if "Action" in col else "''"
    flag_out = (
        f"CASE WHEN tbl = '{FLOW_TRACE}' THEN {flag} "
        f"WHEN {action} ILIKE 'deny%' OR {action} ILIKE 'drop%' THEN 'DENY' ELSE 'SYN' END"
    )
    tcp = (
        f"(coalesce({raw('Protocol')}, '') = '' OR upper(trim({raw('Protocol')})) = 'TCP')"
        if "Protocol" in col
        else "TRUE"
    )
    host_ips = [h[:-3] for h in sorted(targets.pe_texts()) if h.endswith("/32")]
    s_ip, d_ip = raw("SourceIp"), raw("DestinationIp")
    pe_d, pe_s = [], []
    if host_ips:
        lst = ", ".join(_q(h) for h in host_ips)
        pe_d.append(f"{d_ip} IN ({lst})")
        pe_s.append(f"{s_ip} IN ({lst})")
    for c in targets.pe_ranges:
        pe_d.append(f"ip2int(trim({d_ip})) BETWEEN {c.net} AND {c.last}")
        pe_s.append(f"ip2int(trim({s_ip})) BETWEEN {c.net} AND {c.last}")
    is_fwd = " OR ".join(pe_d) or "FALSE"
    is_rev = " OR ".join(pe_s) or "FALSE"
    port = (
        "CASE WHEN dir0 = 'forward' THEN TRY_CAST({dp} AS INTEGER) ELSE TRY_CAST({sp} AS INTEGER) END".format(
            dp=raw("DestinationPort"), sp=raw("SourcePort")
        )
    )
    cport = (
        "CASE WHEN dir0 = 'forward' THEN TRY_CAST({sp} AS INTEGER) ELSE TRY_CAST({dp} AS INTEGER) END".format(
            dp=raw("DestinationPort"), sp=raw("SourcePort")
        )
    )
    port_ok = (
        "TRUE"
        if targets.ports is None
        else (
            f"({port}) IN ({', '.join(str(p) for p in sorted(targets.ports))})" if targets.ports else "FALSE"
        )
    )
    fw = raw("Firewall") if "Firewall" in col else "''"  # lower-cased in Python, on the groups
    tcol = col.get("TimeGenerated")
    if tcol and iso_time:
        ts = _ident(tcol)
    else:
        ts = _time_expr(_ident(tcol) if tcol else None, columns.get(tcol, "") if tcol else "")
    return f"""
WITH t AS (
  SELECT {table} AS tbl,
         CASE WHEN {is_fwd} THEN 'forward' WHEN {is_rev} THEN 'reverse' END AS dir0,
         *
  FROM {src}
), m AS (
  SELECT *, CASE WHEN dir0 IS NULL OR tbl IS NULL THEN FALSE
                 ELSE (dir0 = 'forward' OR tbl = '{FLOW_TRACE}') AND {tcp} AND {port_ok} END AS hit
  FROM t WHERE tbl IS NOT NULL
)
SELECT tbl AS "Table",
       CASE WHEN hit THEN {fw} END AS "Firewall",
       CASE WHEN hit THEN dir0 ELSE '(all rows)' END AS "Direction",
       CASE WHEN hit THEN (CASE WHEN dir0 = 'forward' THEN {s_ip} ELSE {d_ip} END) END AS "ClientIp",
       CASE WHEN hit THEN (CASE WHEN dir0 = 'forward' THEN {d_ip} ELSE {s_ip} END) END AS "PeIp",
       CASE WHEN hit THEN {port} END AS "PePort",
       CASE WHEN hit THEN ({flag_out}) END AS "Flag",
       count(*) AS "Rows",
       min(CASE WHEN hit THEN {ts} END) AS "FirstSeen",
       max(CASE WHEN hit THEN {ts} END) AS "LastSeen",
       any_value(CASE WHEN hit THEN {cport} END) AS "SampleClientPort",
       approx_count_distinct(CASE WHEN hit THEN {cport} END) AS "ClientPorts"
FROM m
GROUP BY ALL
"""


def _iso_times(con: Any, src: str, columns: dict[str, str]) -> bool:
    """True when the time column is text in ISO 8601 UTC (sortable as text): judged on a sample."""
    tcol = _resolve(columns).get("TimeGenerated")
    if not tcol or not columns.get(tcol, "").startswith("VARCHAR"):
        return False
    rows = con.execute(
        f"SELECT {_ident(tcol)} FROM {src} WHERE {_ident(tcol)} IS NOT NULL LIMIT 200"
    ).fetchall()
    return bool(rows) and all(_ISO_UTC.match(str(r[0])) for r in rows)


def _is_preaggregated(columns: dict[str, str]) -> bool:
    lower = {c.lower() for c in columns}
    return {"direction", "clientip", "peip", "peport", "flag", "rows"} <= lower


def analyse_exports(
    paths: list[str | os.PathLike[str]],
    targets: TargetSet,
    *,
    memory_limit: str = MEMORY_LIMIT,
    temp_dir: str | None = None,
    threads: int | None = None,
) -> LogData:
    """Aggregate every export file; unreadable files raise InputError (exit 2)."""
    import duckdb

    names = [str(p) for p in paths]
    data = LogData(label="flow-trace export" + ("s" if len(names) > 1 else "") + f" ({', '.join(names)})")
    con = _connect(memory_limit, temp_dir, threads)
    con.execute("""CREATE OR REPLACE MACRO ip2int(a) AS
        TRY_CAST(split_part(a, '.', 1) AS BIGINT) * 16777216 + TRY_CAST(split_part(a, '.', 2) AS BIGINT) * 65536
        + TRY_CAST(split_part(a, '.', 3) AS BIGINT) * 256 + TRY_CAST(split_part(a, '.', 4) AS BIGINT)""")
    literal = Path(tempfile.mkdtemp(prefix="pathaudit-exports-"))
    try:
        for n, raw in enumerate(paths):
            path = Path(raw)
            if not path.exists():
                raise InputError(f"{raw}: flow-trace export not found")
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise InputError(f"{raw}: not a regular file (a FIFO or device): not read")
            fmt = sniff_format(path)
            # DuckDB expands *, ?, [..] and {..} in file names it reads: it is handed a link of a plain name
            # in a folder of our own, so `export[1].csv` is that file and never a pattern for others
            alias = literal / f"export{n}{''.join(path.suffixes[-2:]) or '.csv'}"
            alias.symlink_to(path.resolve())
            try:
                src, columns = _source_sql(con, alias, fmt)
                if _is_preaggregated(columns):
                    lower = {c.lower(): c for c in columns}
                    sel = ", ".join(
                        f"{_ident(lower[c.lower()])} AS {_ident(c)}"
                        if c.lower() in lower
                        else f"NULL AS {_ident(c)}"
                        for c in RESULT_COLUMNS
                    )
                    sql = f"SELECT {sel} FROM {src}"
                else:
                    sql = aggregation_sql(src, columns, targets, iso_time=_iso_times(con, src, columns))
                cur = con.execute(sql)
                cols = [d[0] for d in cur.description]
                rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
            except ValueError as exc:
                raise InputError(f"{raw}: not an Azure Firewall log export: {exc}") from exc
            except duckdb.Error as exc:  # parse/IO errors in the file
                raise InputError(f"{raw}: cannot read as {fmt}: {str(exc).splitlines()[0]}") from exc
            per_table: dict[str, int] = {}
            matched = 0
            for r in rows:
                table = str(r.get("Table") or "")
                per_table[table] = per_table.get(table, 0) + int(r.get("Rows") or 0)
                g = group_from_row(r)
                if g is not None:
                    data.groups.append(g)
                    matched += g.rows
            for table, n in per_table.items():
                data.totals[table] = data.totals.get(table, 0) + n
            data.sources.append(
                {
                    "file": str(raw),
                    "format": fmt,
                    "rows": dict(sorted(per_table.items())),
                    "matched_rows": matched,
                }
            )
    finally:
        shutil.rmtree(literal, ignore_errors=True)
        con.close()
    return data
