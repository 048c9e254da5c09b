"""A fake Azure Resource Manager: Resource Graph, a few ARM GETs/lists and one long-running POST.

It serves an estate (Resource Graph rows, e.g. `fixtures/estates/demo-contoso/resources.json`)
the way the real services answer, so tests can drive the real azure-mgmt-* clients:

- `POST /providers/Microsoft.ResourceGraph/resources`: the rows whose type is quoted in the KQL
  (`'microsoft.network/virtualnetworks'`), from the table the KQL names (`Resources`,
  `ComputeResources` for VMSS children, `ResourceContainers` for subscriptions); a query that
  filters on `privateEndpointConnections` gets the rows that have some, except the quoted types
  (`type !in~`). Always restricted to the
  request's subscriptions or management groups, ordered by id, paged with `$skipToken`, with the
  `x-ms-user-quota-*` headers.
- `GET <collection>` (e.g. `.../firewallPolicies/p/ruleCollectionGroups`): the child rows under it,
  in ARM shape (no Resource Graph columns), paged with `nextLink` when `arm_page_size` is set.
  Rows of the types listed in `arm_only_types` are served only this way, never by Resource Graph.
- `GET <resource id>`: that row in ARM shape (`arm_overrides` can make it differ from the Graph row).
- `POST .../networkInterfaces/<nic>/effectiveRouteTable`: 202 + Location, polled until 200.

Faults (429 with or without Retry-After, 500, a response slower than the client's read timeout,
a truncated body, 403) are injected by `Fault` rules. Every request is recorded (`requests`), so a
test can check what was asked, by whom (bearer token present) and that no path named listKeys or
regenerateKey. TLS uses a self-signed certificate made at start-up; `ca_path` is its PEM file.
"""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from fakeazure.tls import LoopbackHTTPS

