"""Azure Firewall logs straight from a Log Analytics workspace, through azure-monitor-query.

The KQL lives in `checks/log-analytics/` (readable, runnable by users); pathaudit only rewrites its
three `let` parameter lines with the flows it is confirming. The queries aggregate server-side, so
only per-flow summaries cross the network, never raw rows.

LogsQueryClient pitfalls handled here (stack-notes): `timespan` is required; a partial failure comes
back as `LogsQueryPartialResult` (data plus an error) and is reported, never swallowed; with an
overridden endpoint (sovereign clouds, tests) the token audience must be passed explicitly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auditor.confirm.flows import TargetSet
from auditor.confirm.logs import FLOW_TRACE, NETWORK_RULE, LogData, group_from_row, to_int
from auditor.errors import UsageError
from auditor.packaged import data_dir

LOGS_ENDPOINTS = {
    "AzureCloud": "https://api.loganalytics.io",
    "AzureUSGovernment": "https://api.loganalytics.us",
    "AzureChinaCloud": "https://api.loganalytics.azure.cn",
}
QUERIES = (("flow-trace", "flow-trace.kql", FLOW_TRACE), ("network-rule", "network-rule.kql", NETWORK_RULE))
DEFAULT_TIMESPAN = "P1D"
SERVER_TIMEOUT = 300

_LET = re.compile(r"^let (PrivateEndpoints|SourceRanges|Ports) = dynamic\(\[.*?\]\);", re.MULTILINE)
_DURATION = re.compile(
    r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE
)


def kql_path(filename: str) -> Path:
    return data_dir("checks") / "log-analytics" / filename


def render_query(filename: str, targets: TargetSet) -> str:
    """The KQL file with its `let` lines set to the targets' PEs, client ranges and ports."""
    text = kql_path(filename).read_text(encoding="utf-8")
    values = {
        "PrivateEndpoints": targets.pe_texts(),
        "SourceRanges": [str(c) for c in targets.client_ranges] or ["0.0.0.0/0"],
        "Ports": sorted(targets.ports) if targets.ports is not None else [],
    }

    def sub(m: re.Match[str]) -> str:
        return f"let {m.group(1)} = dynamic({json.dumps(values[m.group(1)])});"

    rendered, n = _LET.subn(sub, text)
    if n != 3:
        raise UsageError(
            f"{kql_path(filename)}: expected the three `let` parameter lines "
            "(PrivateEndpoints, SourceRanges, Ports)"
        )
    return rendered


def parse_timespan(text: str) -> timedelta | tuple[datetime, datetime] | tuple[datetime, timedelta]:
    """ISO 8601 duration (P1D, PT6H, P1DT12H, P2W) or interval (start/end, start/duration)."""
    s = text.strip()
    if "/" in s:
        a, _, b = s.partition("/")
        start = _parse_dt(a)
        if b.upper().startswith("P"):
            return (start, _parse_duration(b))
        return (start, _parse_dt(b))
    return _parse_duration(s)


def _parse_duration(s: str) -> timedelta:
    m = _DURATION.match(s.strip())
    if not m or not any(m.groups()):
        raise UsageError(
            f"--timespan {s!r}: expected an ISO 8601 duration such as P1D, PT6H or P7DT12H, "
            "or an interval START/END"
        )
    w, d, h, mi, sec = m.groups()
    td = timedelta(
        weeks=int(w or 0), days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0), seconds=float(sec or 0)
    )
    if td.total_seconds() <= 0:
        raise UsageError(f"--timespan {s!r} is empty")
    return td


def _parse_dt(s: str) -> datetime:
    try:
        return datetime.fromisoformat(s.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"--timespan: {s!r} is not an ISO 8601 date-time") from exc


def resolve_logs_endpoint(cloud: str, endpoint: str | None, audience: str | None) -> tuple[str, str]:
    """(endpoint, audience). Overridden endpoints must be https; the audience defaults to its origin."""
    if not endpoint:
        if cloud not in LOGS_ENDPOINTS:
            raise UsageError(f"unknown cloud {cloud!r} (choose from {', '.join(LOGS_ENDPOINTS)})")
        url = LOGS_ENDPOINTS[cloud]
        return url, audience or url
    parts = urlsplit(endpoint.strip())
    if parts.scheme.lower() != "https" or not parts.netloc:
        raise UsageError(
            f"--logs-endpoint must be an https:// URL, got {endpoint!r} "
            "(bearer tokens are never sent over plain http)"
        )
    url = f"https://{parts.netloc}{parts.path.rstrip('/')}"
    return url, audience or f"https://{parts.netloc}"


def make_client(credential: Any, endpoint: str, audience: str, **kwargs: Any) -> Any:
    from azure.monitor.query import LogsQueryClient

    return LogsQueryClient(credential, endpoint=endpoint, audience=audience, **kwargs)


