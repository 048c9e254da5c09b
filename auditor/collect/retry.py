"""Bounded retries for Azure calls, with the waits pathaudit decides itself.

The SDK's own retry policy is off (clients.py): it does not retry a 429 on a POST without
Retry-After (Resource Graph queries are POSTs, stack-notes), its waits cannot be counted or shown,
and tests could not skip them. Here:

- 429: wait `Retry-After` (seconds or HTTP date), else Resource Graph's
  `x-ms-user-quota-resets-after`, else exponential backoff;
- 408, 5xx, timeouts, dropped connections, truncated, undecodable or malformed bodies: exponential
  backoff;
- anything else (400, 403, 404, 409): no retry, the caller records the failure;
- authentication failures and untrusted TLS abort the whole collection: nothing can succeed.

`sleep` is injectable so tests do not wait.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from auditor.collect.progress import Reporter, Stats
from auditor.errors import PathauditError

T = TypeVar("T")


class CollectAborted(PathauditError):
    """Collection cannot go on at all (authentication, TLS trust, endpoint unreachable)."""

    exit_code = 2


class CallFailed(Exception):
    """A call failed for good (not retryable, or retries used up)."""

    def __init__(self, error: str, status: int | None, attempts: int) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.attempts = attempts


@dataclass
class RetryPolicy:
    attempts: int = 6  # first try included
    backoff: float = 2.0  # seconds before the first retry; doubles each time
    max_backoff: float = 60.0
    max_retry_after: float = 300.0  # a server asking for longer is not waited on past this
    sleep: Callable[[float], None] = time.sleep
    # when the whole collection must end (time.monotonic()); pages and retries past it are coverage gaps
    deadline: float | None = None
    clock: Callable[[], float] = time.monotonic

    def expired(self, wait: float = 0.0) -> bool:
        return self.deadline is not None and self.clock() + wait > self.deadline

    def backoff_for(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def header(exc: BaseException, name: str) -> str | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        return headers.get(name)
    except AttributeError:
        return None


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def parse_duration(value: str | None) -> float | None:
    """Resource Graph's `hh:mm:ss` (or plain seconds) -> seconds."""
    if not value:
        return None
    try:
        parts = [float(p) for p in value.strip().split(":")]
    except ValueError:
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return max(0.0, seconds)


def describe(exc: BaseException) -> str:
    """One line for humans and coverage.failed: status, ARM error code, message (never a token)."""
    status = status_of(exc)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None) or getattr(exc, "message", None) or str(exc)
    from auditor.collect.redact import scrub_text

    text = scrub_text(" ".join(str(message).split()))  # a server may echo the request, token and all
    if len(text) > 300:
        text = text[:297] + "..."
    prefix = f"HTTP {status}" if status else type(exc).__name__
    if code and str(code) not in text:
        prefix += f" {code}"
    return f"{prefix}: {text}"


DNS_FAILURE = re.compile(
    r"(?i)name or service not known|nodename nor servname|temporary failure in name "
    r"resolution|getaddrinfo failed|NameResolutionError|no address associated with hostname"
)


def html_answer(exc: BaseException) -> bool:
    """Whether a body that did not decode was an HTML page (a proxy's or portal's answer)."""
    ctype = (header(exc, "Content-Type") or "").lower()
    if "text/html" in ctype:
        return True
    response = getattr(exc, "response", None)
    try:
        body = (
            response.text()[:512]
            if response is not None and callable(getattr(response, "text", None))
            else ""
        )
    except Exception:
        body = ""
    return "<html" in (body or str(exc)[:512]).lower() or "<!doctype html" in (body or str(exc)[:512]).lower()


def decide(exc: BaseException, attempt: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before retrying `exc`, or None when it is not worth retrying."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        DecodeError,
        DeserializationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, ClientAuthenticationError):
        raise CollectAborted(f"authentication failed: {describe(exc)}") from exc
    if isinstance(exc, ServiceRequestError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        raise CollectAborted(
            f"TLS certificate of the endpoint is not trusted ({describe(exc)}); "
            "set REQUESTS_CA_BUNDLE or SSL_CERT_FILE to the CA bundle to trust"
        ) from exc
    if isinstance(exc, ServiceRequestError) and DNS_FAILURE.search(str(exc)):
        raise CollectAborted(
            f"cannot resolve the endpoint's host name ({describe(exc)}): check --cloud / "
            "--arm-endpoint and this machine's DNS; not retried"
        ) from exc
    if isinstance(exc, (DecodeError, DeserializationError)) and html_answer(exc):
        raise CollectAborted(
            "the endpoint answered with an HTML page instead of JSON (a proxy, a captive portal "
            "or a wrong --arm-endpoint?); not retried"
        ) from exc
    if isinstance(exc, (DecodeError, DeserializationError, ServiceRequestError, ServiceResponseError)):
        return policy.backoff_for(attempt)  # a truncated or garbled body is often a proxy's hiccup
    if isinstance(exc, HttpResponseError):
        status = status_of(exc)
        if status == 429:
            wait = parse_retry_after(header(exc, "Retry-After"))
            if wait is None:
                wait = parse_duration(header(exc, "x-ms-user-quota-resets-after"))
            if wait is None:
                wait = policy.backoff_for(attempt)
            return min(wait, policy.max_retry_after)
        if status is None or status == 408 or status >= 500:
            return policy.backoff_for(attempt)
    return None


def attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"after {n} attempts"


def call(fn: Callable[[], T], what: str, policy: RetryPolicy, stats: Stats, reporter: Reporter) -> T:
    """Run `fn` with bounded retries; raise CallFailed (or CollectAborted) when it cannot succeed."""
    from azure.core.exceptions import AzureError, DeserializationError, ServiceRequestError

    attempt = 0
    while True:
        attempt += 1
        stats.calls += 1
        try:
            return fn()
        except (AzureError, DeserializationError) as exc:
            wait = decide(exc, attempt, policy)
            if wait is not None and policy.expired(wait):
                raise CallFailed(
                    f"{describe(exc)} (not retried: the collection deadline would pass)",
                    status_of(exc),
                    attempt,
                ) from exc
            if wait is None or attempt >= policy.attempts:
                if wait is not None and isinstance(exc, ServiceRequestError):
                    raise CollectAborted(
                        f"cannot reach the endpoint after {attempt} attempts: {describe(exc)}"
                    ) from exc
                raise CallFailed(describe(exc), status_of(exc), attempt) from exc
            stats.retries += 1
            if status_of(exc) == 429:
                stats.throttle_waits += 1
                stats.throttle_seconds += wait
            reporter.retry(what, describe(exc), wait)
            policy.sleep(wait)
