"""Registration as one verb: find the flows, group them by storage, register each, report.

:func:`register` is what ``flowpack register`` does, as a library call:

1. *plan*: every ``--path`` is expanded (:func:`expand`: a directory gives its top-level
   ``.py`` files, as Prefect 1.x; a glob its matches; else a file), then every module is
   appended, in the order given.  A path that names nothing raises :class:`PathNotFound`
   before anything is loaded;
2. *load* each source (a script is executed in its own scope, a module imported) and find its
   flows; a source that fails to load is recorded as a failure and the others go on;
3. *group* a source's flows by storage object: a flow's own storage
   (:func:`~flowpack.packer.flowstorage.flow_storage`), else one default storage per source,
   made by the caller's ``default_storage(source)`` (the packer knows no storage class);
4. *register* each flow (:func:`~flowpack.packer.register.register_flow`); a flow that fails
   is recorded as a failure and the others go on.  Only ``KeyboardInterrupt`` (and other
   non-``Exception`` errors) stops the run.

The returned :class:`RegistrationReport` holds every result and every failure (with its
exception, for the caller to describe); :class:`RegistrationEvents` lets a front end show
each step as it happens.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flowpack.cas.digest import Digest
from flowpack.cas.errors import UsageError
from flowpack.cas.store import Store
from flowpack.packer.discover import FlowNotFound
from flowpack.packer.flowstorage import FlowStorage, flow_storage, publisher
from flowpack.packer.modules import collect_module
from flowpack.packer.register import REGISTERED, SKIPPED, RegisterResult, register_flow
from flowpack.packer.script import ScriptSource, collect
from flowpack.packer.suggest import unknown

#: Where flows come from: a script, or a module's name.
Source = ScriptSource | str
#: ``default_storage(source)``: the storage for the flows of ``source`` that name none.
DefaultStorage = Callable[[Source], FlowStorage]


class PathNotFound(UsageError):
    """A path to register names no file (or a glob matches none); ``path`` is that path."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class RegistrationFailure:
    """A source that did not load (``flow`` is None), or a flow that did not register."""

    source: str
    error: Exception
    flow: str | None = None


@dataclass(frozen=True)
class RegistrationReport:
    """Every flow registered or skipped, in order, and every failure."""

    results: tuple[RegisterResult, ...]
    failures: tuple[RegistrationFailure, ...]

    @property
    def registered(self) -> int:
        return sum(r.status == REGISTERED for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.status == SKIPPED for r in self.results)

    @property
    def ok(self) -> bool:
        """Whether every source loaded and every flow registered (or was unchanged)."""
        return not self.failures


class RegistrationEvents(Protocol):
    """What :func:`register` tells a front end as it goes (:class:`Quiet` ignores it all).

    Called from the registering thread, in this order per source: :meth:`processing`, then
    :meth:`load_failed`, or :meth:`no_flows`, or per storage :meth:`building` and per flow
    :meth:`registering` then :meth:`registered` or :meth:`failed`, then, for a storage with a
    build step (:class:`~flowpack.packer.flowstorage.PublishingStorage`), :meth:`publishing`
    then :meth:`published` or :meth:`failed`.  An exception raised by a method stops the
    registration and propagates.
    """

    def processing(self, source: str) -> None:
        """Loading ``source`` (a path or module, as given) starts."""

    def load_failed(self, source: str, error: Exception) -> None:
        """``source`` did not load; its flows are not registered."""

    def no_flows(self, source: str) -> None:
        """``source`` defines no flow."""

    def building(self, storage: FlowStorage) -> None:
        """The flows kept in ``storage`` are registered next."""

    def registering(self, flow: str) -> None:
        """Registering ``flow`` starts."""

    def registered(self, result: RegisterResult) -> None:
        """A flow was registered or skipped as unchanged (``result.status``)."""

    def failed(self, flow: str, error: Exception) -> None:
        """Registering ``flow`` (or building a storage) failed; the next one is tried."""

    def publishing(self, storage: FlowStorage) -> None:
        """The build step of ``storage`` starts (an image pushed, a webhook called)."""

    def published(self, storage: FlowStorage) -> None:
        """The build step of ``storage`` succeeded."""


class Quiet:
    """Events nobody watches: every method does nothing."""

    def processing(self, source: str) -> None:
        return None

    def load_failed(self, source: str, error: Exception) -> None:
        return None

    def no_flows(self, source: str) -> None:
        return None

    def building(self, storage: FlowStorage) -> None:
        return None

    def registering(self, flow: str) -> None:
        return None

    def registered(self, result: RegisterResult) -> None:
        return None

    def failed(self, flow: str, error: Exception) -> None:
        return None

    def publishing(self, storage: FlowStorage) -> None:
        return None

    def published(self, storage: FlowStorage) -> None:
        return None