def open_client(
    credential: str,
    token_env: str,
    cloud: str = "AzureCloud",
    endpoint: str | None = None,
    audience: str | None = None,
) -> Any:
    """LogsQueryClient for the CLI: credentials as for `collect` (auditor.collect.credentials)."""
    from auditor.collect.credentials import CLOUDS, Endpoint, ca_bundle, make_credential

    url, aud = resolve_logs_endpoint(cloud, endpoint, audience)
    authority = CLOUDS[cloud].authority if cloud in CLOUDS else CLOUDS["AzureCloud"].authority
    cred = make_credential(
        credential, endpoint=Endpoint(url, aud.rstrip("/") + "/.default", authority), token_env=token_env
    )
    return make_client(cred, url, aud, connection_verify=ca_bundle())


def _rows(tables: list[Any]) -> list[dict[str, Any]]:
    out = []
    for t in tables or []:
        cols = list(t.columns)
        for row in t.rows:
            out.append(dict(zip(cols, list(row), strict=False)))
    return out


def _innermost(obj: Any) -> str | None:
    # the SDK hands back its own Mapping types, not dicts
    while isinstance(obj, Mapping) and isinstance(obj.get("innererror"), Mapping):
        obj = obj["innererror"]
    return obj.get("message") if isinstance(obj, Mapping) else None


def _error_text(err: Any) -> str:
    """`code: message`, plus the innermost messages of `details` (where the useful reason hides)."""
    if err is None:
        return "unknown error"
    code = getattr(err, "code", None) or ""
    msg = getattr(err, "message", None) or str(err)
    text = f"{code}: {msg}" if code else str(msg)
    extra = [
        m
        for m in (
            _innermost(d) or (d.get("message") if isinstance(d, Mapping) else None)
            for d in (getattr(err, "details", None) or [])
        )
        if m and m not in text
    ]
    return text + (" (" + "; ".join(dict.fromkeys(extra)) + ")" if extra else "")


def _missing_table(text: str, table: str) -> bool:
    t = text.lower()
    return table.lower() in t and ("resolve" in t or "not found" in t or "does not exist" in t)


def query_workspace(
    client: Any,
    workspace: str,
    targets: TargetSet,
    timespan_text: str = DEFAULT_TIMESPAN,
    server_timeout: int = SERVER_TIMEOUT,
) -> LogData:
    """Run both queries; every outcome (success, partial, error, missing table) lands in the LogData."""
    from azure.core.exceptions import AzureError, HttpResponseError
    from azure.monitor.query import LogsQueryPartialResult

    timespan = parse_timespan(timespan_text)
    data = LogData(label=f"workspace {workspace} ({timespan_text})")
    flowtrace_ok = False
    for name, filename, table in QUERIES:
        kql = render_query(filename, targets)
        source: dict[str, Any] = {
            "query": name,
            "file": f"checks/log-analytics/{filename}",
            "table": table,
            "status": "success",
            "kql": kql,
        }
        try:
            result = client.query_workspace(workspace, kql, timespan=timespan, server_timeout=server_timeout)
        except HttpResponseError as exc:
            text = (
                _error_text(getattr(exc, "model", None)) if getattr(exc, "model", None) else str(exc.message)
            )
            status = getattr(exc, "status_code", None)
            if _missing_table(text + " " + str(exc), table):
                source["status"] = "table missing"
                data.totals[table] = 0
                data.notes.append(f"{table} does not exist in workspace {workspace}")
                if table == FLOW_TRACE:
                    flowtrace_ok = True  # known: zero rows
            else:
                source["status"] = "error"
                source["error"] = f"HTTP {status}: {text}" if status else text
                data.errors.append(f"{name} query failed: {source['error']}")
            data.sources.append(source)
            continue
        except AzureError as exc:
            source["status"] = "error"
            source["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            data.errors.append(f"{name} query failed: {source['error']}")
            data.sources.append(source)
            continue
        if isinstance(result, LogsQueryPartialResult):
            tables = result.partial_data
            source["status"] = "partial"
            source["error"] = _error_text(result.partial_error)
            data.partial = True
            data.errors.append(f"{name} query returned partial results: {source['error']}")
        else:
            tables = result.tables
        rows = _rows(tables)
        matched = 0
        total = 0
        for r in rows:
            g = group_from_row(r)
            if g is None:
                total += to_int(r.get("Rows")) or 0
            else:
                data.groups.append(g)
                matched += g.rows
        data.totals[table] = data.totals.get(table, 0) + total
        source["rows"] = {"matching": matched, "all": total}
        if table == FLOW_TRACE:
            flowtrace_ok = True
        data.sources.append(source)
    data.flowtrace_known = flowtrace_ok
    return data
