"""Issue #13, item 5: collection always ends. A $skipToken cycle (A, B, A ...) or endless empty pages stop
with a coverage gap; an overall deadline bounds every call; Retry-After is capped; an HTML page where
JSON is due and a host name that does not resolve fail fast with a clear message, without a minute of
retries. (Paging, 429 and 5xx against a real SDK client on a loopback server: tests/test_collect_live.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from azure.core.exceptions import DecodeError, HttpResponseError, ServiceRequestError

from auditor.collect.progress import Reporter, Stats
from auditor.collect.resource_graph import GraphCollector, Query, Scope
from auditor.collect.retry import CallFailed, CollectAborted, RetryPolicy, call, decide


@dataclass
class Page:
    data: list[dict[str, Any]]
    skip_token: str | None
    total_records: int | None = None
    result_truncated: str = "false"


class Pages:
    """Stands in for the SDK's `resources` call: serves a scripted list of pages, then repeats the last."""

    def __init__(self, pages: list[Page]) -> None:
        self.pages, self.calls = pages, 0

    def resources(self, request: Any, raw_response_hook: Any = None) -> Page:
        page = self.pages[min(self.calls, len(self.pages) - 1)]
        self.calls += 1
        return page


def collect(pages: list[Page], policy: RetryPolicy | None = None) -> tuple[Stats, Pages, list]:
    client = Pages(pages)
    stats, rows = Stats(), []
    GraphCollector(client, policy or RetryPolicy(sleep=lambda s: None), stats, Reporter()).run(
        Query("q", "Resources | project id"), Scope(("s1",)), rows.extend
    )
    return stats, client, rows


def test_a_skip_token_cycle_stops_with_a_gap() -> None:
    stats, client, rows = collect(
        [Page([{"id": "a"}], "A"), Page([{"id": "b"}], "B"), Page([{"id": "c"}], "A")]
    )
    assert client.calls == 3 and len(rows) == 3
    [failure] = stats.failures
    assert "returned before" in failure.error


def test_endless_empty_pages_stop_with_a_gap() -> None:
    pages = [Page([], f"T{i}") for i in range(1000)]
    stats, client, _ = collect(pages)
    assert client.calls <= 4 and "empty pages" in stats.failures[0].error


def test_the_deadline_bounds_the_collection() -> None:
    now = [0.0]
    policy = RetryPolicy(sleep=lambda s: None, deadline=10.0, clock=lambda: now[0])
    pages = [Page([{"id": str(i)}], f"T{i}") for i in range(100)]

    class Slow(Pages):
        def resources(self, request: Any, raw_response_hook: Any = None) -> Page:
            now[0] += 4.0  # each page takes 4 s
            return super().resources(request, raw_response_hook)

    client, stats, rows = Slow(pages), Stats(), []
    GraphCollector(client, policy, stats, Reporter()).run(Query("q", "x"), Scope(("s1",)), rows.extend)
    assert client.calls == 3 and "deadline" in stats.failures[0].error


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str], body: str = "") -> None:
        self.status_code, self.headers, self._body, self.reason = status, headers, body, "x"

    def text(self) -> str:
        return self._body


def http_error(status: int, headers: dict[str, str]) -> HttpResponseError:
    exc = HttpResponseError(message="throttled", response=None)
    exc.status_code = status
    exc.response = FakeResponse(status, headers)  # type: ignore[assignment]
    return exc


def test_retry_after_is_capped() -> None:
    policy = RetryPolicy(sleep=lambda s: None)
    assert decide(http_error(429, {"Retry-After": "86400"}), 1, policy) == policy.max_retry_after


def test_a_retry_that_would_pass_the_deadline_is_not_waited_for() -> None:
    policy = RetryPolicy(sleep=lambda s: pytest.fail("slept"), deadline=5.0, clock=lambda: 0.0)

    def throttled() -> None:
        raise http_error(429, {"Retry-After": "60"})

    with pytest.raises(CallFailed, match="deadline"):
        call(throttled, "q", policy, Stats(), Reporter())


def test_an_html_page_fails_fast() -> None:
    exc = DecodeError(
        message="cannot decode",
        response=FakeResponse(
            200, {"Content-Type": "text/html"}, "<html><body>Sign in to the proxy</body></html>"
        ),
    )
    with pytest.raises(CollectAborted, match="HTML page"):
        decide(exc, 1, RetryPolicy())


def test_a_name_that_does_not_resolve_fails_fast() -> None:
    exc = ServiceRequestError(
        "HTTPSConnectionPool(host='management.example', port=443): NameResolutionError: "
        "[Errno -2] Name or service not known"
    )
    with pytest.raises(CollectAborted, match="resolve"):
        decide(exc, 1, RetryPolicy())


def test_a_deadline_that_is_not_a_number_is_a_usage_error_naming_the_variable() -> None:
    from conftest import run_cli

    code, _out, err = run_cli(
        "collect",
        "--subscription",
        "00000000-0000-0000-0000-000000000000",
        "--out",
        "/tmp/never-written.json",
        env={"PATHAUDIT_COLLECT_DEADLINE": "1h"},
    )
    assert code == 2, err
    assert "PATHAUDIT_COLLECT_DEADLINE='1h'" in err and "internal error" not in err
    assert len(err.strip().splitlines()) == 1
