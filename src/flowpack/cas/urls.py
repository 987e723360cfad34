"""Store URLs made safe to print: :func:`redact` hides every credential a URL may carry.

Pass a URL through :func:`redact` before it goes into a log line, an error message or a
record.  Redaction never fails: text that is not a URL comes back with anything shaped like
``//user:secret@`` masked.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

__all__ = ["MASK", "redact"]

MASK = "***"

#: Query or fragment parameter names (lowercased, ``-`` read as ``_``) that are secrets.
_SECRET_NAMES = frozenset(
    {"key", "sig", "pwd", "auth", "sas", "code", "session", "jwt", "bearer", "private_token"}
)
#: Substrings that make any parameter name a secret (``x-amz-signature``, ``api_key``...).
_SECRET_PARTS = (
    "token",
    "secret",
    "passw",
    "credential",
    "signature",
    "apikey",
    "api_key",
    "access_key",
    "private_key",
    "account_key",
    "client_secret",
)
#: User names that are themselves tokens (``https://ghp_xxx@github.com/...``).
_TOKEN_USER = re.compile(
    r"^(gh[pousr]_|github_pat_|glpat-|gloas-|glptt-|xox[abpr]-|ya29\.)|^[A-Za-z0-9_\-.~%]{32,}$"
)
_USERINFO = re.compile(r"(//[^/@\s:]*):[^/@\s]*@")


def redact(url: str) -> str:
    """``url`` with passwords, token-like user names and secret parameters replaced by ``***``.

    ``https://u:p@h/x?sig=1&a=2`` -> ``https://u:***@h/x?sig=***&a=2``.  The rest of the text,
    including its percent-encoding, is kept as it was.  Never raises.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced '[' in the host
        return _USERINFO.sub(rf"\1:{MASK}@", url)
    if not parts.scheme and not parts.netloc:
        return url  # a plain path
    netloc = _redact_netloc(parts.netloc)
    query = _redact_params(parts.query)
    fragment = _redact_params(parts.fragment)
    return SplitResult(parts.scheme, netloc, parts.path, query, fragment).geturl()


def _redact_netloc(netloc: str) -> str:
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _password = userinfo.partition(":")
    if colon:
        return f"{user}:{MASK}@{host}"
    if _TOKEN_USER.match(user):
        return f"{MASK}@{host}"
    return netloc


def _redact_params(text: str) -> str:
    if "=" not in text:
        return text
    out = []
    for item in text.split("&"):
        name, eq, _value = item.partition("=")
        out.append(f"{name}={MASK}" if eq and _is_secret(name) else item)
    return "&".join(out)


def _is_secret(name: str) -> bool:
    norm = name.lower().replace("-", "_").replace("%2d", "_")
    return norm in _SECRET_NAMES or any(part in norm for part in _SECRET_PARTS)
