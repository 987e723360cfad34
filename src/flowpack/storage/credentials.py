"""Which storage options are credentials.

A storage's options (``client_options`` and the like) mix *where* to connect (an endpoint, a
region, a project, a timeout) with *who* connects (keys, secrets, tokens, passwords, connection
strings).  The first kind may be kept anywhere; the second never leaves the process:

- :func:`masked` shows options with each credential replaced by ``***`` (the seed's
  ``serialize()``);
- :func:`public_options` keeps only the first kind, for what records carry (how a run rebuilds
  a storage): a run takes credentials from its environment or a named secret, as the seed's
  classes do.

An option is a credential when its name says so (:data:`CREDENTIAL_NAME`: ``secret``,
``token``, ``password``, ``key``, ``auth``, ``connection_string``, ``sas``...), or when its
value is text that carries one (a URL with a password or a ``token=`` parameter,
``Bearer ...``, a ``key=value`` pair with a secret name), as :func:`flowpack.cas.urls.scrub`
finds them.  A map is filtered key by key, however deep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flowpack.cas.urls import MASK, scrub

__all__ = ["CREDENTIAL_NAME", "is_credential", "masked", "public_options"]

#: Option names that hold credentials (searched, case-insensitive).
CREDENTIAL_NAME = re.compile(
    r"secret|token|passw|credential|access_key|account_key|private_key|api_?key|auth"
    r"|connection_string|signature|(?:^|_)sas(?:$|_)|^key$|^sig$",
    re.IGNORECASE,
)


def is_credential(name: object, value: object) -> bool:
    """Whether option ``name`` with ``value`` is a credential (see the module docstring)."""
    if CREDENTIAL_NAME.search(str(name)):
        return True
    return isinstance(value, str) and scrub(value) != value


def masked(value: Any) -> Any:
    """``value`` with the credentials of any map in it replaced by ``***``."""
    if isinstance(value, Mapping):
        return {k: MASK if is_credential(k, v) else masked(v) for k, v in value.items()}
    return value


def public_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without its credentials, maps inside it filtered the same way."""
    out: dict[str, Any] = {}
    for name, value in options.items():
        if is_credential(name, value):
            continue
        out[name] = public_options(value) if isinstance(value, Mapping) else value
    return out
