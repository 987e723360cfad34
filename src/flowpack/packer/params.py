"""A flow's declared parameters: read at registration, checked before a run is recorded.

:func:`declared_parameters` reads the parameters a flow declares without running it: a
:class:`flowpack.Flow`'s ``parameters`` map, a Prefect 1.x flow's ``parameters()`` set
(each with ``name``, ``required`` and ``default``), or a Prefect 2/3 flow's function signature
(an object with a callable ``fn``, as ``@flow`` makes; prefect is never imported:
:func:`signature_parameters`).  Registration keeps them in the record
(``parameters``: ``[{"name", "required", "default"}]``), and :func:`check_parameters` refuses,
with a :class:`~flowpack.cas.errors.UsageError` and before any run record is written, an
unknown name or a missing required parameter.  A registration without that list (made before
it was recorded, or a flow whose kind declares none this way) is not checked here; the flow
itself checks when it runs.

:func:`read_parameters` gives ``--param NAME=VALUE`` (VALUE read as JSON when it is JSON) and
``--param-file FILE`` (a JSON object) as one map, the pairs winning.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flowpack.cas.errors import UsageError
from flowpack.cas.store import Store
from flowpack.packer.records import Registration
from flowpack.packer.suggest import did_you_mean, listing


def declared_parameters(flow: Any) -> list[dict[str, Any]] | None:
    """``[{"name", "required", "default"}]`` sorted by name, or None when ``flow`` declares
    its parameters in no way known here.  Never runs a task."""
    params = getattr(flow, "parameters", None)
    if isinstance(params, Mapping):
        found: Iterable[Any] = params.values()
    elif callable(params) and hasattr(flow, "tasks"):  # Prefect 1.x: Flow.parameters()
        try:
            found = list(params())
        except Exception:
            return None
    elif callable(getattr(flow, "fn", None)):  # Prefect 2/3: the decorated function
        return signature_parameters(flow.fn)
    else:
        return None
    out = []
    for p in found:
        name = getattr(p, "name", None)
        if not isinstance(name, str):
            return None
        required = bool(getattr(p, "required", False))
        default = None if required else _jsonable(getattr(p, "default", None))
        out.append({"name": name, "required": required, "default": default})
    return sorted(out, key=lambda d: str(d["name"]))


def signature_parameters(fn: Callable[..., Any]) -> list[dict[str, Any]] | None:
    """The parameters of a Prefect 2/3 flow, read from its function's signature: those that
    can be passed by name, required when they have no default.  None when any name would do
    (``**kwargs``) or the signature cannot be read."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    out = []
    for p in signature.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        required = p.default is inspect.Parameter.empty
        default = None if required else _jsonable(p.default)
        out.append({"name": p.name, "required": required, "default": default})
    return sorted(out, key=lambda d: str(d["name"]))


def recorded_parameters(store: Store, registration: Registration) -> list[dict[str, Any]] | None:
    """The parameters ``registration`` recorded, or None when it recorded none."""
    value = store.get_manifest(registration.digest, cached=True).metadata.get("parameters")
    if not isinstance(value, list) or not all(isinstance(p, dict) for p in value):
        return None
    return value


def check_parameters(
    store: Store, registration: Registration, parameters: Mapping[str, Any]
) -> None:
    """Raise :class:`UsageError` for an unknown or a missing required parameter (module
    docstring); writes nothing."""
    declared = recorded_parameters(store, registration)
    if declared is None:
        return
    names = [str(p.get("name")) for p in declared]
    flow = registration.flow
    for given in parameters:
        if given not in names:
            raise UsageError(
                f"flow {flow!r} has no parameter {given!r}{did_you_mean(given, names)}"
                f" (its parameters: {listing(names)})"
            )
    missing = [
        str(p["name"]) for p in declared if p.get("required") and p["name"] not in parameters
    ]
    if missing:
        raise UsageError(
            f"flow {flow!r} needs a value for parameter {listing(missing)}:"
            f" add --param {missing[0]}=VALUE"
        )


def read_parameters(pairs: Sequence[str], files: Sequence[str] = ()) -> dict[str, Any]:
    """``--param-file`` objects merged in order, then ``--param NAME=VALUE`` pairs on top.

    Raises :class:`UsageError` for a malformed pair, an unreadable file or one whose JSON is
    not an object.
    """
    out: dict[str, Any] = {}
    for name in files:
        try:
            value = json.loads(Path(name).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read parameter file {name}: {exc.strerror}") from None
        except ValueError as exc:
            raise UsageError(f"parameter file {name} is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise UsageError(f"parameter file {name} holds {type(value).__name__}, not an object")
        out.update(value)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad parameter {pair!r}: use NAME=VALUE")
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value
