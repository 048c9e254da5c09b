"""A fake Azure Resource Manager on 127.0.0.1 for driving the real Azure SDK clients in tests."""

from fakeazure.netguard import NetGuard
from fakeazure.server import FakeAzure, Fault, load_rows

__all__ = ["FakeAzure", "Fault", "NetGuard", "load_rows"]