# Types Resource Graph keeps in the ComputeResources table (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data).
COMPUTE_RESOURCES_TYPES = frozenset(
    {
        "microsoft.compute/virtualmachinescalesets/virtualmachines",
        "microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces",
        "microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces/ipconfigurations/publicipaddresses",
    }
)
# Children whose Resource Graph coverage is unconfirmed (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data; the demo estate's
# README): by default the fake serves them through ARM lists only.
DEFAULT_ARM_ONLY = frozenset(
    {
        "microsoft.network/firewallpolicies/rulecollectiongroups",
        "microsoft.network/virtualhubs/routingintent",
        "microsoft.network/virtualhubs/hubvirtualnetworkconnections",
        "microsoft.network/virtualhubs/hubroutetables",
    }
)
ARG_COLUMNS = ("tenantId", "resourceGroup", "subscriptionId")
ARM_KEYS = (
    "id",
    "name",
    "type",
    "location",
    "kind",
    "sku",
    "plan",
    "identity",
    "zones",
    "extendedLocation",
    "managedBy",
    "tags",
    "etag",
    "properties",
)
GRAPH_PATH = "/providers/microsoft.resourcegraph/resources"
DEFAULT_EFFECTIVE_ROUTES = [
    {
        "source": "Default",
        "state": "Active",
        "addressPrefix": ["10.0.0.0/16"],
        "nextHopType": "VnetLocal",
        "nextHopIpAddress": [],
    },
    {
        "source": "Default",
        "state": "Active",
        "addressPrefix": ["0.0.0.0/0"],
        "nextHopType": "Internet",
        "nextHopIpAddress": [],
    },
]


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of an estate file: a JSON array, or a Resource Graph response object with `data`."""
    doc = orjson.loads(Path(path).read_bytes())
    if isinstance(doc, dict):
        doc = doc.get("data", doc.get("value", []))
    return [r for r in doc if isinstance(r, dict) and isinstance(r.get("id"), str)]


def subscription_of(rid: str) -> str:
    parts = rid.split("/")
    return parts[2].lower() if len(parts) > 2 and parts[1].lower() == "subscriptions" else ""


def arm_type(rid: str) -> str:
    """ARM-cased type from an id: `.../providers/Microsoft.Network/firewallPolicies/p/ruleCollectionGroups/g`."""
    _, _, tail = rid.rpartition("/providers/")
    parts = tail.strip("/").split("/")
    return "/".join([parts[0], *parts[1::2]])


def arm_shape(row: dict[str, Any]) -> dict[str, Any]:
    """What an ARM GET returns for a Resource Graph row: no Graph columns, no empty envelope keys."""
    out = {k: row[k] for k in ARM_KEYS if k in row and row[k] not in (None, "")}
    out["type"] = arm_type(row["id"])
    return out


@dataclass
class Fault:
    """Inject `kind` into matching requests, `times` times (None: every time).

    kind: "429" (with `retry_after` header unless None), "500", "timeout" (answer after `delay`
    seconds), "truncate" (half the body, then close), "403", "body" (200 with `body` instead).
    Match on any of: `path` (substring of the lower-cased path), `query` (substring of the KQL),
    `subscription` (a Resource Graph request that names it, or an ARM path under it),
    `page` (Resource Graph page index, 0-based), `method`.
    """

    kind: str
    times: int | None = 1
    path: str | None = None
    query: str | None = None
    subscription: str | None = None
    page: int | None = None
    method: str | None = None
    retry_after: str | None = "1"
    delay: float = 2.0
    body: Any = None
    hits: int = 0

    def matches(
        self, method: str, path: str, kql: str | None, scope: set[str] | None, page: int | None
    ) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method and self.method != method:
            return False
        if self.path and self.path.lower() not in path.lower():
            return False
        if self.query is not None and (kql is None or self.query not in kql):
            return False
        if self.subscription is not None:
            sub = self.subscription.lower()
            if scope is not None:
                if sub not in scope:
                    return False
            elif subscription_of(path) != sub:
                return False
        return not (self.page is not None and page != self.page)


@dataclass
class Recorded:
    method: str
    path: str
    host: str
    client: str
    authorized: bool
    body: Any = None
    status: int = 0


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeAzure:
    def __init__(
        self,
        rows: Iterable[dict[str, Any]],
        *,
        tenant_id: str | None = None,
        subscriptions: Iterable[str] | None = None,
        management_groups: dict[str, Iterable[str]] | None = None,
        page_size: int = 1000,
        arm_page_size: int | None = None,
        arm_only_types: Iterable[str] = DEFAULT_ARM_ONLY,
        arm_overrides: dict[str, dict[str, Any]] | None = None,
        quota: int | None = None,
        quota_resets_after: str = "00:00:01",
        effective_routes: dict[str, list[dict[str, Any]]] | None = None,
        lro_pending_polls: int = 1,
        faults: Iterable[Fault] = (),
    ) -> None:
        self.rows = sorted(rows, key=lambda r: r["id"].lower())
        self.by_id = {r["id"].lower(): r for r in self.rows}
        self.tenant_id = tenant_id or next(
            (r["tenantId"] for r in self.rows if r.get("tenantId")), "8b1e4f2a-6c3d-4e5f-9a7b-0c1d2e3f4a5b"
        )
        subs = {subscription_of(r["id"]) for r in self.rows} | {s.lower() for s in subscriptions or ()}
        self.subscriptions = sorted(s for s in subs if s)
        self.management_groups = {
            k.lower(): {s.lower() for s in v} for k, v in (management_groups or {}).items()
        }
        self.page_size = page_size
        self.arm_page_size = arm_page_size
        self.arm_only = {t.lower() for t in arm_only_types}
        self.arm_overrides = {k.lower(): v for k, v in (arm_overrides or {}).items()}
        self.quota = quota
        self.quota_resets_after = quota_resets_after
        self.quota_used = 0
        self.effective_routes = {k.lower(): v for k, v in (effective_routes or {}).items()}
        self.lro_pending_polls = lro_pending_polls
        self.faults = list(faults)
        self.requests: list[Recorded] = []
        self.operations: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._https = LoopbackHTTPS("fakeazure")
        self.ca_path = self._https.ca_path

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeAzure:
        fake = self

        class Handler(FakeHandler):
            pass

        Handler.fake = fake
        self._https.start(Handler)
        return self

    def stop(self) -> None:
        self._https.stop()

    def __enter__(self) -> FakeAzure:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._https.url

    # ------------------------------------------------------------------ what tests check
    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def graph_requests(self) -> list[Recorded]:
        return [r for r in self.requests if urlsplit(r.path).path.lower() == GRAPH_PATH]

    # ------------------------------------------------------------------ dispatch
    def take_fault(
        self, method: str, path: str, kql: str | None, scope: set[str] | None, page: int | None
    ) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path, kql, scope, page):
                    fault.hits += 1
                    return fault
        return None

    def handle(self, method: str, target: str, body: Any) -> tuple[Reply, Fault | None]:
        parts = urlsplit(target)
        path = parts.path
        lower = path.lower()
        if "listkeys" in lower or "regeneratekey" in lower:
            return error(403, "ForbiddenByTest", "the fake refuses key operations"), None
        if lower == GRAPH_PATH and method == "POST":
            return self.resource_graph(method, path, body)
        fault = self.take_fault(method, path, None, None, None)
        if fault and fault.kind in ("403", "429", "500", "body"):
            return fault_reply(fault), None
        if method == "POST" and lower.endswith("/effectiveroutetable"):
            return self.start_effective_routes(path[: -len("/effectiveRouteTable")]), fault
        if method == "GET" and lower.startswith("/fakeoperations/"):
            return self.poll_operation(lower.rsplit("/", 1)[-1]), fault
        if method == "GET":
            return self.arm_get(path, parse_qs(parts.query)), fault
        return error(404, "NotFound", f"no fake for {method} {path}"), fault

    def resource_graph(self, method: str, path: str, req: Any) -> tuple[Reply, Fault | None]:
        if not isinstance(req, dict) or not isinstance(req.get("query"), str):
            return error(400, "BadRequest", "query missing"), None
        kql = req["query"]
        options = req.get("options") or {}
        subs = req.get("subscriptions")
        mgs = req.get("managementGroups")
        if subs:
            scope = {s.lower() for s in subs}
        elif mgs:
            scope = set()
            for mg in mgs:
                if mg.lower() not in self.management_groups:
                    return error(404, "ManagementGroupNotFound", f"management group {mg} not found"), None
                scope |= self.management_groups[mg.lower()]
        else:
            scope = set(self.subscriptions)
        token = options.get("$skipToken")
        offset = decode_token(token) if token else 0
        page_size = min(int(options.get("$top") or 100), self.page_size)
        page = offset // page_size if page_size else 0
        # a `subscription` fault hits requests that name it; tenant and management group scopes leave
        # out what the caller cannot read (allowPartialScopes), as the service does
        fault = self.take_fault(method, path, kql, scope if subs else None, page)
        if fault and fault.kind in ("403", "429", "500", "body"):
            return fault_reply(fault), None
        rows = self.query_rows(kql, scope)
        data = rows[offset : offset + page_size]
        out: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(data),
            "data": data,
            "facets": [],
            "resultTruncated": "false",
        }
        if offset + page_size < len(rows):
            out["$skipToken"] = encode_token(offset + page_size)
        headers = {}
        if self.quota is not None:
            with self._lock:
                self.quota_used += 1
                remaining = max(self.quota - self.quota_used, 0)
                if remaining == 0:
                    self.quota_used = 0
            headers = {
                "x-ms-user-quota-remaining": str(remaining),
                "x-ms-user-quota-resets-after": self.quota_resets_after,
            }
        return Reply(200, out, headers), fault

    def query_rows(self, kql: str, scope: set[str]) -> list[dict[str, Any]]:
        key = hashlib.sha256(orjson.dumps([kql, sorted(scope)])).hexdigest()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        code = "\n".join(line for line in kql.splitlines() if not line.strip().startswith("//"))
        table = (code.split() or [""])[0].lower()
        types = {t.lower() for t in re.findall(r"'([A-Za-z0-9.]+/[A-Za-z0-9./]+)'", code)}
        if table == "resourcecontainers":
            rows = (
                [
                    {
                        "id": f"/subscriptions/{s}",
                        "name": f"sub-{s[:8]}",
                        "type": "microsoft.resources/subscriptions",
                        "tenantId": self.tenant_id,
                        "subscriptionId": s,
                        "properties": {"state": "Enabled"},
                    }
                    for s in sorted(scope)
                    if s in self.subscriptions
                ]
                if "microsoft.resources/subscriptions" in types
                else []
            )
        elif "privateendpointconnections" in code.lower():
            # `where array_length(properties.privateEndpointConnections) > 0 | where type !in~ (...)`
            rows = [
                r
                for r in self.rows
                if (t := r["type"].lower()) not in types
                and t not in COMPUTE_RESOURCES_TYPES
                and t not in self.arm_only
                and subscription_of(r["id"]) in scope
                and (r.get("properties") or {}).get("privateEndpointConnections")
            ]
        else:
            compute = table == "computeresources"
            rows = [
                r
                for r in self.rows
                if (t := r["type"].lower()) in types
                and (t in COMPUTE_RESOURCES_TYPES) == compute
                and t not in self.arm_only
                and subscription_of(r["id"]) in scope
            ]
        with self._lock:
            self._cache[key] = rows
        return rows

    def arm_get(self, path: str, query: dict[str, list[str]]) -> Reply:
        key = path.rstrip("/").lower()
        row = self.by_id.get(key)
        if row is not None:
            return Reply(200, {**arm_shape(row), **self.arm_overrides.get(key, {})})
        # a collection (e.g. .../firewallPolicies/p/ruleCollectionGroups): the rows one segment below it
        depth = key.count("/") + 1
        children = [
            arm_shape(r)
            for r in self.rows
            if r["id"].lower().startswith(key + "/") and r["id"].count("/") == depth
        ]
        if not children and subscription_of(path) not in self.subscriptions:
            return error(404, "SubscriptionNotFound", f"subscription of {path} not found")
        start = int((query.get("$skiptoken") or ["0"])[0])
        if self.arm_page_size:
            page = children[start : start + self.arm_page_size]
            body: dict[str, Any] = {"value": page}
            if start + self.arm_page_size < len(children):
                version = (query.get("api-version") or [""])[0]
                body["nextLink"] = (
                    f"{self.url}{path}?api-version={version}&$skiptoken={start + self.arm_page_size}"
                )
            return Reply(200, body)
        return Reply(200, {"value": children})

    def start_effective_routes(self, nic_id: str) -> Reply:
        if nic_id.lower() not in self.by_id:
            return error(404, "NotFound", f"network interface {nic_id} not found")
        with self._lock:
            op = f"op{len(self.operations) + 1}"
            self.operations[op] = {"nic": nic_id.lower(), "polls": 0}
        return Reply(202, None, {"Location": f"{self.url}/fakeoperations/{op}?api-version=2026-03-01"})

    def poll_operation(self, op: str) -> Reply:
        with self._lock:
            state = self.operations.get(op)
            if state is None:
                return error(404, "NotFound", f"no operation {op}")
            state["polls"] += 1
            pending = state["polls"] <= self.lro_pending_polls
        if pending:
            return Reply(202, None, {"Location": f"{self.url}/fakeoperations/{op}?api-version=2026-03-01"})
        routes = self.effective_routes.get(state["nic"], DEFAULT_EFFECTIVE_ROUTES)
        return Reply(200, {"value": routes})


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    fake: FakeAzure

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.serve("GET")

    def do_POST(self) -> None:
        self.serve("POST")

    def do_PUT(self) -> None:
        self.serve("PUT")

    def do_DELETE(self) -> None:
        self.serve("DELETE")

    def serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        record = Recorded(
            method,
            self.path,
            self.headers.get("Host", ""),
            self.client_address[0],
            (self.headers.get("Authorization") or "").startswith("Bearer "),
            body,
        )
        with self.fake._lock:
            self.fake.requests.append(record)
        if not record.authorized:
            reply, fault = error(401, "AuthenticationFailed", "no bearer token"), None
        else:
            reply, fault = self.fake.handle(method, self.path, body)
        record.status = reply.status
        payload = orjson.dumps(reply.body) if reply.body is not None else b""
        if fault and fault.kind == "timeout":
            time.sleep(fault.delay)
        try:
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-ms-request-id", f"fake-{len(self.fake.requests)}")
            if fault and fault.kind == "truncate":
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True


# ---------------------------------------------------------------------- helpers


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}}, headers or {})


def fault_reply(fault: Fault) -> Reply:
    if fault.kind == "body":
        return Reply(200, fault.body)
    if fault.kind == "429":
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        return error(429, "RateLimiting", "too many requests (fake)", headers)
    if fault.kind == "500":
        return error(500, "InternalServerError", "fake server error")
    return error(
        403,
        "AuthorizationFailed",
        "The client does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read' (fake)",
    )


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset})).decode()


def decode_token(token: str) -> int:
    return int(orjson.loads(base64.urlsafe_b64decode(token.encode()))["o"])
