"""A credential that cannot sign in is one line: the credential's own message, whole and terminal-safe,
and the next step (`az login`, or another --credential). Exit 2, no traceback, no SDK log lines.

The failures are azure-identity's own: AzureCliCredential with PATH emptied (no `az` to run, no
network), and its exception classes raised through the real code path.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import AzureCliCredential, CredentialUnavailableError
from conftest import REPO, run_cli

from auditor.collect import credentials
from auditor.collect.credentials import SignInError, make_credential, resolve_endpoint

OTHERS_THAN_CLI = "(default, managed-identity, workload-identity, token)"
FINDINGS = REPO / "fixtures" / "findings" / "S01-findings.json"
NO_AZ = {"PATH": "", "AZURE_CONFIG_DIR": "/nonexistent"}


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("pathaudit: error:")]


def test_azure_cli_credential_without_az_really_fails_this_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """The premise: azure-identity itself raises CredentialUnavailableError when `az` is not on PATH."""
    monkeypatch.setenv("PATH", "")
    with pytest.raises(CredentialUnavailableError, match="Azure CLI not found on path"):
        AzureCliCredential().get_token("https://management.azure.com/.default")


def test_collect_with_azure_cli_and_no_az_is_one_line_with_the_next_step(tmp_path: Path) -> None:
    code, out, err = run_cli(
        "collect", "--credential", "azure-cli", "-o", tmp_path / "snap.json.gz", env=NO_AZ, cwd=tmp_path
    )
    assert code == 2 and out == ""
    [line] = error_lines(err)
    assert line == (
        "pathaudit: error: --credential azure-cli could not sign in: Azure CLI not found on path. "
        f"Next: run `az login`, or choose another --credential {OTHERS_THAN_CLI}"
    )
    # azure-identity's own log lines stay out; only collect's progress lines and the error remain
    assert "get_token" not in err and "CredentialUnavailableError" not in err
    assert all(line.startswith("pathaudit: ") for line in err.splitlines()), err
    assert not (tmp_path / "snap.json.gz").exists()


def test_audit_live_and_confirm_workspace_say_the_same(tmp_path: Path) -> None:
    code, out, err = run_cli("audit", "--live", "--credential", "azure-cli", env=NO_AZ, cwd=tmp_path)
    assert code == 2 and out == ""
    [line] = error_lines(err)
    assert "--credential azure-cli could not sign in: Azure CLI not found on path" in line
    # confirm used to turn it into "<class LogsQueryError>" per query and exit 1: now it stops
    code, out, err = run_cli(
        "confirm",
        FINDINGS,
        "--workspace",
        "00000000-0000-0000-0000-000000000000",
        "--credential",
        "azure-cli",
        env=NO_AZ,
        cwd=tmp_path,
    )
    assert code == 2 and out == ""
    assert error_lines(err) == [
        "pathaudit: error: --credential azure-cli could not sign in: Azure CLI not found on path. "
        f"Next: run `az login`, or choose another --credential {OTHERS_THAN_CLI}"
    ]
    assert "LogsQueryError" not in err


class Failing:
    """An azure-identity credential stand-in that raises the given azure-identity / azure-core error."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise self.exc

    def close(self) -> None:
        pass


HOSTILE = (
    "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
    "Attempted credentials:\n\tEnvironmentCredential: EnvironmentCredential authentication unavailable.\n"
    "\tAzureCliCredential: \x1b]0;owned\x07\x1b[31mERROR: AADSTS700082: The refresh token has expired\x1b[0m\n"
    "To mitigate this issue, please refer to the troubleshooting guidelines here at "
    "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot."
)


@pytest.mark.parametrize("exc_class", [CredentialUnavailableError, ClientAuthenticationError])
def test_the_whole_message_on_one_line_made_terminal_safe(
    exc_class: type[Exception], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI's real path (main -> collect -> the SDK's token policy -> the credential)."""
    from auditor import cli

    monkeypatch.setattr(
        credentials, "_identity_credential", lambda *a, **k: Failing(exc_class(message=HOSTILE))
    )
    monkeypatch.setattr(sys, "argv", ["pathaudit", "collect", "--credential", "default"])
    monkeypatch.delenv("PATHAUDIT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stop:
        cli.main()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    [line] = error_lines(err)
    assert "\x1b" not in err and "\x07" not in err and "\t" not in line
    assert line.startswith(
        "pathaudit: error: --credential default could not sign in: DefaultAzureCredential failed"
    )
    for part in (  # the message whole, not cut
        "EnvironmentCredential authentication unavailable.",
        "ERROR: AADSTS700082: The refresh token has expired",
        "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot",
    ):
        assert part in line
    assert line.endswith(
        "Next: run `az login`, or choose another --credential (azure-cli, managed-identity, workload-identity, token)"
    )


def test_the_wrapper_passes_tokens_through_and_only_catches_sign_in_errors() -> None:
    class Good:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            return ("token", scopes, kwargs)

    wrapped = credentials.SignInReporting(Good(), "azure-cli")
    assert wrapped.get_token("s/.default", tenant_id="t") == ("token", ("s/.default",), {"tenant_id": "t"})
    broken = credentials.SignInReporting(Failing(ValueError("not a sign-in error")), "azure-cli")
    with pytest.raises(ValueError):
        broken.get_token("s/.default")
    with pytest.raises(SignInError, match="managed identity"):
        credentials.SignInReporting(
            Failing(CredentialUnavailableError("no IMDS")), "managed-identity"
        ).get_token("s")
    # a real azure-identity credential comes back wrapped; a bearer token from the environment does not
    made = make_credential("azure-cli", endpoint=resolve_endpoint("AzureCloud"))
    assert isinstance(made, credentials.SignInReporting) and isinstance(made.inner, AzureCliCredential)
