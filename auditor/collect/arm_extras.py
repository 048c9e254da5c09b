"""What Resource Graph does not hold (or holds stale), read from ARM with azure-mgmt-* clients.

- Firewall policy rule collection groups: not in Resource Graph's Resources table (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data), listed per policy.
- Virtual hub routing intent, hub virtual network connections and hub route tables: Resource Graph
  coverage of these children is unconfirmed (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data), so each hub's are listed too (only
  ids Resource Graph did not return are added).
- NIC effective route tables (`--effective-routes N`): a long-running POST per NIC (https://learn.microsoft.com/rest/api/virtualnetwork/network-interfaces/get-effective-route-table),
  NVA NICs (IP forwarding on) first, then VM NICs.
- AI accounts re-read with a plain GET (`--fresh-accounts`), because Resource Graph lags changes
  such as `disableLocalAuth` (https://learn.microsoft.com/azure/governance/resource-graph/concepts/work-with-data). Never listKeys / regenerateKey.

Every call goes through `retry.call`; a call that fails is recorded in coverage.failed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from auditor.collect.clients import Clients
from auditor.collect.progress import Reporter, Stats
from auditor.collect.retry import CallFailed, RetryPolicy, attempts, call
from auditor.ids import ResourceId, key, type_of
from auditor.ingest.normalize import is_flattened, unflatten

RULE_COLLECTION_GROUPS = "Microsoft.Network/firewallPolicies/ruleCollectionGroups"
ROUTING_INTENT = "Microsoft.Network/virtualHubs/routingIntent"
HUB_CONNECTIONS = "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections"
HUB_ROUTE_TABLES = "Microsoft.Network/virtualHubs/hubRouteTables"
EFFECTIVE_ROUTES = "Microsoft.Network/networkInterfaces/effectiveRouteTable"
AI_ACCOUNTS = "Microsoft.CognitiveServices/accounts"
NOT_READY = object()


def parse_id(rid: str) -> tuple[str, str, str] | None:
    """`/subscriptions/s/resourceGroups/g/providers/Ns/type/name[/child/c...]` -> (s, g, name): what an SDK
    call takes, the top-level resource (a child's id names its parent's); None for an id that is not a
    resource group's resource."""
    parsed = ResourceId.parse(rid)
    while parsed is not None and parsed.parent is not None:
        parsed = ResourceId.parse(parsed.parent)
    if parsed is None or parsed.resource_group is None:
        return None
    return parsed.subscription, parsed.resource_group, parsed.name


def of_type(resources: Iterable[dict[str, Any]], rtype: str) -> list[dict[str, Any]]:
    rtype = rtype.lower()
    return sorted(
        (
            r
            for r in resources
            if isinstance(r, dict)
            and str(r.get("type", "")).lower() == rtype
            and isinstance(r.get("id"), str)
        ),
        key=lambda r: key(r["id"]),
    )


def props(resource: dict[str, Any]) -> dict[str, Any]:
    value = resource.get("properties")
    return value if isinstance(value, dict) else {}


def to_arm(item: dict[str, Any]) -> dict[str, Any]:
    """An SDK model's `as_dict()` as an ARM resource: id/name/type at the top, the rest under `properties`.

    azure-mgmt-network 33.x already returns that shape (camelCase, `properties` nested); older,
    flattened models are unflattened the way az CLI output is.
    """
    if is_flattened(item):
        item = unflatten(item)
    rid = item.get("id")
    out: dict[str, Any] = {"id": rid, "name": item.get("name"), "type": item.get("type")}
    if not out["type"] and isinstance(rid, str):
        out["type"] = type_of(rid) or None
    out.update((k, v) for k, v in item.items() if k not in out)
    return out


def raw_json(pipeline_response: Any, deserialized: Any, headers: Any) -> Any:
    """`cls=` for SDK calls: the response body verbatim, not the model (which drops unknown fields)."""
    return pipeline_response.http_response.json()


