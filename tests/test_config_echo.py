"""Issue #13, item 12: config values that change verdicts are echoed in the findings document and named
in the evidence of the findings they changed; the config file in use is always announced."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from conftest import REPO, run_cli

S11 = REPO / "fixtures" / "scenarios" / "S11-gatewaysubnet-udr" / "resources.json"
S20 = REPO / "fixtures" / "scenarios" / "S20-config-declares-snat"


def test_the_config_in_use_is_announced_and_echoed() -> None:
    cfg = S20 / "pathaudit.toml"
    code, out, err = run_cli("audit", S20 / "resources.json", "--config", cfg, "--format", "json")
    assert code == 0, err
    assert f"pathaudit: config: {cfg}" in err
    doc = json.loads(out)
    assert doc["config"]["file"] == str(cfg)
    assert doc["config"]["sha256"] == hashlib.sha256(cfg.read_bytes()).hexdigest()
    assert doc["config"]["values"]["appliances"] == [
        {"nic": doc["config"]["values"]["appliances"][0]["nic"], "snat": True}
    ]
    # without a config file: no block, no announcement
    code, out, err = run_cli("audit", S20 / "resources.json", "--format", "json", cwd=REPO / "tests")
    assert "config" not in json.loads(out) and "config:" not in err


def test_findings_a_config_value_changed_name_it(tmp_path: Path) -> None:
    cfg = tmp_path / "pathaudit.toml"
    cfg.write_text(
        '[network]\non_premises = ["172.16.0.0/16"]\n[[gateways]]\nname = "apigee"\n'
        'subnets = ["/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/'
        'subnets/s"]\n',
        encoding="utf-8",
    )
    code, out, err = run_cli("audit", S11, "--config", cfg, "--format", "json", "--fail-on", "never")
    assert code == 0, err
    doc = json.loads(out)
    onprem = [
        f for f in doc["findings"] if f["rule_id"] == "NET001" and f["flow"]["sources"] == ["on-premises"]
    ]
    assert onprem and any(
        e["path"] == "network.on_premises" and e["value"] == ["172.16.0.0/16"] for e in onprem[0]["evidence"]
    )
    [aoai] = [f for f in doc["findings"] if f["rule_id"] == "AOAI005"]
    assert any(e["path"] == "gateways" and e["value"] == ["apigee"] for e in aoai["evidence"])
