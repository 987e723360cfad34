"""Running a registered flow and recording the run, whether it succeeds or fails.

``run_registration`` first applies the trust policy (:mod:`flowpack.packer.trust`: an
untrusted registration is refused before anything is loaded, and no run is recorded), checks
the recorded secrets are set, loads the bundle the registration
pins (verified: see :func:`flowpack.packer.bundle.load_flow`), runs the flow with the given
parameters, then appends a ``flowpack.run.v1`` record to ``runs/<project>/<flow>``.  Anything
that goes wrong after the registration is found (damaged bundle, version mismatch, missing
secret, an exception in a task) makes a *failed* run record with a one-line error (a file
the bundle lacked is named as such: :func:`flowpack.packer.datafiles.not_bundled`); the
exception is returned to the caller, never swallowed silently.

How a flow is run: a :class:`flowpack.Flow` with ``flow.run(parameters=...)``; another
object with a ``run`` method (Prefect 1) the same way, a returned state whose ``is_failed()``
is true counting as a failure (raised from the exception of its first failed task); a
callable (Prefect 2/3) as ``flow(**parameters)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from flowpack import __version__
from flowpack.cas.advance import advance
from flowpack.cas.digest import Digest
from flowpack.cas.errors import FlowError
from flowpack.cas.store import Store
from flowpack.packer import environment
from flowpack.packer.datafiles import not_bundled
from flowpack.packer.flow import Flow
from flowpack.packer.loading import load_flow
from flowpack.packer.lookup import find_registration, require_registered
from flowpack.packer.params import check_parameters
from flowpack.packer.records import (
    FAILED,
    RUN,
    SUCCESS,
    Registration,
    RunRecord,
    read_run,
    run_ref,
    write_run,
)
from flowpack.packer.signing import sign_record
from flowpack.packer.trust import check_registration

MAX_TRIES = 16


@dataclass
class RunOutcome:
    """A finished run: its record, the registration it ran, and its result or exception."""

    record: RunRecord
    registration: Registration
    result: Any = None
    exception: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.record.status == SUCCESS


def run_flow(store: Store, spec: str, parameters: Mapping[str, Any] | None = None) -> RunOutcome:
    """Find the registration ``spec`` names (:mod:`flowpack.packer.lookup`) and run it.

    Raises :class:`FlowError` before running anything when the registration is not in its
    flow's ref history, or a flow name's ref reaches another flow's registration.
    """
    registration = require_registered(store, find_registration(store, spec))
    return run_registration(store, registration, parameters)


def run_registration(
    store: Store,
    registration: Registration,
    parameters: Mapping[str, Any] | None = None,
    *,
    bundle: Digest | None = None,
    notes: Mapping[str, Any] | None = None,
) -> RunOutcome:
    """Run ``registration``'s bundle and record the run (see the module docstring).

    ``parameters`` are checked against those the registration recorded first: an unknown or
    a missing required one raises :class:`UsageError` and nothing is recorded
    (:func:`flowpack.packer.params.check_parameters`).  ``bundle`` runs another bundle of the
    same flow instead (a run that followed its git ref, :mod:`flowpack.storage.follow`); the
    record then links that bundle.  ``notes`` are added to the record's metadata (the followed
    commit; ``run_name``, ``labels``, ``log_level``).
    """
    check_registration(store, registration, bundle)
    params = dict(parameters or {})
    check_parameters(store, registration, params)
    ran = bundle or registration.bundle
    start = environment.utc_now()
    result: Any = None
    error: BaseException | None = None
    loaded_notes: dict[str, Any] = {}
    try:
        _check_secrets(registration.secrets)
        loaded = load_flow(store, ran, registration.flow)
        loaded_notes.update(loaded.notes)
        with loaded.scope.active() if loaded.scope else nullcontext():
            result = execute(loaded.flow, params)
    except BaseException as exc:
        error = exc
    end = environment.utc_now()
    meta = {
        "flow": registration.flow,
        "project": registration.project,
        "version": registration.version,
        "status": FAILED if error else SUCCESS,
        "error": (not_bundled(error) or _one_line(error)) if error else None,
        "parameters": _canonical(params),
        "start": start,
        "end": end,
        "host": environment.hostname(),
        "interpreter": environment.interpreter(),
        "flowpack": __version__,
        **(notes or {}),
        **loaded_notes,
    }
    record = _append(store, registration, ran, meta)
    if isinstance(error, KeyboardInterrupt):
        raise error
    return RunOutcome(record, registration, result, error)


def execute(flow: Any, parameters: Mapping[str, Any]) -> Any:
    """Run ``flow`` with ``parameters`` (see the module docstring for how)."""
    if isinstance(flow, Flow):
        return flow.run(parameters=parameters)
    run = getattr(flow, "run", None)
    if callable(run):
        state = run(parameters=dict(parameters)) if parameters else run()
        failed = getattr(state, "is_failed", None)
        if callable(failed) and failed():
            raise FlowError(f"flow {flow.name!r} finished in a failed state: {state}") from (
                _task_exception(state)
            )
        return state
    if callable(flow):
        return flow(**parameters)
    raise FlowError(f"flow {flow.name!r} has no run() method and is not callable")


def _task_exception(state: Any) -> BaseException | None:
    """The exception a task of a failed Prefect 1 flow state raised (the first found), if any."""
    results = getattr(state, "result", None)
    if isinstance(results, Mapping):
        for task_state in results.values():
            found = getattr(task_state, "result", None)
            if isinstance(found, BaseException):
                return found
    return None


def _append(
    store: Store, registration: Registration, bundle: Digest, meta: Mapping[str, Any]
) -> RunRecord:
    """Write the run record (of ``bundle``, the code that ran) on the newest run of the flow and
    move the ref to it; a lost race re-links it on the winner (up to :data:`MAX_TRIES` tries)."""

    def write(head: Digest | None) -> Digest:
        return write_run(store, meta, bundle, registration.digest, head)

    ref = run_ref(registration.project, registration.flow)
    done = advance(store, ref, write, retries=MAX_TRIES - 1)
    sign_record(store, done.digest, RUN, registration.project, registration.flow)
    return read_run(store, done.digest)


def _check_secrets(names: Iterable[str]) -> None:
    missing = [n for n in names if n not in os.environ]
    if missing:
        raise FlowError(f"secret {', '.join(map(repr, missing))} is not set in the environment")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _canonical(value: Any) -> Any:
    """``value`` reduced to what a record's metadata can hold (JSON types; others as text)."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return repr(value)
