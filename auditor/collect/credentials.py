"""Who pathaudit is and where it talks to: credentials, clouds, the ARM endpoint and TLS trust.

Imported by the CLI for its option choices, so nothing here imports the Azure SDKs at module
level (`pathaudit --help` stays fast); the SDK classes are imported where a credential is made.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from auditor.errors import PathauditError, UsageError

CREDENTIAL_KINDS = ("default", "azure-cli", "managed-identity", "workload-identity", "token")
DEFAULT_TOKEN_ENV = "AZURE_ACCESS_TOKEN"


@dataclass(frozen=True)
class Cloud:
    arm: str  # Resource Manager endpoint, no trailing slash
    scope: str  # the token scope Resource Manager accepts
    authority: str  # Microsoft Entra ID host


# azure-mgmt-core `get_arm_endpoints` and azure-identity `AzureAuthorityHosts` say the same; kept here
# so the CLI can list the names without importing the SDKs.
CLOUDS = {
    "AzureCloud": Cloud(
        "https://management.azure.com", "https://management.azure.com/.default", "login.microsoftonline.com"
    ),
    "AzureUSGovernment": Cloud(
        "https://management.usgovcloudapi.net",
        "https://management.core.usgovcloudapi.net/.default",
        "login.microsoftonline.us",
    ),
    "AzureChinaCloud": Cloud(
        "https://management.chinacloudapi.cn",
        "https://management.chinacloudapi.cn/.default",
        "login.chinacloudapi.cn",
    ),
}


@dataclass(frozen=True)
class Endpoint:
    url: str  # https://host[/path], no trailing slash
    scope: str  # credential scope for that endpoint
    authority: str  # Entra ID host of the cloud


def resolve_endpoint(cloud: str, arm_endpoint: str | None = None) -> Endpoint:
    """The ARM endpoint and its token scope: the cloud's, or `<endpoint>/.default` for any other URL."""
    if cloud not in CLOUDS:
        raise UsageError(f"unknown cloud {cloud!r} (choose from {', '.join(CLOUDS)})")
    base = CLOUDS[cloud]
    if not arm_endpoint:
        return Endpoint(base.arm, base.scope, base.authority)
    parts = urlsplit(arm_endpoint.strip())
    if parts.scheme.lower() != "https" or not parts.netloc:
        raise UsageError(
            f"--arm-endpoint must be an https:// URL, got {arm_endpoint!r} "
            "(bearer tokens are never sent over plain http)"
        )
    url = f"https://{parts.netloc}{parts.path.rstrip('/')}"
    for known in CLOUDS.values():
        if known.arm == url.lower():
            return Endpoint(url, known.scope, base.authority)
    return Endpoint(url, f"{url}/.default", base.authority)


def ca_bundle() -> str | bool:
    """TLS trust for the SDK's requests transport: REQUESTS_CA_BUNDLE or SSL_CERT_FILE when set, else
    the default store. Passed explicitly as `connection_verify` (requests ignores SSL_CERT_FILE)."""
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        path = os.environ.get(var)
        if path:
            if not os.path.isfile(path):
                raise UsageError(f"{var}={path} names no file (it should hold the CA certificates to trust)")
            return path
    return True


def token_expiry(token: str, default_lifetime: int = 3600) -> int:
    """`exp` of a JWT access token (not verified: only used to know when it lapses), else now + 1 h."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        exp = claims.get("exp")
        if isinstance(exp, (int, float)):
            return int(exp)
    except (IndexError, ValueError, AttributeError):
        pass
    return int(time.time()) + default_lifetime


class StaticTokenCredential:
    """A TokenCredential that returns one bearer token read from the environment.

    The token is never printed, logged or written: `repr` hides it, errors name only the variable.
    """

    def __init__(self, token: str, source: str = "token") -> None:
        self._token = token.strip()
        self._expires_on = token_expiry(self._token)
        self.source = source

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, self._expires_on)

    def close(self) -> None:
        pass

    def __enter__(self) -> StaticTokenCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def __repr__(self) -> str:
        return f"StaticTokenCredential(from {self.source}, token hidden)"


# What to do when a credential cannot sign in, before "or choose another --credential (...)"
NEXT_STEP = {
    "default": "run `az login`",
    "azure-cli": "run `az login`",
    "managed-identity": "run `az login` (or run where a managed identity is assigned)",
    "workload-identity": "run `az login` (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE)",
}


class SignInError(PathauditError):
    """azure-identity could not get a token: the credential's own message and the next step (exit 2)."""

    exit_code = 2


