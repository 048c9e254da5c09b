"""Issue #13, item 4: secrets never reach an output. Key-like values (key1/key2, primaryKey, SAS `sig=`,
AccountKey=/SharedAccessKey= connection strings, Authorization values, PEM private keys, subscription
keys) are redacted in findings, stderr and bundles, wherever they sit (tags included); a token echoed
back in a server's error never reaches stderr or a snapshot's coverage.failed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, run_cli, write_json

from auditor.collect.progress import Failure
from auditor.collect.redact import redact, scrub

S03 = REPO / "fixtures" / "scenarios" / "S03-tag-on-vm-not-nic" / "resources.json"
SECRETS = {
    "sas": "https://st.blob.core.windows.net/c?sv=2022-11-02&sig=Zm9vYmFyU0VDUkVUc2ln%3D&se=2030",
    "conn": "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=U0VDUkVUYWNjb3VudGtleQ==;EndpointSuffix=x",
    "sb": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=r;SharedAccessKey=U0VDUkVUc2JrZXk=",
    "bearer": "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUNSRVQifQ.U0VDUkVU",
    "pem": "-----BEGIN PRIVATE KEY-----\nU0VDUkVUcGVt\n-----END PRIVATE KEY-----",
    "apim": "Ocp-Apim-Subscription-Key: U0VDUkVUYXBpbWtleQ",
}
MARKERS = (
    "Zm9vYmFyU0VDUkVUc2ln",
    "U0VDUkVUYWNjb3VudGtleQ",
    "U0VDUkVUc2JrZXk",
    "eyJzdWIiOiJTRUNSRVQifQ",
    "U0VDUkVUcGVt",
    "U0VDUkVUYXBpbWtleQ",
    "U0VDUkVUa2V5MQ",
)


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_scrub_replaces_each_kind(name: str) -> None:
    clean, n = scrub(SECRETS[name])
    assert n >= 1 and not any(m in clean for m in MARKERS)


def test_key_like_names_and_values_anywhere() -> None:
    doc = {
        "properties": {
            "key1": "U0VDUkVUa2V5MQ",
            "keyCreationTime": {"key1": "2024-03-12T09:02:11Z"},
            "disableLocalAuth": True,
        },
        "tags": {"backup": SECRETS["sas"]},
    }
    clean, n = redact(doc)
    assert n == 2 and clean["properties"]["keyCreationTime"]["key1"] == "2024-03-12T09:02:11Z"
    assert "U0VDUkVUa2V5MQ" not in json.dumps(clean) and "Zm9vYmFy" not in json.dumps(clean)


def test_findings_stderr_and_bundles_carry_no_secret(tmp_path: Path) -> None:
    rows = json.loads(S03.read_text("utf-8"))
    vm = next(r for r in rows if r["type"] == "microsoft.compute/virtualmachines" and r["name"] == "nva1")
    vm["tags"] = {**vm["tags"], "disableSnatOnPL": "true " + SECRETS["sas"], "conn": SECRETS["conn"]}
    bad = {
        "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/routeTables/" + "rt",
        "type": "microsoft.network/routetables",
        "name": SECRETS["bearer"],
        "properties": {"routes": "x"},
    }
    path = write_json(tmp_path, "estate/resources.json", [*rows, bad])
    bundle = tmp_path / "b.zip"
    code, out, err = run_cli(
        "audit", path.parent, "--format", "json", "--bundle", bundle, "--fail-on", "never"
    )
    assert code == 3 and "Traceback" not in err  # the broken route table is named; the rest is audited
    with zipfile.ZipFile(bundle) as zf:
        packed = b"".join(zf.read(n) for n in zf.namelist()).decode("utf-8", "replace")
    for where in (out, err, packed):
        assert not any(m in where for m in MARKERS), [m for m in MARKERS if m in where]
    assert "redacted by pathaudit" in out  # the NET003 evidence shows the tag, scrubbed


def test_a_token_echoed_by_a_server_never_reaches_coverage_failed() -> None:
    f = Failure(
        "/subscriptions/x",
        "resources",
        "401: bad token\nAuthorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTRUNSRVQifQ.U0VDUkVU echoed",
    )
    text = json.dumps(f.to_dict())
    assert "eyJzdWIiOiJTRUNSRVQifQ" not in text and "\\n" not in text
