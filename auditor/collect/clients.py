"""Azure SDK clients for live collection, all pointed at one endpoint with one credential.

Retries are pathaudit's own (`auditor.collect.retry`), so the SDK retry policy is switched off:
every wait can then be counted, reported and, in tests, made instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from auditor import __version__
from auditor.collect.credentials import Endpoint


@dataclass
class Clients:
    credential: Any
    endpoint: Endpoint
    verify: str | bool = True
    timeout: float = 60.0  # read timeout per request, seconds
    poll_interval: float = 5.0  # long-running operations without Retry-After
    _graph: Any = None
    _network: dict[str, Any] = field(default_factory=dict)
    _cognitive: dict[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        return {
            "base_url": self.endpoint.url,
            "credential_scopes": [self.endpoint.scope],
            "connection_verify": self.verify,
            "connection_timeout": min(self.timeout, 30.0),
            "read_timeout": self.timeout,
            "retry_total": 0,
            "polling_interval": self.poll_interval,
            "user_agent": f"pathaudit/{__version__}",
        }

    def graph(self) -> Any:
        if self._graph is None:
            from azure.mgmt.resourcegraph import ResourceGraphClient

            self._graph = ResourceGraphClient(self.credential, **self.options())
        return self._graph

    def network(self, subscription: str) -> Any:
        client = self._network.get(subscription.lower())
        if client is None:
            from azure.mgmt.network import NetworkManagementClient

            client = self._network[subscription.lower()] = NetworkManagementClient(
                self.credential, subscription, **self.options()
            )
        return client

    def cognitive(self, subscription: str) -> Any:
        client = self._cognitive.get(subscription.lower())
        if client is None:
            from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

            client = self._cognitive[subscription.lower()] = CognitiveServicesManagementClient(
                self.credential, subscription, **self.options()
            )
        return client

    def close(self) -> None:
        for client in [self._graph, *self._network.values(), *self._cognitive.values()]:
            if client is not None:
                client.close()
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()
