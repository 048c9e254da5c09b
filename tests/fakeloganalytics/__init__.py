"""A fake Log Analytics query endpoint on 127.0.0.1 (https), for driving the real LogsQueryClient.

Serves `POST /v1/workspaces/{id}/query` with the Log Analytics response shape
`{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}`.
It does not run KQL: it reads the three `let` parameter lines pathaudit writes into
`checks/log-analytics/*.kql` (PrivateEndpoints, SourceRanges, Ports) and the table the query names,
and aggregates its raw rows the way the query would (Table, Firewall, Direction, ClientIp, PeIp,
PePort, Flag, Rows, FirstSeen, LastSeen, SampleClientPort, ClientPorts, plus the "(all rows)" row).

Per workspace id, a `Workspace` says what to answer: its raw rows (e.g. a fixtures/flowlogs CSV),
and `mode`: "success", "partial" (tables plus an `error` object), "error" (HTTP `status` with an
error body), or "missing-table" (400 SemanticError naming the table, as when flow trace was never
enabled). Every request is recorded (path, headers, JSON body).
"""

from __future__ import annotations

import csv
import ipaddress
import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from fakeazure.tls import LoopbackHTTPS

COLUMNS = [
    ("Table", "string"),
    ("Firewall", "string"),
    ("Direction", "string"),
    ("ClientIp", "string"),
    ("PeIp", "string"),
    ("PePort", "int"),
    ("Flag", "string"),
    ("Rows", "long"),
    ("FirstSeen", "datetime"),
    ("LastSeen", "datetime"),
    ("SampleClientPort", "int"),
    ("ClientPorts", "long"),
]
_LET = re.compile(r"^let (PrivateEndpoints|SourceRanges|Ports) = dynamic\((\[.*?\])\);", re.MULTILINE)
_TABLE = re.compile(r"^let Matching = (\w+)", re.MULTILINE)


def load_csv_rows(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass
class Workspace:
    rows: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "success"  # success | partial | error | missing-table
    status: int = 400  # for mode "error"
    missing: tuple[str, ...] = ("AZFWFlowTrace",)  # for mode "missing-table"


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def query(self) -> str:
        return str(self.body.get("query", ""))


def _in_any(ip: str, nets: list[ipaddress.IPv4Network]) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(a in n for n in nets)


def aggregate(query: str, rows: list[dict[str, Any]]) -> list[list[Any]]:
    """What the pathaudit KQL returns for these raw rows (only the parts pathaudit relies on)."""
    params = {m.group(1): json.loads(m.group(2)) for m in _LET.finditer(query)}
    table = _TABLE.search(query).group(1)
    pes = [ipaddress.ip_network(p, strict=False) for p in params["PrivateEndpoints"]]
    clients = [ipaddress.ip_network(p, strict=False) for p in params["SourceRanges"]]
    ports = set(params["Ports"])
    groups: dict[tuple, dict[str, Any]] = {}
    total = 0
    first_all = last_all = None
    for r in rows:
        if r.get("Type", table) != table:
            continue
        total += 1
        t = r["TimeGenerated"]
        first_all = t if first_all is None or t < first_all else first_all
        last_all = t if last_all is None or t > last_all else last_all
        if r.get("Protocol", "TCP").upper() not in ("TCP", ""):
            continue
        if _in_any(r["DestinationIp"], pes):
            d = "forward"
        elif table == "AZFWFlowTrace" and _in_any(r["SourceIp"], pes):
            d = "reverse"
        else:
            continue
        client, pe = (
            (r["SourceIp"], r["DestinationIp"]) if d == "forward" else (r["DestinationIp"], r["SourceIp"])
        )
        pe_port = int(r["DestinationPort"] if d == "forward" else r["SourcePort"])
        c_port = int(r["SourcePort"] if d == "forward" else r["DestinationPort"])
        if ports and pe_port not in ports:
            continue
        if not _in_any(client, clients):
            continue
        if table == "AZFWFlowTrace":
            flag = r.get("Flag", "").upper()
        else:
            flag = "DENY" if r.get("Action", "").lower() == "deny" else "SYN"
        key = (table, r.get("_ResourceId", "").lower(), d, client, pe, pe_port, flag)
        g = groups.setdefault(key, {"rows": 0, "first": t, "last": t, "ports": set(), "sample": c_port})
        g["rows"] += 1
        g["first"] = min(g["first"], t)
        g["last"] = max(g["last"], t)
        g["ports"].add(c_port)
    out = [
        [*k, g["rows"], g["first"], g["last"], g["sample"], len(g["ports"])]
        for k, g in sorted(groups.items())
    ]
    out.append([table, None, "(all rows)", None, None, None, None, total, first_all, last_all, None, None])
    return out


class FakeLogAnalytics:
    def __init__(self, workspaces: dict[str, Workspace]) -> None:
        self.workspaces = workspaces
        self.requests: list[Recorded] = []
        self._https = LoopbackHTTPS("fakeloganalytics")
        self.ca_path = self._https.ca_path

    @property
    def url(self) -> str:
        return self._https.url

    def start(self) -> FakeLogAnalytics:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                fake.requests.append(
                    Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status, reply = fake.answer(self.path, body)
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._https.start(Handler)
        return self

    def stop(self) -> None:
        self._https.stop()

    def __enter__(self) -> FakeLogAnalytics:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        m = re.fullmatch(r"/v1/workspaces/([^/]+)/query", path.split("?")[0])
        if not m:
            return 404, {"error": {"code": "PathNotFoundError", "message": f"no such path {path}"}}
        ws = self.workspaces.get(m.group(1))
        if ws is None:
            return 404, {
                "error": {"code": "WorkspaceNotFoundError", "message": f"workspace {m.group(1)} not found"}
            }
        query = str(body.get("query", ""))
        table_m = _TABLE.search(query)
        table = table_m.group(1) if table_m else "?"
        if ws.mode == "error":
            code = "BadArgumentError" if ws.status == 400 else "InternalServerError"
            return ws.status, {
                "error": {
                    "code": code,
                    "message": "The request had some invalid properties",
                    "innererror": {
                        "code": "SyntaxError",
                        "message": "A recognition error occurred in the query.",
                    },
                }
            }
        if ws.mode == "missing-table" and table in ws.missing:
            return 400, {
                "error": {
                    "code": "BadArgumentError",
                    "message": "The request had some invalid properties",
                    "innererror": {
                        "code": "SemanticError",
                        "message": "A semantic error occurred.",
                        "innererror": {
                            "code": "SEM0100",
                            "message": "'where' operator: Failed to resolve table "
                            f"or column expression named '{table}'",
                        },
                    },
                }
            }
        rows = aggregate(query, ws.rows)
        reply: dict[str, Any] = {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": n, "type": t} for n, t in COLUMNS],
                    "rows": rows,
                }
            ]
        }
        if ws.mode == "partial":
            reply["error"] = {
                "code": "PartialError",
                "message": "There were some errors when processing your query.",
                "details": [
                    {
                        "code": "EngineError",
                        "message": "Something went wrong processing your query on the server.",
                        "innererror": {"code": "-2133196797", "message": "Query exceeded the memory limit"},
                    }
                ],
            }
        return 200, reply
