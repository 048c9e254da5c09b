"""Live collection building blocks without a server: redaction, credentials and endpoints, retry
decisions, the KQL files, scopes and batches, the snapshot file (mode 0600, read back by `audit`)."""

from __future__ import annotations

import base64
import gzip
import json
import stat
import time
from pathlib import Path

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    IncompleteReadError,
    ServiceRequestError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest

from auditor.collect.arm_extras import nics_for_effective_routes, parse_id, to_arm
from auditor.collect.credentials import (
    CLOUDS,
    StaticTokenCredential,
    make_credential,
    resolve_endpoint,
    token_expiry,
)
from auditor.collect.progress import Stats, summary_lines
from auditor.collect.redact import REDACTED, redact, secret_name
from auditor.collect.resource_graph import DISCOVERY, MAX_SUBSCRIPTIONS, Scope, batches, load_queries
from auditor.collect.retry import (
    CallFailed,
    CollectAborted,
    RetryPolicy,
    call,
    decide,
    parse_duration,
    parse_retry_after,
)
from auditor.collect.snapshot import Inventory, build_snapshot, write_snapshot
from auditor.errors import UsageError
from auditor.ingest.files import SNAPSHOT_SCHEMA, read_inputs

REQUIRED_COLUMNS = [
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "managedBy",
    "sku",
    "plan",
    "properties",
    "tags",
    "identity",
    "zones",
    "extendedLocation",
]


# ---------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    "name",
    [
        "primaryKey",
        "sharedKey",
        "key",
        "apiKey",
        "clientSecret",
        "adminPassword",
        "connectionString",
        "storageConnectionStrings",
        "sasUrl",
        "SASToken",
        "access_token",
        "api-key",
        "radiusServerSecret",
        "keys",
        "refreshTokens",
    ],
)
def test_secret_names_are_recognised(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "keyName",
        "keySource",
        "keyVaultUri",
        "disableLocalAuth",
        "monkey",
        "privateLinkServiceConnections",
        "disasterRecovery",
        "subnets",
        "tokenUrl",
        "enableIPForwarding",
        "id",
        "properties",
    ],
)
def test_ordinary_names_are_kept(name: str) -> None:
    assert not secret_name(name)


def test_redact_replaces_values_not_flags_or_empty_lists() -> None:
    resource = {
        "id": "/x",
        "type": "microsoft.network/connections",
        "tags": {"disableSnatOnPL": "true"},
        "properties": {
            "sharedKey": "s3cr3t",
            "connectionType": "IPsec",
            "osProfile": {"secrets": [], "disablePasswordAuthentication": True, "adminPassword": None},
            "hostnames": [{"certificatePassword": "p", "hostName": "a.example"}],
        },
    }
    out, count = redact(resource)
    assert count == 2
    assert out["properties"]["sharedKey"] == REDACTED
    assert out["properties"]["hostnames"][0] == {"certificatePassword": REDACTED, "hostName": "a.example"}
    assert out["properties"]["osProfile"] == resource["properties"]["osProfile"]
    assert out["tags"] == {"disableSnatOnPL": "true"}
    assert resource["properties"]["sharedKey"] == "s3cr3t", "the input is not modified"
    clean = {"id": "/y", "properties": {"subnets": []}}
    assert redact(clean) == (clean, 0) and redact(clean)[0] is clean


# ---------------------------------------------------------------- credentials and endpoints


def test_cloud_endpoints_and_scopes() -> None:
    assert resolve_endpoint("AzureCloud").scope == "https://management.azure.com/.default"
    gov = resolve_endpoint("AzureUSGovernment")
    assert gov.url == "https://management.usgovcloudapi.net"
    assert gov.scope == "https://management.core.usgovcloudapi.net/.default"
    assert resolve_endpoint("AzureChinaCloud").authority == "login.chinacloudapi.cn"
    custom = resolve_endpoint("AzureCloud", "https://127.0.0.1:8443/")
    assert (custom.url, custom.scope) == ("https://127.0.0.1:8443", "https://127.0.0.1:8443/.default")
    # a known endpoint given explicitly keeps its cloud's scope
    assert resolve_endpoint("AzureCloud", "https://management.usgovcloudapi.net").scope == gov.scope
    assert set(CLOUDS) == {"AzureCloud", "AzureUSGovernment", "AzureChinaCloud"}


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "management.azure.com", "ftp://x", "https://"])
def test_arm_endpoint_must_be_https(url: str) -> None:
    with pytest.raises(UsageError, match="https"):
        resolve_endpoint("AzureCloud", url)


