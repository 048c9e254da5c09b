"""The real LogsQueryClient against a fake Log Analytics endpoint on 127.0.0.1 (tests/fakeloganalytics).

Token credential only, loopback only (checked with the network guard). Covers success, partial
results, errors (400, 500), a missing AZFWFlowTrace table, what is sent (the aggregated KQL, the
timespan, the bearer token, the audience), and the CLI end to end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run_cli
from fakeazure.netguard import NetGuard
from fakeloganalytics import FakeLogAnalytics, Workspace, load_csv_rows

from auditor.collect.credentials import StaticTokenCredential
from auditor.confirm import confirm_document
from auditor.confirm.flows import TargetSet, targets_from_document
from auditor.confirm.loganalytics import (
    make_client,
    parse_timespan,
    render_query,
    resolve_logs_endpoint,
)
from auditor.errors import UsageError

LOGS = REPO / "fixtures" / "flowlogs"
S05 = json.loads((REPO / "fixtures" / "findings" / "S05-findings.json").read_text())
S01 = json.loads((REPO / "fixtures" / "findings" / "S01-findings.json").read_text())


def rows(case: str) -> list[dict[str, Any]]:
    return load_csv_rows(LOGS / f"{case}.csv")


@pytest.fixture(scope="module")
def fake():
    workspaces = {
        "ws-asym": Workspace(rows("asymmetric")),
        "ws-sym": Workspace(rows("symmetric")),
        "ws-snat": Workspace(rows("snat")),
        "ws-partial-sym": Workspace(rows("symmetric"), mode="partial"),
        "ws-partial-asym": Workspace(rows("asymmetric"), mode="partial"),
        "ws-400": Workspace(mode="error", status=400),
        "ws-500": Workspace(mode="error", status=500),
        "ws-no-flowtrace": Workspace(rows("no-flowtrace"), mode="missing-table"),
        "ws-empty": Workspace([]),
    }
    with FakeLogAnalytics(workspaces) as server:
        yield server


class RecordingCredential(StaticTokenCredential):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.scopes.append(scopes)
        return super().get_token(*scopes, **kwargs)


def client_for(fake: FakeLogAnalytics, credential: Any = None) -> Any:
    url, audience = resolve_logs_endpoint("AzureCloud", fake.url, None)
    return make_client(
        credential or StaticTokenCredential("test-token"),
        url,
        audience,
        connection_verify=fake.ca_path,
        retry_total=0,
    )


def confirm(fake: FakeLogAnalytics, workspace: str, doc: dict[str, Any] = S05, **kw: Any):
    with NetGuard() as guard:
        res = confirm_document(doc, workspace=workspace, logs_client=client_for(fake), **kw)
    assert guard.foreign == [] and guard.seen
    return res


def finding(res) -> dict[str, Any]:
    return next(f for f in res.document["findings"] if f["rule_id"] == "NET001")


def log_evidence(res) -> dict[str, Any]:
    return next(e for e in finding(res)["evidence"] if e["kind"] == "log")


@pytest.mark.parametrize(
    ("workspace", "status", "words"),
    [
        ("ws-asym", "confirmed", ["3 INVALID flow-trace row(s)", "workspace ws-asym (P1D)"]),
        ("ws-sym", "refuted", ["12 reply row(s)"]),
        ("ws-snat", "refuted", ["SNAT to 10.0.1.6"]),
        (
            "ws-empty",
            "inconclusive",
            ["no matching traffic", "AZFWFlowTrace has no rows at all", "AFWEnableTcpConnectionLogging"],
        ),
    ],
)
def test_success(fake: FakeLogAnalytics, workspace: str, status: str, words: list[str]) -> None:
    res = confirm(fake, workspace)
    f = finding(res)
    assert f["status"] == status
    ev = log_evidence(res)
    assert ev["id"] == f"workspace:{workspace}"
    assert ev["path"] == "checks/log-analytics/flow-trace.kql, checks/log-analytics/network-rule.kql"
    for w in words:
        assert w in ev["note"]
    assert [s["status"] for s in ev["value"]["sources"]] == ["success", "success"]
    assert res.problems == [] and res.complete


def test_the_query_sent_is_aggregated(fake: FakeLogAnalytics) -> None:
    before = len(fake.requests)
    cred = RecordingCredential("secret-token")
    with NetGuard():
        confirm_document(S05, workspace="ws-asym", timespan="PT6H", logs_client=client_for(fake, cred))
    sent = fake.requests[before:]
    assert [r.path for r in sent] == ["/v1/workspaces/ws-asym/query"] * 2
    for r in sent:
        q = r.query
        assert "summarize" in q and "10.2.1.4" in q and "ipv4_is_in_any_range" in q
        assert "project *" not in q and "take " not in q.replace("take_any", "")
        assert 'let PrivateEndpoints = dynamic(["10.2.1.4/32"]);' in q
        assert 'let SourceRanges = dynamic(["10.1.1.0/24", "10.1.2.0/24", "10.0.1.0/26"]);' in q
        assert "let Ports = dynamic([443]);" in q
        assert r.headers["authorization"] == "Bearer secret-token"
        assert r.body["timespan"] in ("PT21600.0S", "PT6H", "PT21600S")
    assert "AZFWFlowTrace" in sent[0].query and "AZFWNetworkRule" in sent[1].query
    # the token is asked for the endpoint's audience (endpoint overridden: audience= passed explicitly)
    assert cred.scopes and all(s == (f"{fake.url}/.default",) for s in cred.scopes)


def test_partial_results_are_reported_not_swallowed(fake: FakeLogAnalytics) -> None:
    res = confirm(fake, "ws-partial-sym")
    ev = log_evidence(res)
    assert finding(res)["status"] == "refuted"  # replies seen in partial data still refute
    assert [s["status"] for s in ev["value"]["sources"]] == ["partial", "partial"]
    assert "Query exceeded the memory limit" in ev["value"]["sources"][0]["error"]
    assert "partial results" in ev["note"]
    assert not res.complete and res.exit_code("never", False) == 3
    assert {p.effect for p in res.problems} == {"export incomplete"}
    skipped = res.document["coverage"]["skipped"]
    assert res.document["coverage"]["complete"] is False and len(skipped) == 2
    # absence of replies in partial data proves nothing
    res = confirm(fake, "ws-partial-asym")
    assert finding(res)["status"] == "inconclusive"
    assert log_evidence(res)["note"].startswith("partial results:")


@pytest.mark.parametrize(("workspace", "code"), [("ws-400", 400), ("ws-500", 500)])
def test_errors_become_evidence_and_coverage_problems(
    fake: FakeLogAnalytics, workspace: str, code: int
) -> None:
    res = confirm(fake, workspace)
    ev = log_evidence(res)
    assert finding(res)["status"] == "inconclusive"
    assert ev["note"].startswith("flow-trace query failed: HTTP " + str(code))
    assert [s["status"] for s in ev["value"]["sources"]] == ["error", "error"]
    assert {p.effect for p in res.problems} == {"scope not collected"}
    assert res.exit_code("high", False) == 1  # NET004 (high) still stands
    assert res.exit_code("never", False) == 3 and res.exit_code("never", True) == 0


def test_missing_flow_trace_table_says_flow_trace_is_not_enabled(fake: FakeLogAnalytics) -> None:
    res = confirm(fake, "ws-no-flowtrace")
    ev = log_evidence(res)
    assert finding(res)["status"] == "inconclusive"
    assert "6 SYN row(s)" in ev["note"] and "flow trace may not be enabled" in ev["note"]
    assert ev["value"]["sources"][0]["status"] == "table missing"
    assert "AZFWFlowTrace does not exist in workspace ws-no-flowtrace" in ev["value"]["notes"]
    assert res.problems == []


def test_nva_flow_is_not_claimed_by_firewall_logs(fake: FakeLogAnalytics) -> None:
    res = confirm(fake, "ws-asym", doc=S01)
    assert finding(res)["status"] == "inconclusive"
    assert "not an Azure Firewall" in log_evidence(res)["note"]


def test_cli_end_to_end_with_token_credential(fake: FakeLogAnalytics, tmp_path: Path) -> None:
    netlog = tmp_path / "net.log"
    env = {
        "AZURE_ACCESS_TOKEN": "cli-token",
        "REQUESTS_CA_BUNDLE": fake.ca_path,
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "tests" / "fakeazure" / "site"), os.environ.get("PYTHONPATH", "")]
        ),
        "PATHAUDIT_TEST_NETLOG": str(netlog),
    }
    out = tmp_path / "confirmed.json"
    code, _, err = run_cli(
        "confirm",
        "fixtures/findings/S05-findings.json",
        "--workspace",
        "ws-asym",
        "--credential",
        "token",
        "--logs-endpoint",
        fake.url,
        "--timespan",
        "P2D",
        "--out",
        str(out),
        env=env,
    )
    assert code == 1, err
    assert "NET001 rt-spoke -> pe-aoai: confirmed" in err
    doc = json.loads(out.read_text())
    assert finding(type("R", (), {"document": doc})())["status"] == "confirmed"
    assert fake.requests[-1].headers["authorization"] == "Bearer cli-token"
    assert fake.requests[-1].body["timespan"] in ("P2D", "PT172800.0S", "PT172800S")
    assert set(netlog.read_text().split()) == {"127.0.0.1"}  # the subprocess's network guard log
    code, _, err = run_cli(
        "confirm",
        "fixtures/findings/S05-findings.json",
        "--workspace",
        "ws-400",
        "--credential",
        "token",
        "--logs-endpoint",
        fake.url,
        "--fail-on",
        "never",
        env=env,
    )
    assert code == 3, err
    assert "coverage incomplete" in err


def test_rendered_kql_files_are_the_checked_in_ones() -> None:
    ts = TargetSet.of(targets_from_document(S05))
    for name in ("flow-trace.kql", "network-rule.kql"):
        text = (REPO / "checks" / "log-analytics" / name).read_text()
        assert text.startswith("// pathaudit")
        rendered = render_query(name, ts)
        # only the three let lines differ
        diff = [(a, b) for a, b in zip(text.splitlines(), rendered.splitlines(), strict=True) if a != b]
        assert all(a.startswith("let ") and b.startswith("let ") for a, b in diff)
        assert (
            "summarize Rows = count(), FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated)" in text
        )
        assert "take_any(ClientPort)" in text and "project *" not in text


def test_timespan_and_endpoint_parsing() -> None:
    from datetime import datetime, timedelta

    assert parse_timespan("P1D") == timedelta(days=1)
    assert parse_timespan("PT6H30M") == timedelta(hours=6, minutes=30)
    assert parse_timespan("P1W") == timedelta(weeks=1)
    start, end = parse_timespan("2026-01-01T00:00:00Z/2026-01-02T00:00:00Z")
    assert isinstance(start, datetime) and end - start == timedelta(days=1)
    for bad in ("1d", "P", "PT0S", "yesterday/now"):
        with pytest.raises(UsageError):
            parse_timespan(bad)
    assert resolve_logs_endpoint("AzureChinaCloud", None, None) == ("https://api.loganalytics.azure.cn",) * 2
    assert resolve_logs_endpoint("AzureCloud", "https://la.example.test/", None) == (
        "https://la.example.test",
        "https://la.example.test",
    )
    with pytest.raises(UsageError, match="https"):
        resolve_logs_endpoint("AzureCloud", "http://127.0.0.1:1", None)
