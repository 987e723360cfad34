"""A small flow model: :class:`Flow`, :func:`task` and :class:`Parameter`.

It runs the seed examples as written (only the import line changes)::

    @task
    def get_data():
        return [1, 2, 3, 4, 5]

    @task
    def print_data(data):
        print(data)

    with Flow("example") as flow:
        data = get_data()
        print_data(data)

    flow.run()

Inside ``with Flow(...)``, calling a task does not run it: it records a :class:`TaskCall` (a
node) whose arguments may be earlier calls or parameters.  ``flow.run()`` then runs the calls
in dependency order (a call can only use calls recorded before it, so recording order is a
valid order) and returns a :class:`FlowResult`.  Outside a flow, a task is a plain function.

Flowpack accepts other flow objects too (see :mod:`flowpack.packer.discover`); this model is
what its own examples and tests use.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Generic, TypeVar, overload

R = TypeVar("R")

_ACTIVE: ContextVar[tuple[Flow, ...]] = ContextVar("flowpack_active_flows", default=())
_REQUIRED = object()


class Task(Generic[R]):
    """A function that, called inside ``with Flow(...)``, becomes a node of that flow."""

    def __init__(self, fn: Callable[..., R], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "task")
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flows = _ACTIVE.get()
        if not flows:
            return self.fn(*args, **kwargs)
        return flows[-1].add_call(self, args, kwargs)

    def run(self, *args: Any, **kwargs: Any) -> R:
        """Run the function now, whatever the context."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name!r}>"


@overload
def task(fn: Callable[..., R], /) -> Task[R]: ...
@overload
def task(*, name: str | None = None) -> Callable[[Callable[..., R]], Task[R]]: ...


def task(
    fn: Callable[..., R] | None = None, /, *, name: str | None = None
) -> Task[R] | Callable[[Callable[..., R]], Task[R]]:
    """Make ``fn`` a :class:`Task`: ``@task`` or ``@task(name="...")``."""
    if fn is not None:
        return Task(fn, name)

    def wrap(f: Callable[..., R]) -> Task[R]:
        return Task(f, name)

    return wrap


class Parameter:
    """A run-time input of a flow: ``x = Parameter("x", default=1)`` inside ``with Flow``.

    Without a default the parameter is required: ``flow.run()`` without it is an error.
    """

    def __init__(self, name: str, default: Any = _REQUIRED) -> None:
        self.name = name
        self.default = default
        flows = _ACTIVE.get()
        if flows:
            flows[-1].add_parameter(self)

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def __repr__(self) -> str:
        return f"<Parameter {self.name!r}>"


class TaskCall:
    """One call of a task recorded in a flow: the task, its arguments, its position."""

    def __init__(
        self, task: Task[Any], args: tuple[Any, ...], kwargs: dict[str, Any], index: int
    ) -> None:
        self.task = task
        self.args = args
        self.kwargs = kwargs
        self.index = index

    def __repr__(self) -> str:
        return f"<TaskCall #{self.index} {self.task.name!r}>"


class FlowResult(Mapping[TaskCall, Any]):
    """What ``Flow.run`` returns: the value of every call, looked up by its :class:`TaskCall`."""

    def __init__(self, flow_name: str, values: dict[TaskCall, Any]) -> None:
        self.flow_name = flow_name
        self._values = values

    def __getitem__(self, call: TaskCall) -> Any:
        return self._values[call]

    def __iter__(self) -> Iterator[TaskCall]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<FlowResult {self.flow_name!r}: {len(self)} calls>"


