"""Loaded by a test subprocess (PYTHONPATH): refuse and log any non-loopback network destination.

Each destination is appended to the file named by PATHAUDIT_TEST_NETLOG, one per line.
"""

import os
import sys

_LOG = os.environ.get("PATHAUDIT_TEST_NETLOG")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _hook(event, args):
    if event == "socket.connect":
        address = args[1]
        host = address[0] if isinstance(address, tuple) and address else None
    elif event == "socket.getaddrinfo":
        host = args[0].decode("ascii", "replace") if isinstance(args[0], bytes) else args[0]
    else:
        return
    if host is None:
        return
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{host}\n")
    if str(host) not in _LOOPBACK:
        raise PermissionError(f"test network guard: connection to {host!r} refused (loopback only)")


if _LOG:
    sys.addaudithook(_hook)