def test_token_credential_hides_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    exp = int(time.time()) + 1234
    payload = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
    token = f"eyJhbGciOiJub25lIn0.{payload}.sig"
    monkeypatch.setenv("MY_TOKEN", token)
    credential = make_credential("token", endpoint=resolve_endpoint("AzureCloud"), token_env="MY_TOKEN")
    access = credential.get_token("https://management.azure.com/.default")
    assert (access.token, access.expires_on) == (token, exp)
    assert token not in repr(credential) and "MY_TOKEN" in repr(credential)
    assert token_expiry("opaque-token") > time.time() + 3000


def test_token_credential_needs_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(UsageError, match="NOPE_TOKEN"):
        make_credential("token", endpoint=resolve_endpoint("AzureCloud"), token_env="NOPE_TOKEN")


def test_static_credential_repr_never_contains_token() -> None:
    assert "abc123" not in repr(StaticTokenCredential("abc123"))
    assert "abc123" not in str(StaticTokenCredential("abc123"))


# ---------------------------------------------------------------- retries


def http_error(status: int, headers: dict[str, str] | None = None) -> HttpResponseError:
    from azure.core.pipeline.transport import HttpResponse

    class Response(HttpResponse):
        def __init__(self) -> None:
            super().__init__(HttpRequest("POST", "https://127.0.0.1/x"), None)
            self.status_code = status
            self.headers = headers or {}
            self.reason = "fake"

        def body(self) -> bytes:
            return b""

    return HttpResponseError(response=Response())


