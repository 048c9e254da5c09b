"""Offline Azure Firewall log exports through DuckDB (auditor.confirm.flowlogs) and the log verdicts."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from conftest import grouped

from auditor.confirm import logs
from auditor.confirm.flowlogs import aggregation_sql, analyse_exports, sniff_format
from auditor.confirm.flows import TargetSet, target_from_finding
from auditor.confirm.verdict import log_verdict
from auditor.errors import InputError

REPO = Path(__file__).resolve().parent.parent
LOGS = REPO / "fixtures" / "flowlogs"
AFW1 = (
    "/subscriptions/3f2c8a71-5b0e-4d2a-9c7e-1a2b3c4d5e6f/resourceGroups/rg-hub/providers/"
    "Microsoft.Network/azureFirewalls/afw1"
)
SENTINEL = (
    REPO
    / "fixtures"
    / "flowlogs"
    / "real"
    / "Microsoft_Azure_Firewall_NetworkSession_IngestedLogs.EXCERPT_first11rows.csv"
)


def target(
    prefixes=("10.1.1.0/24", "10.1.2.0/24"),
    dst="10.2.1.4",
    port=443,
    kind="azure-firewall",
    fw_id=AFW1,
    ip="10.0.1.4",
):
    flow = {
        "source": "ctx",
        "source_subnets": [],
        "source_prefixes": list(prefixes),
        "destination": "/pe",
        "destination_ip": dst,
        "port": port,
        "forward": [{"hop": "fw", "kind": kind, "id": fw_id, "ip": ip}],
        "return": [],
        "verdict": "asymmetric",
    }
    t = target_from_finding(0, {"rule_id": "NET001", "fingerprint": "f" * 32, "flow": grouped(flow)})
    assert t is not None
    return t


def judge(paths: list[Path], t=None):
    t = t or target()
    data = analyse_exports([str(p) for p in paths], TargetSet.of([t]))
    obs = logs.observe(data, t)
    return (
        data,
        obs,
        log_verdict(obs, t, flowtrace_rows=data.flowtrace_rows, partial=data.partial, where=data.label),
    )


def groups_key(data) -> list[tuple]:
    return sorted(
        (
            g.table,
            g.firewall,
            g.direction,
            g.client_ip,
            g.pe_ip,
            g.pe_port,
            g.flag,
            g.rows,
            round(g.first_seen or 0, 3),
            round(g.last_seen or 0, 3),
        )
        for g in data.groups
    )


@pytest.mark.parametrize(
    "case", ["symmetric", "asymmetric", "snat", "no-flowtrace", "nomatch", "return-only"]
)
def test_csv_json_parquet_aggregate_identically(case: str) -> None:
    t = target()
    results = {
        ext: analyse_exports([str(LOGS / f"{case}.{ext}")], TargetSet.of([t]))
        for ext in ("csv", "json", "parquet")
    }
    keys = {ext: groups_key(d) for ext, d in results.items()}
    assert keys["csv"] == keys["json"] == keys["parquet"]
    assert results["csv"].totals == results["json"].totals == results["parquet"].totals
    assert [s["format"] for s in (results[e].sources[0] for e in ("csv", "json", "parquet"))] == [
        "csv",
        "json-array",
        "parquet",
    ]


def test_portal_csv_and_split_exports_equal_the_union_export() -> None:
    union = groups_key(analyse_exports([str(LOGS / "asymmetric.csv")], TargetSet.of([target()])))
    portal = groups_key(analyse_exports([str(LOGS / "asymmetric-portal.csv")], TargetSet.of([target()])))
    split = analyse_exports(
        [str(LOGS / "asymmetric-networkrule.csv"), str(LOGS / "asymmetric-flowtrace.json")],
        TargetSet.of([target()]),
    )
    assert portal == union
    assert groups_key(split) == union
    assert split.totals == {"AZFWNetworkRule": 9, "AZFWFlowTrace": 6}
    assert union[0][8] == pytest.approx(
        1767261600.0, abs=0.01
    )  # 2026-01-01T10:00:00Z from either time format


@pytest.mark.parametrize(
    ("case", "status", "words"),
    [
        ("symmetric", "refuted", ["12 reply row(s)", "the return path crosses the firewall"]),
        ("asymmetric", "confirmed", ["3 INVALID flow-trace row(s)", "no SYN-ACK"]),
        ("snat", "refuted", ["SNAT to 10.0.1.6 observed"]),
        (
            "no-flowtrace",
            "inconclusive",
            [
                "6 SYN row(s)",
                "AZFWFlowTrace has no rows at all",
                "AFWEnableTcpConnectionLogging",
                "resource-specific",
            ],
        ),
        ("nomatch", "inconclusive", ["no matching traffic"]),
    ],
)
def test_verdicts_per_case(case: str, status: str, words: list[str]) -> None:
    _data, _obs, v = judge([LOGS / f"{case}.parquet"])
    assert v.status == status, v.reason
    for w in words:
        assert w in v.reason


def test_syn_without_syn_ack_while_flow_trace_is_active_confirms_as_inference(tmp_path: Path) -> None:
    """Flow-trace evidence, the inferred pattern (an allowed client->PE SYN with no reversed SYN-ACK):
    allowed SYNs, no SYN-ACK, flow trace active (other flows traced)."""
    rows = list(csv.DictReader((LOGS / "asymmetric.csv").open()))
    kept = [r for r in rows if r["Flag"] != "INVALID"]
    p = tmp_path / "noinvalid.csv"
    with p.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(kept)
    _data, _obs, v = judge([p])
    assert v.status == "confirmed"
    assert "no SYN-ACK came back" in v.reason and "inference" in v.reason


def test_logs_do_not_speak_for_nva_flows() -> None:
    _data, _obs, v = judge([LOGS / "asymmetric.csv"], target(kind="nva", fw_id="/nic", ip="10.0.2.4"))
    assert v.status == "inconclusive" and "not an Azure Firewall" in v.reason


def test_rows_of_other_firewalls_are_set_aside() -> None:
    other = AFW1.replace("afw1", "afw-other")
    _data, obs, v = judge([LOGS / "symmetric.csv"], target(fw_id=other))
    assert obs.other_firewall_rows == 24
    assert v.status == "inconclusive" and "other firewalls" in v.reason


def test_return_only_invalid_rows_confirm_net008_pattern() -> None:
    t = target(prefixes=(), fw_id=None)
    _data, _obs, v = judge([LOGS / "return-only.json"], t)
    assert v.status == "confirmed" and "3 INVALID" in v.reason


def test_real_sentinel_asim_excerpt_denied_is_blocked_not_asymmetric() -> None:
    """ASIM column names (SrcIpAddr, DstPortNumber, DvcAction, 'TimeGenerated [UTC]'); all rows Deny."""
    fw = "/subscriptions/00e5137b-e743-4b43-b74f-25c2f258d841/resourcegroups/rg-soc-ns/providers/microsoft.network/azurefirewalls/azfw-hub-alpineskihouse"
    t = target(prefixes=("45.146.130.0/24",), dst="13.89.231.38", port=443, fw_id=fw)
    data, obs, v = judge([SENTINEL], t)
    assert data.totals == {"AZFWNetworkRule": 11}
    assert obs.forward == {"DENY": 4}
    assert v.status == "inconclusive" and "denied 4 SYN(s)" in v.reason
    assert obs.first_seen is not None and obs.first_seen == pytest.approx(
        1752828254.962, abs=0.01
    )  # 8:44:14.962 AM


def test_gzipped_csv_and_ndjson(tmp_path: Path) -> None:
    gz = tmp_path / "a.csv.gz"
    gz.write_bytes(gzip.compress((LOGS / "asymmetric.csv").read_bytes()))
    nd = tmp_path / "a.ndjson"
    nd.write_text("\n".join(json.dumps(r) for r in json.loads((LOGS / "asymmetric.json").read_text())) + "\n")
    ref = groups_key(analyse_exports([str(LOGS / "asymmetric.csv")], TargetSet.of([target()])))
    assert groups_key(analyse_exports([str(gz)], TargetSet.of([target()]))) == ref
    assert groups_key(analyse_exports([str(nd)], TargetSet.of([target()]))) == ref
    assert sniff_format(nd) == "json-lines"


def test_preaggregated_kql_output_is_read_as_is(tmp_path: Path) -> None:
    """A user who ran checks/log-analytics/*.kql in the portal and exported the result can pass it."""
    p = tmp_path / "kql-result.csv"
    p.write_text(
        "Table,Firewall,Direction,ClientIp,PeIp,PePort,Flag,Rows,FirstSeen,LastSeen,SampleClientPort,ClientPorts\n"
        f"AZFWNetworkRule,{AFW1.lower()},forward,10.1.1.10,10.2.1.4,443,SYN,40,2026-01-01T10:00:00Z,2026-01-01T11:00:00Z,50001,40\n"
        f"AZFWFlowTrace,{AFW1.lower()},reverse,10.1.1.10,10.2.1.4,443,SYN-ACK,40,2026-01-01T10:00:00Z,2026-01-01T11:00:00Z,50001,40\n"
        "AZFWFlowTrace,,(all rows),,,,,5000,2026-01-01T00:00:00Z,2026-01-02T00:00:00Z,,\n"
    )
    data, obs, v = judge([p])
    assert data.totals["AZFWFlowTrace"] == 5040 and obs.reverse == {"SYN-ACK": 40}
    assert v.status == "refuted"


def test_unusable_files_are_input_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="not an Azure Firewall log export: no column for SourceIp"):
        analyse_exports([str(bad)], TargetSet.of([target()]))
    with pytest.raises(InputError, match="not found"):
        analyse_exports([str(tmp_path / "missing.csv")], TargetSet.of([target()]))
    broken = tmp_path / "broken.json"
    broken.write_text('[{"SourceIp": "1.2.3.4", ')
    with pytest.raises(InputError, match="cannot read as json-array"):
        analyse_exports([str(broken)], TargetSet.of([target()]))


def test_aggregation_is_out_of_core_and_bounded() -> None:
    """The SQL aggregates (GROUP BY) and the connection has a memory limit and a spill directory."""
    from auditor.confirm.flowlogs import _connect

    con = _connect("1GB", None, None)
    try:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        assert limit.replace(" ", "").upper() in ("1GB", "953.6MIB", "1.0GB", "0.9GIB", "953.6MB")
        assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    finally:
        con.close()
    sql = aggregation_sql(
        "src",
        {
            "SourceIp": "VARCHAR",
            "DestinationIp": "VARCHAR",
            "SourcePort": "VARCHAR",
            "DestinationPort": "VARCHAR",
            "Flag": "VARCHAR",
        },
        TargetSet.of([target()]),
    )
    assert "GROUP BY" in sql and "'10.2.1.4'" in sql and "IN (443)" in sql


def test_subnet_wide_destination_uses_ranges() -> None:
    t = target(dst="10.2.1.0/24")
    data = analyse_exports([str(LOGS / "symmetric.csv")], TargetSet.of([t]))
    assert {g.pe_ip for g in data.groups} == {"10.2.1.4"}
    assert (
        log_verdict(
            logs.observe(data, t), t, flowtrace_rows=data.flowtrace_rows, partial=False, where="x"
        ).status
        == "refuted"
    )