class Flow:
    """A named graph of task calls, built with ``with Flow(name) as flow:``.

    ``storage`` (a seed ``Storage``, any :class:`~flowpack.packer.flowstorage.FlowStorage`, or
    None) says where ``flowpack register`` keeps the flow; it is never part of the pickled flow.
    """

    def __init__(self, name: str, storage: Any = None) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a flow needs a non-empty name")
        self.name = name
        self.storage = storage
        self.calls: list[TaskCall] = []
        self.parameters: dict[str, Parameter] = {}
        self._source_file: str | None = _caller_file()

    # -- building ------------------------------------------------------------------------

    def __enter__(self) -> Flow:
        _ACTIVE.set((*_ACTIVE.get(), self))
        return self

    def __exit__(self, *exc: object) -> None:
        flows = _ACTIVE.get()
        _ACTIVE.set(tuple(f for f in flows if f is not self))

    def add_call(self, task: Task[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskCall:
        """Record a call of ``task``; its arguments may hold earlier calls and parameters."""
        call = TaskCall(task, args, kwargs, len(self.calls))
        self.calls.append(call)
        for value in _walk(args, kwargs):
            if isinstance(value, Parameter):
                self.add_parameter(value)
        return call

    def add_parameter(self, parameter: Parameter) -> None:
        known = self.parameters.get(parameter.name)
        if known is not None and known is not parameter:
            raise ValueError(f"flow {self.name!r} already has a parameter {parameter.name!r}")
        self.parameters[parameter.name] = parameter

    @property
    def tasks(self) -> list[Task[Any]]:
        """The distinct tasks called in this flow, in first-call order."""
        seen: dict[int, Task[Any]] = {}
        for c in self.calls:
            seen.setdefault(id(c.task), c.task)
        return list(seen.values())

    # -- running -------------------------------------------------------------------------

    def run(self, parameters: Mapping[str, Any] | None = None, **kw: Any) -> FlowResult:
        """Run every call in dependency order; a task's exception propagates unchanged.

        ``parameters`` (or keyword arguments) give values to the flow's parameters; an unknown
        name or a missing required parameter raises :class:`ValueError` before anything runs.
        """
        given = {**(parameters or {}), **kw}
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            known = ", ".join(sorted(self.parameters)) or "none"
            raise ValueError(
                f"flow {self.name!r} has no parameter {', '.join(map(repr, unknown))}"
                f" (its parameters: {known})"
            )
        values: dict[str, Any] = {}
        for name, p in self.parameters.items():
            if name in given:
                values[name] = given[name]
            elif p.required:
                raise ValueError(f"flow {self.name!r} needs a value for parameter {name!r}")
            else:
                values[name] = p.default
        results: dict[TaskCall, Any] = {}
        for call in self.calls:
            args = tuple(_resolve(a, results, values) for a in call.args)
            kwargs = {k: _resolve(v, results, values) for k, v in call.kwargs.items()}
            results[call] = call.task.fn(*args, **kwargs)
        return FlowResult(self.name, results)

    # -- pickling --------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the storage and the defining file's path, which depend on the host."""
        state = dict(self.__dict__)
        state["storage"] = None
        state["_source_file"] = None
        return state

    def __repr__(self) -> str:
        return f"<Flow {self.name!r}: {len(self.calls)} calls>"


def _caller_file() -> str | None:
    """The ``__file__`` of the module that creates the flow (two frames up), if any."""
    try:
        frame = sys._getframe(2)
    except ValueError:
        return None
    value = frame.f_globals.get("__file__")
    return value if isinstance(value, str) else None


def _walk(*values: Any) -> Iterator[Any]:
    for v in values:
        yield v
        if isinstance(v, (list, tuple, set, frozenset)):
            yield from _walk(*v)
        elif isinstance(v, dict):
            yield from _walk(*v.values())


def _resolve(value: Any, results: dict[TaskCall, Any], params: dict[str, Any]) -> Any:
    if isinstance(value, TaskCall):
        return results[value]
    if isinstance(value, Parameter):
        return params[value.name]
    if isinstance(value, list):
        return [_resolve(v, results, params) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolve(v, results, params) for v in value)
    if isinstance(value, dict):
        return {k: _resolve(v, results, params) for k, v in value.items()}
    return value