def register(
    paths: Sequence[str],
    project: str,
    *,
    store: Store | Callable[[], Store],
    default_storage: DefaultStorage,
    modules: Sequence[str] = (),
    labels: Iterable[str] = (),
    force: bool = False,
    names: Sequence[str] = (),
    include: Sequence[str] = (),
    events: RegistrationEvents | None = None,
) -> RegistrationReport:
    """Register every flow in ``paths`` and ``modules`` under ``project`` (module docstring).

    ``store`` is the registry, or a function that opens it, called for each flow registered:
    then a store that fails to open fails each flow (recorded) rather than the whole call, and
    a call that finds no flow opens nothing.  ``names``, when given, picks the flows of those
    names (as Prefect's ``--name``): every source is loaded first, and a name no source defines
    raises :class:`~flowpack.packer.discover.FlowNotFound` (with the closest names) before
    anything is registered.  ``include`` adds glob patterns to every script storage's
    ``include`` (data files a script bundle carries).  Raises :class:`UsageError` when no path
    or module is given and :class:`PathNotFound` for a path naming nothing; every other error
    is recorded in the report.
    """
    if not paths and not modules:
        raise UsageError("give at least one path or module")
    events = events if events is not None else Quiet()
    opener = store if callable(store) else (lambda: store)
    labels = tuple(labels)
    loaded = [(where, _load(load)) for where, load in plan(paths, modules)]
    if names:
        _check_names(names, [f for _, (_, flows, _) in loaded for f in flows])
    results: list[RegisterResult] = []
    failures: list[RegistrationFailure] = []
    for where, (source, flows, error) in loaded:
        events.processing(where)
        if error is not None:
            events.load_failed(where, error)
            failures.append(RegistrationFailure(where, error))
            continue
        assert source is not None
        flows = [f for f in flows if not names or f.name in names]
        if not flows:
            events.no_flows(where)
        for storage, group in by_storage(flows, source, default_storage):
            _add_include(storage, include)
            events.building(storage)
            done: dict[str, Digest] = {}
            for flow in group:
                events.registering(flow.name)
                try:
                    result = register_flow(
                        opener(),
                        flow,
                        project=project,
                        storage=storage,
                        source=source,
                        labels=labels,
                        force=force,
                    )
                except Exception as exc:
                    events.failed(flow.name, exc)
                    failures.append(RegistrationFailure(where, exc, flow.name))
                    continue
                results.append(result)
                done[result.flow] = result.bundle
                events.registered(result)
            failures.extend(_publish(storage, done, where, events))
    return RegistrationReport(tuple(results), tuple(failures))


def _publish(
    storage: FlowStorage, done: Mapping[str, Digest], where: str, events: RegistrationEvents
) -> list[RegistrationFailure]:
    """Run the storage's build step (:class:`PublishingStorage`) for the flows just registered;
    a failure is reported under the storage's name (the registrations stand)."""
    target = publisher(storage)
    if target is None or not done:
        return []
    events.publishing(storage)
    try:
        target.publish(done)
    except Exception as exc:
        what = f"{storage.name} storage"
        events.failed(what, exc)
        return [RegistrationFailure(where, exc, what)]
    events.published(storage)
    return []


def _load(load: Loader) -> tuple[Source | None, list[Any], Exception | None]:
    try:
        source, flows = load()
    except Exception as exc:
        return None, [], exc
    return source, flows, None


def _check_names(names: Sequence[str], flows: Sequence[Any]) -> None:
    found = [f.name for f in flows]
    for name in names:
        if name not in found:
            raise FlowNotFound(unknown("flow named", name, found, kind="found"))


def _add_include(storage: FlowStorage, include: Sequence[str]) -> None:
    patterns = getattr(storage, "include", None)
    if include and isinstance(patterns, list):
        patterns.extend(p for p in include if p not in patterns)


#: ``load() -> (source, flows)``: load one source and find its flows.
Loader = Callable[[], tuple[Source, list[Any]]]


def plan(paths: Sequence[str], modules: Sequence[str]) -> list[tuple[str, Loader]]:
    """(what the user named, how to load it) for every script, then every module.

    Every path is expanded first (:func:`expand`), so a bad one raises before any loading.
    """

    def script(path: str) -> Loader:
        def load() -> tuple[Source, list[Any]]:
            source = ScriptSource.from_path(path)
            return source, collect(source)

        return load

    def module(name: str) -> Loader:
        return lambda: (name, collect_module(name))

    out: list[tuple[str, Loader]] = []
    for p in paths:
        for f in expand(p):
            out.append((f, script(f)))
    for m in modules:
        out.append((m, module(m)))
    return out


def expand(path: str) -> list[str]:
    """What one ``--path`` names, as Prefect 1.x reads it: a file is itself; a directory is
    its top-level ``.py`` files (not its subdirectories); a glob (``**`` recursive) is its
    matches, a matched directory again giving its top-level ``.py`` files.  Sorted, each once;
    :class:`PathNotFound` when nothing matches."""
    if any(c in path for c in "*?["):
        matches = sorted(glob.glob(path, recursive=True))
        if not matches:
            raise PathNotFound(f"{path!r} matches no file", path)
    elif Path(path).exists():
        matches = [path]
    else:
        raise PathNotFound(f"no such file: {path}", path)
    out: list[str] = []
    for match in matches:
        if Path(match).is_dir():
            out.extend(sorted(str(p) for p in Path(match).glob("*.py") if p.is_file()))
        elif match.endswith(".py") or match == path:
            out.append(match)
    return list(dict.fromkeys(out))


def by_storage(
    flows: Sequence[Any], source: Source, default_storage: DefaultStorage
) -> list[tuple[FlowStorage, list[Any]]]:
    """Flows grouped by storage object, in order of first appearance; flows without a storage
    of their own share one ``default_storage(source)``, made when first needed."""
    groups: dict[int, tuple[FlowStorage, list[Any]]] = {}
    default: FlowStorage | None = None
    for flow in flows:
        storage = flow_storage(flow)
        if storage is None:
            default = default or default_storage(source)
            storage = default
        groups.setdefault(id(storage), (storage, []))[1].append(flow)
    return list(groups.values())
