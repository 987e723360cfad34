"""Translating dulwich, urllib3 and OS errors into :mod:`flowpack.cas.errors`, once, here.

Every call into dulwich runs inside :func:`translating`.  Messages name the repository by its
redacted URL and never carry a credential: the password or token in use is masked too, in case
a vendor message echoes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flowpack.cas.errors import (
    BackendError,
    FlowpackError,
    NotFound,
    PermissionDenied,
    TransientBackendError,
)
from flowpack.cas.urls import MASK, redact

__all__ = ["clean_message", "translating"]

_DENIED = ("permission denied", "authentication failed", "403", "401", "access denied")
_UNREACHABLE = (
    "max retries exceeded",
    "connection refused",
    "could not resolve",
    "name or service not known",
    "no route to host",
    "timed out",
    "newconnectionerror",
    "connection reset",
)


def clean_message(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """``text`` on one line with URLs redacted and each of ``secrets`` masked."""
    out = redact(" ".join(str(text).split()))
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, MASK)
    return out[:400]


@contextlib.contextmanager
def translating(what: str, url: str, secrets: tuple[str | None, ...] = ()) -> Iterator[None]:
    """Raise the flowpack error for anything but a :class:`FlowpackError` raised in the block.

    ``what`` says what was being done ("cannot list the refs of"), ``url`` is already redacted.
    Rejected credentials -> :class:`PermissionDenied`; no repository -> :class:`NotFound`; an
    unreachable host, a dropped connection or a protocol failure -> :class:`BackendError`
    (:class:`TransientBackendError` for resets and timeouts).
    """
    from dulwich.client import HTTPProxyUnauthorized, HTTPUnauthorized
    from dulwich.errors import GitProtocolError, HangupException, NotGitRepository

    try:
        yield
    except FlowpackError:
        raise
    except (HTTPUnauthorized, HTTPProxyUnauthorized) as exc:
        raise PermissionDenied(f"{what} {url}: the credentials were rejected") from exc
    except NotGitRepository as exc:
        raise NotFound(f"{what} {url}: no git repository there") from exc
    except HangupException as exc:
        raise _from_text(what, url, clean_message(str(exc), secrets)) from exc
    except GitProtocolError as exc:
        raise _from_text(what, url, clean_message(str(exc), secrets)) from exc
    except OSError as exc:
        detail = clean_message(exc.strerror or str(exc), secrets)
        raise _from_text(what, url, detail) from exc
    except Exception as exc:  # dulwich raises many kinds (ValueError, KeyError, AssertionError)
        detail = clean_message(f"{type(exc).__name__}: {exc}", secrets)
        raise BackendError(f"{what} {url}: {detail}") from exc


def _from_text(what: str, url: str, detail: str) -> FlowpackError:
    low = detail.lower()
    if any(word in low for word in _DENIED):
        return PermissionDenied(f"{what} {url}: access denied ({detail})")
    if "not our ref" in low or "no such" in low or "unknown ref" in low:
        return NotFound(f"{what} {url}: the server has no such object or ref ({detail})")
    if "not found" in low or "does not appear to be a git repository" in low or "404" in low:
        return NotFound(f"{what} {url}: no git repository there ({detail})")
    if "timed out" in low or "connection reset" in low:
        return TransientBackendError(f"{what} {url}: {detail}")
    if any(word in low for word in _UNREACHABLE):
        return BackendError(f"{what} {url}: unreachable ({detail})")
    return BackendError(f"{what} {url}: {detail or 'the connection failed'}")
