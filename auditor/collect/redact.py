"""Keep secrets out of snapshots: values under secret-looking property names are replaced.

Reader role cannot call listKeys, but ARM and Resource Graph still return some secrets inline on
some resource types (a connection's `sharedKey`, a gateway's RADIUS secret, SAS URLs in
diagnostics settings). A snapshot is evidence that gets archived and shared, so any property whose
name looks like a key, secret, password, connection string, SAS or token is replaced by a marker.

Values that look like secrets are replaced wherever they are (`scrub`): SAS signatures, connection
string keys, bearer tokens and JWTs, subscription keys, PEM private keys, in tags and URLs too.

Only values that could hold a secret are replaced: strings, numbers and non-empty lists/objects.
Booleans and nulls are kept, so `disablePasswordAuthentication: true` or `disableLocalAuth` and
empty lists such as `osProfile.secrets: []` stay as they are.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

REDACTED = "<redacted by pathaudit>"
# camelCase / snake_case / kebab-case words: `primaryKey` -> primary, key; `SASToken` -> sas, token
WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
ANYWHERE = frozenset({"password", "passwords", "passwd", "pwd", "secret", "secrets", "sas", "passphrase"})
LAST = frozenset({"key", "keys", "token", "tokens"})
JOINED = ("connectionstring", "apikey", "accesskey", "sharedkey", "subscriptionkey", "authorization")
NUMBERED = re.compile(r"(?i)^(key|secret|password)\d+$")  # key1, key2 (listKeys' shape)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(T|$)")

# Secrets by what they look like, wherever they are (a tag, a URL, an error message from a server):
SECRET_VALUES = (
    re.compile(r"(?i)(\bsig=)[^&\s\"']+"),  # SAS signature
    re.compile(r"(?i)((?:AccountKey|SharedAccessKey|SharedAccessSignature|Password|Pwd)=)[^;\s\"']+"),
    re.compile(r"(?i)(\bBearer\s+)[A-Za-z0-9._~+/=-]+"),  # Authorization values
    re.compile(
        r"(?i)((?:authorization|ocp-apim-subscription-key|api-key|x-api-key)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',;]+"
    ),
    re.compile(r"()eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # a JWT anywhere
    re.compile(r"()-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
)


# One pass that every pattern above needs to match: almost no string holds any of these, and a
# findings document scrubs hundreds of thousands of strings (ids, prefixes, messages).
# (Substring tests on the lowered text: several times faster than one case-insensitive alternation.)
TRIGGERS = (
    "sig=",
    "key=",
    "signature=",
    "password=",
    "pwd=",
    "bearer",
    "authorization",
    "subscription-key",
    "api-key",
    "eyj",
    "-----begin",
)


def scrub(text: str) -> tuple[str, int]:
    """`text` with secret-looking values replaced (SAS `sig=`, connection-string keys, bearer tokens,
    JWTs, subscription keys, PEM private keys), and how many were."""
    low = text.lower()
    if not any(t in low for t in TRIGGERS):
        return text, 0
    count = 0
    for pattern in SECRET_VALUES:
        text, n = pattern.subn(lambda m: m.group(1) + REDACTED, text)
        count += n
    return text, count


def scrub_text(text: str) -> str:
    return scrub(text)[0]


@lru_cache(maxsize=8192)  # property names repeat across resources: decide each once
def secret_name(name: str) -> bool:
    """True for names like primaryKey, sharedKey, clientSecret, adminPassword, connectionString,
    sasUrl, SASToken, access_token, api-key."""
    if NUMBERED.match(name):
        return True
    words = [w.lower() for w in WORD.findall(name)]
    if not words:
        return False
    joined = "".join(words)
    return words[-1] in LAST or any(w in ANYWHERE for w in words) or any(j in joined for j in JOINED)


def redact(value: Any) -> tuple[Any, int]:
    """A copy of `value` with secret-looking properties replaced, and how many were replaced.

    Objects without any secret-looking name are returned as they are (no copy).
    """
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        count = 0
        for key, item in value.items():
            if (
                isinstance(key, str)
                and secret_name(key)
                and holds_secret(item)
                and not (NUMBERED.match(key) and isinstance(item, str) and TIMESTAMP.match(item))
            ):  # keyCreationTime.key1
                new, n = REDACTED, 1
            else:
                new, n = redact(item)
            if n:
                if out is None:
                    out = dict(value)
                out[key] = new
                count += n
        return (out if out is not None else value), count
    if isinstance(value, list):
        items: list[Any] | None = None
        count = 0
        for index, item in enumerate(value):
            new, n = redact(item)
            if n:
                if items is None:
                    items = list(value)
                items[index] = new
                count += n
        return (items if items is not None else value), count
    if isinstance(value, str) and value:
        return scrub(value)
    return value, 0


def holds_secret(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, (str, list, dict)):
        return len(value) > 0 and value != REDACTED
    return True
