"""Live collection: Resource Graph + ARM extras -> a `pathaudit/snapshot@1` document.

`collect` is what `pathaudit collect` and `pathaudit audit --live` call. Scope: the subscriptions
given, plus every subscription Resource Graph lists under the management groups given, or, when
neither is given, every subscription the identity can see in the tenant. Resources are then read
per batch of at most 1000 subscriptions, one KQL file per resource family.

Read-only by construction: Resource Graph queries and ARM GETs (plus the read-only effective-route
POST); no key listing, no writes. Failures never vanish: they land in `coverage.failed`, which makes
an audit of the snapshot exit 3.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.collect.credentials import DEFAULT_TOKEN_ENV, ca_bundle, make_credential, resolve_endpoint
from auditor.collect.progress import Reporter, Stats, make_reporter, summary_lines
from auditor.collect.retry import RetryPolicy
from auditor.errors import UsageError

SUBSCRIPTION_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class CollectOptions:
    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()
    tenant: str | None = None
    credential: str = "default"
    token_env: str = DEFAULT_TOKEN_ENV
    cloud: str = "AzureCloud"
    arm_endpoint: str | None = None
    effective_routes: int = 0
    fresh_accounts: bool = False
    request_timeout: float = 60.0
    poll_interval: float = 5.0
    attempts: int = 6
    sleep: Callable[[float], None] = time.sleep
    # every call of one collection ends by then (seconds); what is left is a coverage gap, never a hang
    deadline: float = 3600.0  # PATHAUDIT_COLLECT_DEADLINE overrides it (from_cli)
    queries_dir: Path | None = None
    verify: str | bool | None = None  # None: REQUESTS_CA_BUNDLE / SSL_CERT_FILE / system store

    @classmethod
    def from_cli(cls, **values: Any) -> CollectOptions:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__ and v is not None}
        for key in ("subscriptions", "management_groups"):
            if key in known:
                known[key] = tuple(known[key])
        raw = os.environ.get("PATHAUDIT_COLLECT_DEADLINE", "").strip()
        if raw and "deadline" not in known:
            try:
                known["deadline"] = float(raw)
            except ValueError:
                known["deadline"] = -1.0
            if not known["deadline"] >= 0:  # also NaN
                raise UsageError(
                    f"PATHAUDIT_COLLECT_DEADLINE={raw!r}: expected a number of seconds (0: no deadline)"
                )
        return cls(**known)


@dataclass
class CollectResult:
    snapshot: dict[str, Any]
    stats: Stats = field(repr=False)
    path: Path | None = None
    tmpdir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def complete(self) -> bool:
        return bool(self.snapshot["coverage"]["complete"])

    @property
    def exit_code(self) -> int:
        """README, exit codes: 3 when coverage is incomplete, else 0."""
        return 0 if self.complete else 3

    def summary(self) -> list[str]:
        kept = str(self.path) if self.path and self.tmpdir is None else None
        return summary_lines(self.stats, self.snapshot, kept)

    def cleanup(self) -> None:
        if self.tmpdir is not None:
            self.tmpdir.cleanup()


def unique(values: tuple[str, ...]) -> list[str]:
    seen: dict[str, str] = {}
    for v in values:
        v = v.strip()
        if v and v.lower() not in seen:
            seen[v.lower()] = v
    return list(seen.values())


def quiet_sdk_logging() -> None:
    """azure-core logs warnings such as 'Incomplete download.' that pathaudit reports itself."""
    if not os.environ.get("PATHAUDIT_DEBUG"):
        azure = logging.getLogger("azure")
        if not azure.handlers:
            azure.addHandler(logging.NullHandler())
        azure.propagate = False


def collect(
    options: CollectOptions, reporter: Reporter | None = None, credential: Any = None
) -> CollectResult:
    """Collect a snapshot. Raises UsageError / CollectAborted (exit 2) when nothing can be collected."""
    from auditor.collect.arm_extras import ArmExtras
    from auditor.collect.clients import Clients
    from auditor.collect.resource_graph import DISCOVERY, GraphCollector, Query, Scope, batches, load_queries
    from auditor.collect.snapshot import Inventory, build_snapshot, utc_now

    subscriptions = unique(options.subscriptions)
    bad = [s for s in subscriptions if not SUBSCRIPTION_ID.match(s)]
    if bad:
        raise UsageError(f"--subscription takes subscription ids (GUIDs); not one: {', '.join(bad)}")
    management_groups = unique(options.management_groups)
    if options.effective_routes < 0:
        raise UsageError("--effective-routes takes a number of NICs, 0 or more")
    endpoint = resolve_endpoint(options.cloud, options.arm_endpoint)
    queries = load_queries(options.queries_dir)
    if DISCOVERY not in queries or len(queries) < 2:
        raise UsageError(
            f"Resource Graph queries missing in {options.queries_dir or 'checks/resource-graph'}"
        )
    credential = credential or make_credential(
        options.credential, endpoint=endpoint, tenant=options.tenant, token_env=options.token_env
    )
    verify = options.verify if options.verify is not None else ca_bundle()
    quiet_sdk_logging()

    reporter = reporter or make_reporter()
    stats = Stats()
    policy = RetryPolicy(
        attempts=options.attempts,
        sleep=options.sleep,
        deadline=time.monotonic() + options.deadline if options.deadline else None,
    )
    clients = Clients(credential, endpoint, verify, options.request_timeout, options.poll_interval)
    collected_at = utc_now()
    inventory = Inventory(stats)
    used: dict[str, Query] = {}
    tenant = options.tenant
    try:
        graph = GraphCollector(clients.graph(), policy, stats, reporter)
        reporter.phase(f"Resource Graph at {endpoint.url} ({options.credential} credential)")
        # scope: explicit subscriptions + those under the management groups, else the whole tenant
        scopes = [Scope((), (mg,)) for mg in management_groups]
        if not subscriptions and not management_groups:
            scopes = [Scope()]
        for scope in scopes:
            used[DISCOVERY] = queries[DISCOVERY]
            reporter.phase(f"listing subscriptions in {scope.label()}")
            found, found_tenant = graph.subscriptions_in(queries[DISCOVERY], scope)
            subscriptions = unique((*subscriptions, *found))
            tenant = tenant or found_tenant
        if not subscriptions:
            if stats.failures:
                reporter.warn("no subscription could be listed: the snapshot will be empty")
            else:
                raise UsageError(
                    "the identity sees no subscriptions: pass --subscription / --management-group, "
                    "or grant it Reader (docs/live-collection.md)"
                )
        families = [q for name, q in queries.items() if name != DISCOVERY]
        groups = batches(subscriptions)
        for query in families:
            used[query.name] = query
            for number, batch in enumerate(groups, 1):
                of = (
                    f" (batch {number}/{len(groups)}, {len(batch.subscriptions)} subscriptions)"
                    if len(groups) > 1
                    else ""
                )
                reporter.phase(f"Resource Graph: {query.name}{of}")
                graph.run(query, batch, inventory.add_all)
        if graph.subscription_limit_hit:
            stats.fail(
                "/ (tenant)",
                "resource-graph",
                "more than 10,000 subscriptions in scope: Resource Graph "
                "queried the first 10,000 only (x-ms-tenant-subscription-limit-hit)",
            )

        extras = ArmExtras(clients, policy, stats, reporter)
        current = list(inventory.by_id.values())
        inventory.add_new(extras.rule_collection_groups(current))
        inventory.add_new(extras.hub_children(current))
        if options.fresh_accounts:
            for account in extras.fresh_accounts(current):
                inventory.replace(account)
        routes = (
            extras.effective_routes(current, options.effective_routes) if options.effective_routes else {}
        )
    finally:
        clients.close()
        reporter.close()
    if tenant is None:
        tenant = next((r.get("tenantId") for r in inventory.by_id.values() if r.get("tenantId")), None)
    stats.finished = time.monotonic()
    doc = build_snapshot(
        collected_at=collected_at,
        tenant_id=tenant,
        subscriptions=subscriptions,
        management_groups=management_groups,
        queries=used,
        stats=stats,
        resources=inventory.resources(),
        effective_routes=routes,
    )
    return CollectResult(doc, stats)


def collect_to_file(
    options: CollectOptions, out: Path | None, reporter: Reporter | None = None
) -> CollectResult:
    """`pathaudit collect`: collect, then write the snapshot (default name: pathaudit-snapshot-<time>.json.gz)."""
    from auditor.collect.snapshot import default_path, write_snapshot

    result = collect(options, reporter)
    result.path = write_snapshot(result.snapshot, out or default_path(result.snapshot["collected_at"]))
    return result


def collect_for_audit(options: CollectOptions, reporter: Reporter | None = None) -> CollectResult:
    """`pathaudit audit --live`: collect into a private temporary snapshot file, which the audit then
    reads like any input (and an evidence bundle includes). Call `cleanup()` when done."""
    from auditor.collect.snapshot import default_path, write_snapshot

    result = collect(options, reporter)
    result.tmpdir = tempfile.TemporaryDirectory(prefix="pathaudit-live-")
    result.path = write_snapshot(
        result.snapshot, Path(result.tmpdir.name) / default_path(result.snapshot["collected_at"])
    )
    return result