def nics_for_effective_routes(resources: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """NVA NICs (IP forwarding on) first, then other VM NICs, by id; private endpoint NICs have none."""
    nics = of_type(resources, "microsoft.network/networkinterfaces")
    forwarding = [n for n in nics if props(n).get("enableIPForwarding") is True]
    on_vms = [
        n
        for n in nics
        if props(n).get("enableIPForwarding") is not True
        and isinstance(props(n).get("virtualMachine"), dict)
        and props(n)["virtualMachine"].get("id")
    ]
    return (forwarding + on_vms)[: max(limit, 0)]


class ArmExtras:
    def __init__(
        self,
        clients: Clients,
        policy: RetryPolicy,
        stats: Stats,
        reporter: Reporter,
        lro_timeout: float = 300.0,
    ) -> None:
        self.clients = clients
        self.policy = policy
        self.stats = stats
        self.reporter = reporter
        self.lro_timeout = lro_timeout

    def attempt(self, fn: Callable[[], Any], scope: str, what: str) -> Any | None:
        try:
            return call(fn, f"{what} {scope}", self.policy, self.stats, self.reporter)
        except CallFailed as exc:
            self.stats.fail(scope, what, f"{exc.error} ({attempts(exc.attempts)})")
            self.reporter.warn(f"{what} {scope}: {exc.error}")
            return None

    def locate(self, resource: dict[str, Any], what: str) -> tuple[str, str, str] | None:
        """(subscription, resource group, name) of a resource, or None with the failure recorded."""
        where = parse_id(resource["id"])
        if where is None:
            self.stats.fail(resource["id"], what, "cannot read subscription/resource group/name from the id")
        return where

    def list_children(
        self, parents: list[dict[str, Any]], what: str, operation: Callable[[Any], Any]
    ) -> list[dict[str, Any]]:
        """For each parent, `operation(network_client)(rg, name)` listed in full, as ARM resources."""
        found: list[dict[str, Any]] = []
        for parent in parents:
            if (where := self.locate(parent, what)) is None:
                continue
            sub, rg, name = where
            client = self.clients.network(sub)

            def children(c: Any = client, g: str = rg, n: str = name) -> list[dict[str, Any]]:
                return [to_arm(i.as_dict()) for i in operation(c)(g, n)]

            items = self.attempt(children, parent["id"], what)
            found.extend(items or [])
        return found

    def rule_collection_groups(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        policies = of_type(resources, "microsoft.network/firewallpolicies")
        if policies:
            self.reporter.phase(f"ARM: rule collection groups of {len(policies)} firewall policies")
        return self.list_children(
            policies, RULE_COLLECTION_GROUPS, lambda c: c.firewall_policy_rule_collection_groups.list
        )

    def hub_children(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        hubs = of_type(resources, "microsoft.network/virtualhubs")
        if not hubs:
            return []
        self.reporter.phase(f"ARM: routing intent, connections and route tables of {len(hubs)} virtual hubs")
        return (
            self.list_children(hubs, ROUTING_INTENT, lambda c: c.routing_intent.list)
            + self.list_children(hubs, HUB_CONNECTIONS, lambda c: c.hub_virtual_network_connections.list)
            + self.list_children(hubs, HUB_ROUTE_TABLES, lambda c: c.hub_route_tables.list)
        )

    def effective_routes(self, resources: list[dict[str, Any]], limit: int) -> dict[str, list[Any]]:
        chosen = nics_for_effective_routes(resources, limit)
        if not chosen:
            return {}
        self.reporter.phase(f"ARM: effective route tables of {len(chosen)} NICs")
        out: dict[str, list[Any]] = {}
        for nic in chosen:
            if (where := self.locate(nic, EFFECTIVE_ROUTES)) is None:
                continue
            sub, rg, name = where
            client = self.clients.network(sub)

            def fetch(c: Any = client, g: str = rg, n: str = name) -> Any:
                poller = c.network_interfaces.begin_get_effective_route_table(
                    g, n, polling_interval=self.clients.poll_interval
                )
                result = poller.result(timeout=self.lro_timeout)
                if not poller.done():
                    return NOT_READY
                return result.as_dict() if hasattr(result, "as_dict") else result

            result = self.attempt(fetch, nic["id"], EFFECTIVE_ROUTES)
            if result is None:  # failure recorded
                continue
            if result is NOT_READY:
                self.stats.fail(nic["id"], EFFECTIVE_ROUTES, f"not ready after {self.lro_timeout:.0f}s")
                continue
            routes = result.get("value") if isinstance(result, dict) else None
            if not isinstance(routes, list):
                self.stats.fail(nic["id"], EFFECTIVE_ROUTES, "response has no `value` list of routes")
                continue
            out[nic["id"]] = routes
        return out

    def fresh_accounts(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """ARM's current copy of every AI account (a GET; keys are never listed)."""
        accounts = of_type(resources, "microsoft.cognitiveservices/accounts")
        if accounts:
            self.reporter.phase(f"ARM: re-reading {len(accounts)} AI accounts")
        fresh: list[dict[str, Any]] = []
        for account in accounts:
            if (where := self.locate(account, AI_ACCOUNTS)) is None:
                continue
            sub, rg, name = where
            client = self.clients.cognitive(sub)

            def account_body(c: Any = client, g: str = rg, n: str = name) -> Any:
                return c.accounts.get(g, n, cls=raw_json)

            body = self.attempt(account_body, account["id"], AI_ACCOUNTS)
            if isinstance(body, dict) and key(str(body.get("id") or "")) == key(account["id"]):
                fresh.append(body)
            elif body is not None:
                self.stats.fail(
                    account["id"], AI_ACCOUNTS, "ARM returned no copy of this account (kept Resource Graph's)"
                )
        return fresh