def test_retry_decisions() -> None:
    policy = RetryPolicy(backoff=2, max_backoff=60)
    assert decide(http_error(429, {"Retry-After": "7"}), 1, policy) == 7
    assert decide(http_error(429, {"x-ms-user-quota-resets-after": "00:00:03"}), 1, policy) == 3
    assert decide(http_error(429), 3, policy) == 8, "no Retry-After: exponential backoff"
    assert decide(http_error(503), 1, policy) == 2
    assert decide(http_error(500), 10, policy) == 60, "capped"
    assert decide(http_error(403), 1, policy) is None
    assert decide(http_error(404), 1, policy) is None
    assert decide(ServiceResponseTimeoutError("read timed out"), 2, policy) == 4
    assert decide(IncompleteReadError("IncompleteRead"), 1, policy) == 2
    assert decide(DecodeError("bad json"), 1, policy) == 2
    with pytest.raises(CollectAborted, match="authentication"):
        decide(ClientAuthenticationError("AADSTS700016"), 1, policy)
    with pytest.raises(CollectAborted, match="REQUESTS_CA_BUNDLE"):
        decide(ServiceRequestError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed"), 1, policy)


def test_retry_after_and_quota_formats() -> None:
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0, "a date in the past: no wait"
    assert parse_retry_after("soon") is None
    assert parse_duration("00:01:05") == 65
    assert parse_duration("12") == 12
    assert parse_duration("x:y") is None


def test_call_retries_then_gives_up_and_counts() -> None:
    sleeps: list[float] = []
    stats = Stats()
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        raise http_error(500)

    from auditor.collect.progress import Reporter

    with pytest.raises(CallFailed) as info:
        call(flaky, "thing", RetryPolicy(attempts=4, backoff=1, sleep=sleeps.append), stats, Reporter())
    assert len(attempts) == 4 and sleeps == [1, 2, 4] and stats.retries == 3
    assert info.value.status == 500 and info.value.attempts == 4
    with pytest.raises(CallFailed):  # not retried at all
        call(
            lambda: (_ for _ in ()).throw(http_error(403)),
            "x",
            RetryPolicy(sleep=sleeps.append),
            stats,
            Reporter(),
        )
    assert sleeps == [1, 2, 4]


def test_unreachable_endpoint_aborts_after_retries() -> None:
    from auditor.collect.progress import Reporter

    def refused() -> None:
        raise ServiceRequestError("Connection refused")

    with pytest.raises(CollectAborted, match="cannot reach"):
        call(refused, "x", RetryPolicy(attempts=2, sleep=lambda s: None), Stats(), Reporter())


# ---------------------------------------------------------------- the KQL


def test_every_query_is_documented_pages_and_projects_the_full_row() -> None:
    queries = load_queries()
    assert DISCOVERY in queries
    families = {n for n in queries if n != DISCOVERY}
    assert {
        "networking-core",
        "firewalls",
        "virtual-wan",
        "compute",
        "compute-scale-set-instances",
        "api-management",
        "ai-accounts",
    } <= families
    for name, query in queries.items():
        header = [line for line in query.kql.splitlines() if line.startswith("//")]
        assert header and header[0].startswith("// pathaudit: "), name
        assert any("Resource Graph Explorer" in line for line in header), name
        code = "\n".join(line for line in query.kql.splitlines() if not line.startswith("//"))
        assert code.rstrip().endswith("| order by id asc"), name
        project = code[code.index("| project") : code.index("| order by")]
        columns = [c.strip() for c in project.removeprefix("| project").split(",")]
        if name != DISCOVERY:
            assert columns == REQUIRED_COLUMNS, name
        assert "id" in columns
        assert len(query.sha256) == 64
        assert "listkeys" not in code.lower(), name
    assert "ComputeResources" in queries["compute-scale-set-instances"].kql
    assert "microsoft.cognitiveservices/accounts" in queries["ai-accounts"].kql


def test_subscription_batches_and_bisection() -> None:
    subs = [f"{i:08d}-0000-0000-0000-000000000000" for i in range(2501)]
    groups = batches(subs)
    assert [len(g.subscriptions) for g in groups] == [MAX_SUBSCRIPTIONS, MAX_SUBSCRIPTIONS, 501]
    assert [s for g in groups for s in g.subscriptions] == subs
    first, second = groups[2].halves()
    assert len(first.subscriptions) + len(second.subscriptions) == 501
    assert Scope(("a",)).halves() == []
    assert Scope(("a",)).labels() == ["/subscriptions/a"]
    assert Scope((), ("mg1",)).labels() == ["/providers/Microsoft.Management/managementGroups/mg1"]
    assert Scope().labels() == ["/ (tenant)"]
    assert Scope(("a", "b", "c")).label() == "/subscriptions/a and 2 more"


# ---------------------------------------------------------------- ARM extras helpers


def nic(name: str, forwarding: bool | None = None, vm: bool = False, pe: bool = False) -> dict:
    props: dict = {}
    if forwarding is not None:
        props["enableIPForwarding"] = forwarding
    if vm:
        props["virtualMachine"] = {
            "id": f"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/{name}"
        }
    if pe:
        props["privateEndpoint"] = {
            "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/privateEndpoints/pe"
        }
    return {
        "id": f"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/{name}",
        "type": "microsoft.network/networkInterfaces",
        "properties": props,
    }


def test_effective_route_nics_nvas_first_then_vms_never_pe_nics() -> None:
    resources = [
        nic("vm-b", vm=True),
        nic("nva-z", True, vm=True),
        nic("pe-nic", pe=True),
        nic("vm-a", False, vm=True),
        nic("nva-a", True, vm=True),
        nic("orphan"),
    ]
    names = [n["id"].rsplit("/", 1)[-1] for n in nics_for_effective_routes(resources, 10)]
    assert names == ["nva-a", "nva-z", "vm-a", "vm-b"]
    assert len(nics_for_effective_routes(resources, 3)) == 3
    assert nics_for_effective_routes(resources, 0) == []


def test_to_arm_keeps_arm_shape_and_unflattens_old_models() -> None:
    arm = {
        "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/firewallPolicies/p/ruleCollectionGroups/r",
        "name": "r",
        "type": "Microsoft.Network/FirewallPolicies/RuleCollectionGroups",
        "properties": {"priority": 100, "ruleCollections": []},
    }
    assert to_arm(arm) == arm and list(to_arm(arm))[:3] == ["id", "name", "type"]
    flat = {"id": arm["id"], "name": "r", "priority": 100, "ruleCollections": [], "etag": "x"}
    out = to_arm(flat)
    assert out["properties"] == {"priority": 100, "ruleCollections": []}
    assert out["type"] == "microsoft.network/firewallpolicies/rulecollectiongroups", "type taken from the id"
    assert parse_id(arm["id"]) == ("s", "g", "p")
    assert parse_id("/providers/Microsoft.Management/managementGroups/x") is None


# ---------------------------------------------------------------- the snapshot file


def snapshot_doc() -> dict:
    stats = Stats()
    inv = Inventory(stats)
    inv.add_all(
        [
            {
                "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/connections/c",
                "type": "microsoft.network/connections",
                "properties": {"sharedKey": "hunter2"},
            },
            {
                "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/connections/C",
                "type": "microsoft.network/connections",
                "properties": {},
            },
            {"no": "id"},
        ]
    )
    stats.fail("/subscriptions/t", "resource-graph:compute", "HTTP 403 AuthorizationFailed: no")
    return build_snapshot(
        collected_at="2026-11-23T10:00:00Z",
        tenant_id="t",
        subscriptions=["s"],
        management_groups=[],
        queries=load_queries(),
        stats=stats,
        resources=inv.resources(),
        effective_routes={"/n": [{"nextHopType": "None"}]},
    )


def test_inventory_dedupes_by_id_redacts_and_keeps_unusable_rows() -> None:
    doc = snapshot_doc()
    assert len(doc["resources"]) == 2, "one connection (ids compare case-insensitively) + the id-less row"
    assert doc["resources"][0]["properties"]["sharedKey"] == REDACTED
    assert doc["resources"][1] == {"no": "id"}, "kept for the audit to report, not dropped"
    assert doc["schema"] == SNAPSHOT_SCHEMA and doc["coverage"]["complete"] is False
    assert set(doc["queries"]) == set(load_queries())


@pytest.mark.parametrize("name", ["snap.json.gz", "sub/dir/snap.json"])
def test_snapshot_written_0600_and_read_back(tmp_path: Path, name: str) -> None:
    path = write_snapshot(snapshot_doc(), tmp_path / name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    blob = path.read_bytes()
    if name.endswith(".gz"):
        blob = gzip.decompress(blob)
    assert b"hunter2" not in blob
    raw = read_inputs([path])
    assert len(raw.resources) == 2 and raw.collected_at == "2026-11-23T10:00:00Z"
    assert [p.resource_id for p in raw.problems] == ["/subscriptions/t"]
    assert raw.effective_routes == {"/n": [{"nextHopType": "None"}]}
    assert not list(path.parent.glob(".*.tmp")), "no temporary file left behind"


def test_snapshot_overwrite_narrows_permissions(tmp_path: Path) -> None:
    path = tmp_path / "snap.json.gz"
    path.write_text("old")
    path.chmod(0o644)
    write_snapshot(snapshot_doc(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_summary_names_every_failure() -> None:
    stats = Stats()
    stats.per_type["microsoft.network/virtualnetworks"] = 3
    stats.fail("/subscriptions/x", "resource-graph:compute", "HTTP 403 AuthorizationFailed: no")
    stats.fail("/subscriptions/x", "resource-graph:firewalls", "HTTP 403 AuthorizationFailed: no")
    lines = summary_lines(stats, {"extras": {}}, "out.json.gz")
    text = "\n".join(lines)
    assert "collected 3 resources" in text and "microsoft.network/virtualnetworks" in text
    assert "/subscriptions/x [resource-graph:compute, resource-graph:firewalls]: HTTP 403" in text
    assert "INCOMPLETE" in text and "out.json.gz (mode 0600)" in text
