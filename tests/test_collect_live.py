"""Live collection with the real Azure SDK clients against a fake ARM on 127.0.0.1 (tests/fakeazure).

Every test runs inside a NetGuard: any destination other than loopback is refused and recorded, so a
credential probing 169.254.169.254 or a stray call to management.azure.com fails the test.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fakeazure import FakeAzure, Fault, NetGuard
from fakeazure.harness import TOKEN, collect_from, demo_rows

from auditor.collect.progress import LineReporter
from auditor.collect.redact import REDACTED
from auditor.collect.retry import CollectAborted
from auditor.estate import build_estate
from auditor.ingest.files import RawInputs, absorb

CONNECTIVITY = "5c3f8a2e-9d41-4b7a-a6e3-2f8b1c0d7e95"
WORKLOADS = "a8e2d6c4-3b1f-4e9a-8c7d-61f0b5a3e2d8"


@pytest.fixture
def guard() -> Iterator[NetGuard]:
    with NetGuard() as g:
        yield g
    assert g.seen, "the test made no network access at all"
    assert g.foreign == [], f"traffic left loopback: {g.foreign}"


@pytest.fixture
def rows() -> list[dict[str, Any]]:
    return demo_rows()


def ids(resources: list[dict[str, Any]]) -> set[str]:
    return {r["id"].lower() for r in resources}


def assert_clean_traffic(fake: FakeAzure) -> None:
    """Only loopback, always with a bearer token, never a key operation, never over 1000 subscriptions."""
    assert fake.requests
    for r in fake.requests:
        assert r.host.split(":")[0] == "127.0.0.1" and r.client == "127.0.0.1", r
        assert r.authorized, r
        lower = r.path.lower()
        assert "listkeys" not in lower and "regeneratekey" not in lower, r
    for r in fake.graph_requests():
        assert len(r.body.get("subscriptions") or []) <= 1000
        assert r.body["options"]["$top"] == 1000
        assert r.body["options"]["resultFormat"] == "objectArray"
        assert r.body["options"]["allowPartialScopes"] is True


def test_collects_every_served_resource(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    with FakeAzure(rows, page_size=7, arm_page_size=1) as fake:
        result, sleeps = collect_from(fake)
    snap = result.snapshot
    assert ids(snap["resources"]) == ids(rows), "Resource Graph rows plus the ARM-only children"
    assert len(snap["resources"]) == len(rows)
    assert snap["coverage"] == {"complete": True, "failed": []}
    assert result.exit_code == 0
    assert snap["scope"] == {
        "tenant_id": rows[0]["tenantId"],
        "subscriptions": [CONNECTIVITY, WORKLOADS],
        "management_groups": [],
    }
    assert "subscriptions" in snap["queries"] and "networking-core" in snap["queries"]
    for q in snap["queries"].values():
        assert len(q["sha256"]) == 64 and q["kql"].startswith("// pathaudit:")
    # Resource Graph rows are kept verbatim (the envelope columns included)
    by_id = {r["id"].lower(): r for r in snap["resources"]}
    vnet = next(r for r in rows if r["type"] == "microsoft.network/virtualnetworks")
    assert by_id[vnet["id"].lower()] == vnet
    # ARM-only children arrive in ARM shape: id/name/type on top, properties nested
    rcg = next(r for r in snap["resources"] if r["type"].lower().endswith("/rulecollectiongroups"))
    assert list(rcg)[:3] == ["id", "name", "type"] and "ruleCollections" in rcg["properties"]
    assert "subscriptionId" not in rcg
    assert any("$skipToken" in (r.body.get("options") or {}) for r in fake.graph_requests()), "paged"
    assert sleeps == []
    assert_clean_traffic(fake)
    # the snapshot builds the same estate as the rows themselves
    raw, direct = RawInputs(), RawInputs()
    absorb(snap, "snap", raw)
    absorb({"data": rows}, "rows", direct)
    assert build_estate(raw).records == build_estate(direct).records


def test_faults_are_retried_and_a_forbidden_subscription_is_isolated(
    guard: NetGuard, rows: list[dict[str, Any]]
) -> None:
    faults = [
        Fault("429", query="networking-core", page=0, retry_after="1"),
        Fault("429", query="compute.kql", retry_after=None),
        Fault("500", query="virtual-wan", times=2),
        Fault("timeout", query="firewalls", delay=1.5),
        Fault("truncate", query="networking-core", page=1),
        Fault("403", subscription=WORKLOADS, times=None),
        Fault("500", path="/ruleCollectionGroups"),
    ]
    with FakeAzure(rows, page_size=5, faults=faults) as fake:
        log = io.StringIO()
        result, sleeps = collect_from(fake, request_timeout=0.5, reporter=LineReporter(log))
    snap = result.snapshot
    expected = {i for i in ids(rows) if f"/subscriptions/{WORKLOADS}/" not in i}
    assert ids(snap["resources"]) == expected, "everything outside the forbidden subscription"
    assert all(f.hits for f in faults), [f for f in faults if not f.hits]
    failed = snap["coverage"]["failed"]
    assert snap["coverage"]["complete"] is False and result.exit_code == 3
    assert {f["scope"] for f in failed} == {f"/subscriptions/{WORKLOADS}"}
    assert {f["type"] for f in failed} == {
        f"resource-graph:{n}" for n in snap["queries"] if n != "subscriptions"
    }
    assert all("403" in f["error"] for f in failed)
    # waits: Retry-After 1 s; backoff (2 s, then 4 s) for the 429 without Retry-After, the 500s,
    # the timeout, the truncated body and the rule collection group 500
    assert 1.0 in sleeps and sleeps.count(2.0) >= 4 and 4.0 in sleeps
    assert result.stats.retries == len(sleeps) and result.stats.throttle_waits == 2
    progress = log.getvalue()
    assert "retry in 1.0s: Resource Graph networking-core" in progress and "HTTP 429" in progress
    assert "ServiceResponseTimeoutError" in progress and "IncompleteReadError" in progress
    assert f"networking-core: /subscriptions/{CONNECTIVITY} and 1 more refused" in progress
    # the 403 batch was split to find the subscription that refuses; the other was collected alone
    singles = [
        r.body["subscriptions"] for r in fake.graph_requests() if len(r.body.get("subscriptions") or []) == 1
    ]
    assert [CONNECTIVITY] in singles and [WORKLOADS] in singles
    assert_clean_traffic(fake)


def test_persistent_truncation_is_recorded_with_what_was_kept(
    guard: NetGuard, rows: list[dict[str, Any]]
) -> None:
    with FakeAzure(
        rows, page_size=5, faults=[Fault("truncate", query="networking-core", page=2, times=None)]
    ) as fake:
        result, sleeps = collect_from(fake, attempts=3)
    failed = result.snapshot["coverage"]["failed"]
    assert {f["scope"] for f in failed} == {f"/subscriptions/{CONNECTIVITY}", f"/subscriptions/{WORKLOADS}"}
    assert all(f["type"] == "resource-graph:networking-core" for f in failed)
    assert all(
        "IncompleteRead" in f["error"]
        and "after 3 attempts" in f["error"]
        and "2 pages were collected" in f["error"]
        for f in failed
    )
    assert sleeps == [2.0, 4.0]
    kept = ids(result.snapshot["resources"])
    served = ids(rows)
    assert kept < served and len(served - kept) > 0
    # the first two pages of networking-core (ids in order) were kept
    core = sorted(
        r["id"].lower()
        for r in rows
        if r["type"]
        in {
            "microsoft.network/virtualnetworks",
            "microsoft.network/routetables",
            "microsoft.network/networksecuritygroups",
            "microsoft.network/networkinterfaces",
            "microsoft.network/privateendpoints",
            "microsoft.network/loadbalancers",
            "microsoft.network/publicipaddresses",
            "microsoft.network/bastionhosts",
            "microsoft.network/virtualnetworkgateways",
            "microsoft.network/connections",
            "microsoft.network/localnetworkgateways",
        }
    )
    assert set(core[:10]) <= kept and not set(core[10:]) & kept


def test_quota_headers_pace_the_queries(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    with FakeAzure(rows, page_size=10, quota=3, quota_resets_after="00:00:02") as fake:
        result, sleeps = collect_from(fake)
    pages = len(fake.graph_requests())
    assert pages >= 9
    assert sleeps == [2.0] * (pages // 3 - (1 if pages % 3 == 0 else 0)), "a wait each time the quota hits 0"
    assert result.stats.throttle_waits == len(sleeps)
    assert result.snapshot["coverage"]["complete"] is True


def test_effective_routes_long_running_operation(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    nva = sorted(
        r["id"]
        for r in rows
        if r["type"] == "microsoft.network/networkinterfaces"
        and r["properties"].get("enableIPForwarding") is True
    )
    assert len(nva) >= 2
    routes = [
        {
            "source": "User",
            "state": "Active",
            "addressPrefix": ["10.30.0.0/16"],
            "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": ["10.0.1.4"],
            "hasBgpOverride": False,
        }
    ]
    with FakeAzure(rows, effective_routes={nva[0]: routes}, lro_pending_polls=2) as fake:
        result, _ = collect_from(fake, effective_routes=2)
    extras = result.snapshot["extras"]["effective_routes"]
    assert list(extras) == sorted(nva, key=str.lower)[:2], "NVA NICs first, by id"
    assert extras[nva[0]] == routes, "the body of the final 200, verbatim"
    posts = [p for p in fake.paths("POST") if p.lower().split("?")[0].endswith("/effectiveroutetable")]
    polls = [p for p in fake.paths("GET") if p.startswith("/fakeoperations/")]
    assert len(posts) == 2 and len(polls) >= 6, "202 + Location, polled until 200"
    assert [r.status for r in fake.requests if r.path.startswith("/fakeoperations/op1")][:3] == [
        202,
        202,
        200,
    ]
    # the snapshot's routes reach the estate
    raw = RawInputs()
    absorb(result.snapshot, "snap", raw)
    assert build_estate(raw).effective_routes[nva[0].lower()] == routes
    assert_clean_traffic(fake)


def test_fresh_accounts_read_arm_not_keys(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    dev = next(
        r for r in rows if r["type"] == "microsoft.cognitiveservices/accounts" and r["name"].endswith("dev")
    )
    fixed = copy.deepcopy(dev["properties"])
    fixed["disableLocalAuth"] = True
    with FakeAzure(rows, arm_overrides={dev["id"]: {"properties": fixed}}) as fake:
        result, _ = collect_from(fake, fresh_accounts=True)
    got = next(r for r in result.snapshot["resources"] if r["id"] == dev["id"])
    assert got["properties"]["disableLocalAuth"] is True, "ARM's copy replaces the lagging Graph row"
    assert "subscriptionId" not in got, "verbatim ARM GET body"
    gets = [p for p in fake.paths("GET") if "/Microsoft.CognitiveServices/accounts/" in p]
    assert len(gets) == len([r for r in rows if r["type"] == "microsoft.cognitiveservices/accounts"])
    assert_clean_traffic(fake)


def test_management_group_scope(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    with FakeAzure(rows, management_groups={"mg-platform": [CONNECTIVITY]}) as fake:
        result, _ = collect_from(fake, management_groups=("mg-platform", "mg-missing"))
    snap = result.snapshot
    assert snap["scope"]["subscriptions"] == [CONNECTIVITY]
    assert snap["scope"]["management_groups"] == ["mg-platform", "mg-missing"]
    assert ids(snap["resources"]) == {i for i in ids(rows) if f"/subscriptions/{CONNECTIVITY}/" in i}
    assert [(f["scope"], f["type"]) for f in snap["coverage"]["failed"]] == [
        ("/providers/Microsoft.Management/managementGroups/mg-missing", "resource-graph:subscriptions")
    ]
    mg_requests = [r.body for r in fake.graph_requests() if r.body.get("managementGroups")]
    assert len(mg_requests) == 2 and all("ResourceContainers" in b["query"] for b in mg_requests)


def test_explicit_subscriptions_skip_discovery(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    with FakeAzure(rows) as fake:
        result, _ = collect_from(fake, subscriptions=(WORKLOADS.upper(), WORKLOADS))
    assert result.snapshot["scope"]["subscriptions"] == [WORKLOADS.upper()]
    assert "subscriptions" not in result.snapshot["queries"]
    assert not any("ResourceContainers" in r.body["query"] for r in fake.graph_requests())
    assert ids(result.snapshot["resources"]) == {i for i in ids(rows) if f"/subscriptions/{WORKLOADS}/" in i}


def test_secrets_are_redacted_and_the_token_never_written(
    guard: NetGuard, rows: list[dict[str, Any]]
) -> None:
    rows = copy.deepcopy(rows)
    conn = next(r for r in rows if r["type"] == "microsoft.network/connections")
    conn["properties"]["sharedKey"] = "psk-do-not-leak"
    with FakeAzure(rows) as fake:
        result, _ = collect_from(fake)
    got = next(r for r in result.snapshot["resources"] if r["id"] == conn["id"])
    assert got["properties"]["sharedKey"] == REDACTED
    text = str(result.snapshot)
    assert "psk-do-not-leak" not in text and TOKEN not in text
    assert result.stats.redacted == 1


def test_no_subscription_visible_is_a_usage_error(guard: NetGuard) -> None:
    from auditor.errors import UsageError

    with FakeAzure([]) as fake, pytest.raises(UsageError, match="sees no subscriptions"):
        collect_from(fake)


def test_untrusted_certificate_aborts(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    with FakeAzure(rows) as fake, pytest.raises(CollectAborted, match="REQUESTS_CA_BUNDLE"):
        collect_from(fake, verify=True)


def test_authentication_failure_aborts(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from auditor.collect.live import CollectOptions, collect
    from auditor.collect.progress import Reporter

    class Refusing:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise ClientAuthenticationError("AADSTS7000215: invalid client secret")

    with (
        FakeAzure(rows) as fake,
        pytest.raises(CollectAborted, match=r"authentication failed.*AADSTS7000215"),
    ):
        collect(
            CollectOptions(arm_endpoint=fake.url, verify=fake.ca_path, sleep=lambda s: None),
            Reporter(),
            credential=Refusing(),
        )
    assert fake.requests == [], "nothing sent without a token"
    guard.seen.append("127.0.0.1")


def test_malformed_pages_are_named_not_dropped(guard: NetGuard, rows: list[dict[str, Any]]) -> None:
    page = {
        "totalRecords": 2,
        "count": 2,
        "resultTruncated": "false",
        "data": [{"name": "ghost", "type": "microsoft.apimanagement/service"}, 5],
    }
    faults = [
        Fault("body", query="ai-accounts", body=[1, 2], times=None),  # not a Resource Graph response
        Fault("body", query="private-dns", body={"count": 0, "data": "x"}),  # no rows array
        Fault("body", query="api-management", body=page),  # rows the audit cannot use
    ]
    with FakeAzure(rows, faults=faults) as fake:
        result, sleeps = collect_from(fake, attempts=2)
    failed = {(f["type"], f["error"].split(":")[0]) for f in result.snapshot["coverage"]["failed"]}
    assert failed == {
        ("resource-graph:ai-accounts", "DeserializationError"),
        ("resource-graph:private-dns", "page 1 has no `data` array of rows (got str)"),
    }
    assert sleeps == [2.0], "a garbled body is retried once (attempts=2), then recorded"
    snap = result.snapshot
    assert {"name": "ghost", "type": "microsoft.apimanagement/service"} in snap["resources"] and 5 in snap[
        "resources"
    ]
    raw = RawInputs()
    absorb(snap, "snap", raw)
    estate = build_estate(raw)
    problems = [(p.field, p.problem) for p in estate.problems]
    assert ("id", "resource has no id") in problems, problems
    assert any("not an object" in p for _, p in problems)
