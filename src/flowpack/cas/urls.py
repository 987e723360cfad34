"""Text made safe to print: :func:`redact` hides every credential a URL may carry, and
:func:`scrub` every credential in free text (an error message quoting a URL or a vendor's
``access_token=...``).

Pass a URL through :func:`redact` before it goes into a log line, an error message or a
record; the CLI passes every message it prints through :func:`scrub`, the one edge where text
leaves the program.  Neither ever fails: text that is not a URL comes back with anything shaped
like ``//user:secret@`` masked.  Parameter values are searched too, decoded: a URL inside an
option (``?endpoint_url=http://u:SECRET@host``) or an encoded ``token%3DSECRET`` is masked.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact", "scrub"]

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
#: A URL in free text: a scheme, ``://``, then everything up to whitespace or a closing quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
#: ``user:password@host`` quoted without its scheme (``names host 'u:p@h'``).
_BARE_USERINFO = re.compile(r"(?<![\w/:@])([A-Za-z0-9._%+\-]+):(?!\*\*\*@)[^\s/@'\"]+@(?=[\w\[])")
#: ``Bearer TOKEN`` / ``Basic CREDENTIALS`` (an Authorization header quoted in a message).
_AUTH_SCHEME = re.compile(r"\b(Bearer|Basic|token)\s+(?!\*\*\*)[A-Za-z0-9+/=_\-.~]{8,}")
#: A value shaped like a credential: no spaces, 8 characters or more.
_TOKEN_VALUE = re.compile(r"^[A-Za-z0-9+/=_\-.~%]{8,}$")
#: ``name=value`` or ``name: value`` in free text, for names that are secrets.
_PAIR_IN_TEXT = re.compile(
    r"(?P<name>[A-Za-z][A-Za-z0-9_\-]*)(?P<sep>['\"]?\s*[=:]\s*['\"]?|%3[Dd])"
    r"(?P<value>[^\s&'\",;)}\]]+)"
)


def redact(url: str) -> str:
    """``url`` with passwords, token-like user names and secret parameters replaced by ``***``.

    ``https://u:p@h/x?sig=1&a=2`` -> ``https://u:***@h/x?sig=***&a=2``.  The rest of the text,
    including its percent-encoding, is kept as it was.  Never raises.
    """
    if ":" not in url and "@" not in url and "?" not in url and "#" not in url:
        return url  # a plain path: nothing to parse (nor to import for it)
    from urllib.parse import SplitResult, urlsplit

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
        name, eq, value = item.partition("=")
        secret = eq and (_is_secret(_unquote(name)) or _hides_secret(value))
        out.append(f"{name}={MASK}" if secret else item)
    return "&".join(out)


def _hides_secret(value: str) -> bool:
    """Whether a parameter value, decoded, carries a credential (a URL with one, or a secret
    ``name=value`` pair)."""
    decoded = _unquote(_unquote(value))
    return scrub(decoded) != decoded


def scrub(text: str) -> str:
    """``text`` with every URL in it redacted and every secret ``name=value`` (or
    ``name: value``) pair masked, for messages from any source (vendor errors included)."""
    try:
        text = _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)
        text = _USERINFO.sub(rf"\1:{MASK}@", text)
        text = _BARE_USERINFO.sub(rf"\1:{MASK}@", text)
        text = _AUTH_SCHEME.sub(rf"\1 {MASK}", text)
        return _PAIR_IN_TEXT.sub(_mask_pair, text)
    except Exception:  # never let redaction hide the error it was to print
        return _USERINFO.sub(rf"\1:{MASK}@", text)


def _mask_pair(m: re.Match[str]) -> str:
    name, sep, value = m.group("name"), m.group("sep"), m.group("value")
    if value == MASK:
        return m.group(0)
    if _is_secret(name):
        # ``name: value`` is prose as often as a header: only a token-shaped value is masked.
        if ":" not in sep or _TOKEN_VALUE.match(value):
            return f"{name}{sep}{MASK}"
        return m.group(0)
    inner = scrub(value)  # ``url: /tokeninfo?access_token=SECRET``
    if inner != value:
        return f"{name}{sep}{inner}"
    if ":" not in sep and _hides_secret(value):  # ``opt=a%2526token%253DSECRET``
        return f"{name}{sep}{MASK}"
    return m.group(0)


def _is_secret(name: str) -> bool:
    norm = name.lower().replace("-", "_").replace("%2d", "_")
    return norm in _SECRET_NAMES or any(part in norm for part in _SECRET_PARTS)


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)
