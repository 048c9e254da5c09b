"""Helpers that point pathaudit's live collection at a FakeAzure (in-process or as a CLI subprocess)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fakeazure.netguard import SITE_DIR
from fakeazure.server import FakeAzure, load_rows

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "fixtures" / "estates" / "demo-contoso" / "resources.json"
TOKEN = "fake-bearer-token-7c1d0e5b"  # what tests check never leaks into outputs


def demo_rows() -> list[dict[str, Any]]:
    return load_rows(DEMO)


class Sleeps(list):
    """An injectable sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def collect_from(fake: FakeAzure, reporter: Any = None, **options: Any) -> tuple[Any, Sleeps]:
    """Run auditor.collect.live.collect against `fake` with the `token` credential; no real waits."""
    from auditor.collect.credentials import StaticTokenCredential
    from auditor.collect.live import CollectOptions, collect
    from auditor.collect.progress import Reporter

    sleeps = Sleeps()
    values = {
        "arm_endpoint": fake.url,
        "verify": fake.ca_path,
        "credential": "token",
        "sleep": sleeps,
        "request_timeout": 5.0,
        "poll_interval": 0.01,
        **options,
    }
    result = collect(
        CollectOptions(**values), reporter or Reporter(), credential=StaticTokenCredential(TOKEN)
    )
    return result, sleeps


def cli_env(fake: FakeAzure, netlog: Path) -> dict[str, str]:
    """Environment overrides for a `pathaudit collect/audit --live` subprocess against `fake`: the token
    credential, the fake's CA trusted, and the loopback-only network guard (sitecustomize) logging
    every destination to `netlog`."""
    return {
        "AZURE_ACCESS_TOKEN": TOKEN,
        "REQUESTS_CA_BUNDLE": fake.ca_path,
        "PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(REPO)]),
        "PATHAUDIT_TEST_NETLOG": str(netlog),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "CI": "1",
    }


def live_args(fake: FakeAzure, *extra: str) -> list[str]:
    return ["--credential", "token", "--arm-endpoint", fake.url, "--request-timeout", "5", *extra]
