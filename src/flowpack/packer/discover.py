"""Recognising flows and choosing one: :func:`is_flow`, :func:`find_flows`, :func:`pick_flow`.

A *flow* is any object with a non-empty string ``name`` that is a flow by shape, without
importing the framework that made it:

- a :class:`flowpack.Flow`;
- an instance of any class named ``Flow`` (Prefect 1, 2 and 3 flows; ``prefect.Flow`` and
  ``prefect.flows.Flow``), or of a subclass of one;
- an object with both ``run`` and ``tasks`` (the shape of a Prefect 1 flow).

A bare ``name`` attribute is not enough: tasks, ``pathlib.Path``, ``logging.Logger`` and
``threading.Thread`` objects have one too, and a flow script commonly holds such objects.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flowpack.cas.errors import FlowError, NotFound
from flowpack.packer.flow import Flow
from flowpack.packer.suggest import did_you_mean, listing


class FlowNotFound(NotFound, FlowError, ValueError):
    """No flow of the requested name (a :class:`ValueError` too, as the seed API raises)."""


def is_flow(obj: Any) -> bool:
    """Whether ``obj`` is a flow (see the module docstring for the rule)."""
    if isinstance(obj, Flow):
        return True
    if isinstance(obj, (type, types.ModuleType, types.FunctionType, types.MethodType)):
        return False
    try:
        name = getattr(obj, "name", None)
    except Exception:
        return False
    if not isinstance(name, str) or not name:
        return False
    if any(c.__name__ == "Flow" for c in type(obj).__mro__):
        return True
    return callable(getattr(obj, "run", None)) and hasattr(obj, "tasks")


def find_flows(namespace: Mapping[str, Any]) -> list[Any]:
    """The distinct flows bound in ``namespace``, in binding order."""
    out: list[Any] = []
    seen: set[int] = set()
    for value in list(namespace.values()):
        if id(value) in seen or not is_flow(value):
            continue
        seen.add(id(value))
        out.append(value)
    return out


def pick_flow(flows: Sequence[Any], name: str | None, where: str) -> Any:
    """The flow called ``name`` (else the first) among ``flows`` found in ``where``.

    Raises :class:`FlowNotFound` listing the flows present, and :class:`FlowError` when two
    different flows share the requested name.
    """
    if not flows:
        raise FlowNotFound(f"no flows found in {where}")
    if name is None:
        return flows[0]
    matches = [f for f in flows if f.name == name]
    if len(matches) > 1:
        raise FlowError(f"{len(matches)} different flows are named {name!r} in {where}")
    if not matches:
        dym = did_you_mean(name, [f.name for f in flows])
        raise FlowNotFound(f"flow {name!r} not found in {where}{dym}; found: {names_text(flows)}")
    return matches[0]


def names_text(flows: Iterable[Any]) -> str:
    """``'a', 'b'`` for a list of flows or names (at most ten, then ``and N more``)."""
    names = [f if isinstance(f, str) else f.name for f in flows]
    return listing(repr(n) for n in names)