def sign_in_error(kind: str, exc: BaseException) -> SignInError:
    """One line: which credential failed, its own message whole (on one line, secrets scrubbed), and
    what to do next. The CLI makes it terminal-safe when it prints it."""
    from auditor.collect.redact import scrub_text

    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    text = scrub_text(" ".join(str(message).split()))
    others = ", ".join(k for k in CREDENTIAL_KINDS if k != kind)
    step = NEXT_STEP.get(kind, "run `az login`")
    return SignInError(
        f"--credential {kind} could not sign in: {text.rstrip('.')}. Next: {step}, or choose another "
        f"--credential ({others})"
    )


class SignInReporting:
    """Wraps an azure-identity credential: a failure to get a token (CredentialUnavailableError,
    ClientAuthenticationError) stops the command with `sign_in_error`'s line, instead of surfacing as
    an HTTP error of whichever client asked, or as a failed scope."""

    def __init__(self, inner: Any, kind: str) -> None:
        self.inner = inner
        self.kind = kind

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        try:
            return self.inner.get_token(*scopes, **kwargs)
        except ClientAuthenticationError as exc:
            raise sign_in_error(self.kind, exc) from exc

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> SignInReporting:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def quiet_identity_logging() -> None:
    """azure-identity logs each failed attempt as a WARNING; with no logging configured Python prints
    those to stderr beside pathaudit's own line. A NullHandler keeps them out unless the user set up
    logging (then they still propagate to the user's handlers)."""
    logger = logging.getLogger("azure.identity")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


class TenantPinnedCredential:
    """Asks an inner credential for tokens of one tenant (DefaultAzureCredential takes no tenant_id)."""

    def __init__(self, inner: Any, tenant: str) -> None:
        self.inner = inner
        self.tenant = tenant

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        kwargs.setdefault("tenant_id", self.tenant)
        return self.inner.get_token(*scopes, **kwargs)

    def close(self) -> None:
        self.inner.close()


def make_credential(
    kind: str, *, endpoint: Endpoint, tenant: str | None = None, token_env: str = DEFAULT_TOKEN_ENV
) -> Any:
    """Build the credential named on the command line. Only `token` reads no ambient identity."""
    if kind == "token":
        token = os.environ.get(token_env, "").strip()
        if not token:
            raise UsageError(f"--credential token: environment variable {token_env} is not set or empty")
        return StaticTokenCredential(token, f"${token_env}")
    if kind not in CREDENTIAL_KINDS:
        raise UsageError(f"unknown credential {kind!r} (choose from {', '.join(CREDENTIAL_KINDS)})")
    quiet_identity_logging()
    return SignInReporting(_identity_credential(kind, endpoint, tenant), kind)


def _identity_credential(kind: str, endpoint: Endpoint, tenant: str | None) -> Any:
    from azure import identity

    authority = endpoint.authority
    if kind == "azure-cli":
        return identity.AzureCliCredential(tenant_id=tenant or "")
    if kind == "managed-identity":
        client_id = os.environ.get("AZURE_CLIENT_ID")
        return (
            identity.ManagedIdentityCredential(client_id=client_id)
            if client_id
            else identity.ManagedIdentityCredential()
        )
    if kind == "workload-identity":
        try:
            return identity.WorkloadIdentityCredential(tenant_id=tenant, authority=authority)
        except ValueError as exc:  # names the missing AZURE_* variable
            raise UsageError(f"--credential workload-identity: {exc}") from exc
    credential = identity.DefaultAzureCredential(
        authority=authority,
        additionally_allowed_tenants=[tenant] if tenant else [],
    )
    return TenantPinnedCredential(credential, tenant) if tenant else credential
