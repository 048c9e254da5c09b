"""Block and record every network destination a test process tries to reach.

Python's audit hooks see each `socket.connect` and `socket.getaddrinfo`, whatever library makes
them (requests, msal, azure-identity's managed-identity probe of 169.254.169.254). While a
`NetGuard` is active, any destination other than the loopback address is refused with an
exception and recorded, so a test can assert that traffic went to the fake server only.

`SITE_DIR` holds a `sitecustomize.py` that installs the same guard in a subprocess (put it on
PYTHONPATH and name a log file in PATHAUDIT_TEST_NETLOG).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

SITE_DIR = Path(__file__).resolve().parent / "site"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

_lock = threading.Lock()
_active: list[NetGuard] = []
_installed = False


def destination(event: str, args: tuple[Any, ...]) -> str | None:
    """The host an audited socket event is about, or None for events that are not network access."""
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address:
            return str(address[0])
        return None  # AF_UNIX path
    if event == "socket.getaddrinfo":
        host = args[0]
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        return None if host is None else str(host)
    return None


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not _active or event not in ("socket.connect", "socket.getaddrinfo"):
        return
    host = destination(event, args)
    if host is None:
        return
    with _lock:
        for guard in _active:
            guard.seen.append(host)
    if host not in LOOPBACK:
        raise PermissionError(f"test network guard: connection to {host!r} refused (loopback only)")


class NetGuard:
    """Context manager: while active, only loopback destinations are allowed; all are recorded."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __enter__(self) -> NetGuard:
        global _installed
        with _lock:
            if not _installed:
                sys.addaudithook(_hook)
                _installed = True
            _active.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with _lock:
            _active.remove(self)

    @property
    def foreign(self) -> list[str]:
        return sorted({h for h in self.seen if h not in LOOPBACK})
