"""A 20,000-resource tenant over 1001 subscriptions: two subscription batches, 20+ Resource Graph
pages, exactly the served resources once each (tests/bench/collect_20k.py measures it)."""

from __future__ import annotations

import time

import pytest
from fakeazure import FakeAzure, NetGuard
from fakeazure.harness import collect_from
from fakeazure.tenant import synthetic_tenant


@pytest.mark.slow
def test_20k_resources_over_1001_subscriptions() -> None:
    rows, subs = synthetic_tenant(20_000, 1001)
    with NetGuard() as guard, FakeAzure(rows) as fake:
        start = time.perf_counter()
        result, sleeps = collect_from(fake, subscriptions=tuple(subs))
        elapsed = time.perf_counter() - start
    assert guard.foreign == []
    got = [r["id"] for r in result.snapshot["resources"]]
    assert len(got) == len(set(got)) == 20_000, "no duplicates"
    assert set(got) == {r["id"] for r in rows}, "exactly the served ids"
    assert result.stats.duplicates == 0 and result.snapshot["coverage"]["complete"] is True
    requests = fake.graph_requests()
    sizes = sorted({len(r.body["subscriptions"]) for r in requests})
    assert sizes == [1, 1000], "two batches: 1000 subscriptions, then the 1001st"
    assert result.stats.pages == len(requests) >= 20
    assert sum(1 for r in requests if "$skipToken" in r.body["options"]) >= 18, "paged with $skipToken"
    assert sleeps == []
    assert elapsed < 20, f"{elapsed:.1f}s"
