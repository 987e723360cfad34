"""The error tree.  Every error flowpack raises derives from :class:`FlowpackError`.

::

    FlowpackError
    ├── UsageError (ValueError)                 bad input from a caller: exit code 2
    │   ├── InvalidDigest                        text that is not a digest
    │   ├── InvalidRefName                       a ref name outside the allowed grammar
    │   ├── AmbiguousDigest                      a prefix matching several objects
    │   └── UnsafePath                           absolute, '..', or escaping the destination
    ├── NotFound (LookupError)                   no such object, ref, flow or key
    ├── AlreadyExists (FileExistsError)          a create-only write found something there
    ├── RefConflict                              a compare-and-set lost its race: exit code 3
    ├── IntegrityError                           stored bytes disagree with their digest: exit 1
    │   ├── CorruptObject                        names the damaged object's digest
    │   └── MalformedData (ValueError)           bytes that do not decode (manifest, pack, ref)
    ├── IncompatibleStore                        unknown format version, chunker change
    ├── MissingDependency (ImportError)          an optional extra is not installed
    ├── CapabilityError                          the backend cannot do what was asked
    ├── FlowError                                loading, finding or running a flow failed
    │   └── EnvironmentMismatch                  a pickle made under other versions
    └── BackendError (OSError)                   the backend failed
        ├── TransientBackendError                may succeed if retried (timeouts, 5xx, 429)
        └── PermissionDenied                     credentials rejected

Adapters translate vendor exceptions into this tree once, at their edge (``raise ... from exc``).
Messages never contain credentials: pass URLs through :func:`flowpack.cas.urls.redact`.
"""

from __future__ import annotations


class FlowpackError(Exception):
    """Root of every error flowpack raises."""

    exit_code = 1


class UsageError(FlowpackError, ValueError):
    """The caller asked for something malformed."""

    exit_code = 2


class InvalidDigest(UsageError):
    """Text that is not a digest or digest prefix."""


class InvalidRefName(UsageError):
    """A ref name outside the ref grammar."""


class AmbiguousDigest(UsageError):
    """A digest prefix that matches more than one object."""


class UnsafePath(UsageError):
    """A path that is absolute, contains '..', or escapes its destination."""


class NotFound(FlowpackError, LookupError):
    """No such object, key, ref or flow."""

    def __str__(self) -> str:  # LookupError would repr() the message
        return str(self.args[0]) if self.args else "not found"


class AlreadyExists(FlowpackError, FileExistsError):
    """A create-only write found an existing object."""


class RefConflict(FlowpackError):
    """A compare-and-set lost its race; ``current`` is the value found, if any."""

    exit_code = 3

    def __init__(self, message: str, current: object | None = None) -> None:
        super().__init__(message)
        self.current = current


class IntegrityError(FlowpackError):
    """Stored bytes disagree with what names or describes them."""


class CorruptObject(IntegrityError):
    """An object whose bytes do not hash to its digest, or cannot be decoded."""

    def __init__(self, message: str, digest: object | None = None) -> None:
        super().__init__(message)
        self.digest = digest


class MalformedData(IntegrityError, ValueError):
    """Bytes that do not decode as the format they claim (manifest, pack, index, ref)."""


class IncompatibleStore(FlowpackError):
    """A store written in a format or with parameters this version cannot use."""


class MissingDependency(FlowpackError, ImportError):
    """An optional dependency is missing; the message gives the pip install line."""


class CapabilityError(FlowpackError):
    """The backend cannot do what was asked (e.g. atomic compare-and-set)."""


class FlowError(FlowpackError):
    """A flow could not be found, loaded or run."""


class EnvironmentMismatch(FlowError):
    """A pickled flow was made under other Python / cloudpickle / flowpack versions."""


class BackendError(FlowpackError, OSError):
    """The storage backend failed."""


class TransientBackendError(BackendError):
    """A backend failure that may succeed when retried (timeout, 5xx, throttling)."""


class PermissionDenied(BackendError, PermissionError):
    """The backend rejected the credentials."""
