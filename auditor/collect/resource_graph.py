"""Resource Graph: the KQL in checks/resource-graph, run over subscription batches, every page.

https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data: at most 1000 subscriptions per request and 1000 rows per page; paging needs the
query to project `id` (each query is ordered by id so pages are stable); each page costs one unit
of a per-user quota that the service reports in `x-ms-user-quota-remaining` /
`x-ms-user-quota-resets-after`: when it reaches 0 the collector waits for the reset instead of
being throttled. A 403 on a batch is bisected down to the subscriptions that refuse, so the others
are still collected; any scope that still fails is recorded, never dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from auditor.collect.progress import Reporter, Stats
from auditor.collect.retry import CallFailed, RetryPolicy, attempts, call, parse_duration
from auditor.ids import name_of
from auditor.packaged import data_dir

DISCOVERY = "subscriptions"  # checks/resource-graph/subscriptions.kql: lists subscriptions in scope
MAX_SUBSCRIPTIONS = (
    1000  # per request (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data)
)
PAGE_SIZE = 1000  # rows per page, the service maximum (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data)
MAX_EMPTY_PAGES = 3  # empty pages in a row that still carry a $skipToken: the service is looping
MG_PREFIX = "/providers/Microsoft.Management/managementGroups/"


@dataclass(frozen=True)
class Query:
    name: str
    kql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.kql.encode("utf-8")).hexdigest()


def queries_dir() -> Path:
    return data_dir("checks") / "resource-graph"


def load_queries(directory: Path | None = None) -> dict[str, Query]:
    """Every `*.kql` file, by file stem, in name order."""
    directory = directory or queries_dir()
    return {p.stem: Query(p.stem, p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.kql"))}


@dataclass(frozen=True)
class Scope:
    """What one request covers: subscriptions, management groups, or (neither) the whole tenant."""

    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()

    def labels(self) -> list[str]:
        if self.subscriptions:
            return [f"/subscriptions/{s}" for s in self.subscriptions]
        if self.management_groups:
            return [MG_PREFIX + m for m in self.management_groups]
        return ["/ (tenant)"]

    def label(self) -> str:
        labels = self.labels()
        return labels[0] if len(labels) == 1 else f"{labels[0]} and {len(labels) - 1} more"

    def halves(self) -> list[Scope]:
        if len(self.subscriptions) > 1:
            mid = len(self.subscriptions) // 2
            return [Scope(self.subscriptions[:mid]), Scope(self.subscriptions[mid:])]
        if len(self.management_groups) > 1:
            mid = len(self.management_groups) // 2
            return [Scope((), self.management_groups[:mid]), Scope((), self.management_groups[mid:])]
        return []


def batches(subscriptions: Iterable[str], size: int = MAX_SUBSCRIPTIONS) -> list[Scope]:
    subs = list(subscriptions)
    return [Scope(tuple(subs[i : i + size])) for i in range(0, len(subs), size)]


class GraphCollector:
    def __init__(self, client: Any, policy: RetryPolicy, stats: Stats, reporter: Reporter) -> None:
        self.client = client
        self.policy = policy
        self.stats = stats
        self.reporter = reporter
        self.quota_wait = 0.0
        self.subscription_limit_hit = False

    def on_response(self, pipeline_response: Any) -> None:
        """raw_response_hook: read the quota headers of every Resource Graph response."""
        headers = pipeline_response.http_response.headers
        remaining = headers.get("x-ms-user-quota-remaining")
        if remaining is not None and remaining.strip().isdigit() and int(remaining) <= 0:
            reset = parse_duration(headers.get("x-ms-user-quota-resets-after"))
            self.quota_wait = max(self.quota_wait, reset if reset is not None else 5.0)
        if (headers.get("x-ms-tenant-subscription-limit-hit") or "").lower() == "true":
            self.subscription_limit_hit = True

    def pace(self) -> None:
        if self.quota_wait > 0:
            wait, self.quota_wait = self.quota_wait, 0.0
            self.stats.throttle_waits += 1
            self.stats.throttle_seconds += wait
            self.reporter.wait(wait, "Resource Graph quota used up until it resets")
            self.policy.sleep(wait)

    def request(self, query: Query, scope: Scope, token: str | None) -> Any:
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        self.pace()
        return self.client.resources(
            QueryRequest(
                query=query.kql,
                subscriptions=list(scope.subscriptions) or None,
                management_groups=list(scope.management_groups) or None,
                options=QueryRequestOptions(
                    skip_token=token, top=PAGE_SIZE, result_format="objectArray", allow_partial_scopes=True
                ),
            ),
            raw_response_hook=self.on_response,
        )

    def run(self, query: Query, scope: Scope, sink: Callable[[list[dict[str, Any]]], None]) -> None:
        """All pages of `query` over `scope` into `sink`; failures are recorded per scope."""
        token: str | None = None
        page = 0
        seen: set[str] = set()
        empty = 0
        while True:
            what = f"Resource Graph {query.name} {scope.label()} page {page + 1}"
            if self.policy.expired():
                self.record(
                    scope,
                    query,
                    f"the collection deadline passed before page {page + 1}: the rest of this "
                    "query's rows were not collected",
                )
                return
            try:
                response = call(
                    partial(self.request, query, scope, token), what, self.policy, self.stats, self.reporter
                )
            except CallFailed as exc:
                halves = scope.halves()
                if exc.status == 403 and halves:
                    self.reporter.warn(
                        f"{query.name}: {scope.label()} refused ({exc.error}); "
                        "retrying its scopes separately to isolate the one that refuses"
                    )
                    for half in halves:
                        self.run(query, half, sink)
                    return
                done = f"; {page} pages were collected before it" if page else ""
                self.record(scope, query, f"{exc.error} ({attempts(exc.attempts)}{done})")
                return
            page += 1
            self.stats.pages += 1
            rows = response.data
            if not isinstance(rows, list):
                self.record(
                    scope, query, f"page {page} has no `data` array of rows (got {type(rows).__name__})"
                )
                return
            self.reporter.page(query.name, scope.label(), page, len(rows), response.total_records)
            sink(rows)
            if str(response.result_truncated).lower() == "true":
                self.record(
                    scope, query, "Resource Graph truncated the result (rows beyond the first page lost)"
                )
                return
            next_token = response.skip_token
            if not next_token:
                return
            if next_token in seen or next_token == token:
                self.record(
                    scope,
                    query,
                    f"Resource Graph returned a $skipToken it had returned before (page {page}): "
                    "paging would never end",
                )
                return
            empty = empty + 1 if not rows else 0
            if empty >= MAX_EMPTY_PAGES:
                self.record(
                    scope,
                    query,
                    f"{empty} empty pages in a row, each with a $skipToken (page {page}): stopped paging",
                )
                return
            seen.add(next_token)
            token = next_token

    def record(self, scope: Scope, query: Query, error: str) -> None:
        for label in scope.labels():
            self.stats.fail(label, f"resource-graph:{query.name}", error)
        self.reporter.warn(f"{query.name}: {scope.label()}: {error}")

    def subscriptions_in(self, query: Query, scope: Scope) -> tuple[list[str], str | None]:
        """Subscription ids (and a tenant id) Resource Graph lists in a management group or tenant."""
        rows: list[dict[str, Any]] = []
        self.run(query, scope, rows.extend)
        subs, tenant = [], None
        for row in rows:
            sid = row.get("subscriptionId") or name_of(str(row.get("id", "")))
            if sid:
                subs.append(str(sid))
            tenant = tenant or row.get("tenantId")
        return subs, tenant
