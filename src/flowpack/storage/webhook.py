"""`Webhook`: flows stored and fetched with HTTP requests to any service.

``Webhook(build_request_kwargs, build_request_http_method, get_flow_request_kwargs,
get_flow_request_http_method, stored_as_script=False, flow_script_path=None, **kwargs)``, as the
seed documents it:

- the ``*_request_kwargs`` are ``requests``-style keyword arguments (``url``, ``headers``,
  ``params``, ``json``, ``auth``, ``cookies``, ``timeout``, ``verify``); any string inside them,
  however nested, may hold ``${NAME}`` templates, filled from the environment, then from
  secrets, when a request is made (:mod:`flowpack.storage.templates`).  Only the unrendered
  templates are kept on the storage, serialised, or shown in a message; no log line carries a
  rendered value (:mod:`flowpack.storage.webhook_http`).
- the methods are ``GET``, ``PATCH``, ``POST`` or ``PUT``.
- ``add_flow(flow)`` packs the flow into the store in use (as every storage does: a pickle, or
  with ``stored_as_script`` the script ``flow_script_path`` and its local imports) and returns
  its location as the seed's Webhook did: the flow's name.  The bundle digest is kept
  (``digest_of(name)``) and what ``get_flow`` fetches is verified against it.  As in the seed,
  a Webhook holds one flow: adding another replaces it.
- ``build()`` sends the flow as ``data``: the bundle as a self-contained, verifiable export
  (the ``flowpack export`` format), or with ``stored_as_script`` the script's UTF-8 bytes.  A
  ``data`` given in ``build_request_kwargs`` is overwritten with a ``RuntimeWarning``.  The
  digest of what was sent is recorded on the storage (``payloads``), and the responses are kept
  in ``_build_responses`` so a caller can patch ``get_flow_request_kwargs`` with a server id.
- ``get_flow()`` fetches, checks the body against the recorded digest (a different body is
  refused with :class:`CorruptObject` naming both digests, before anything is unpickled or
  run), checks an export's root is the registered bundle, and loads the flow.  A service that
  knows nothing of flowpack (a WebDAV server, an object store's presigned URLs) works: PUT to
  store, GET to fetch.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowpack.cas.digest import Digest
from flowpack.cas.errors import CorruptObject, FlowError, UsageError
from flowpack.cas.transfer import export_bundle, import_bundle
from flowpack.storage.base import Storage
from flowpack.storage.templates import SecretLookup, render
from flowpack.storage.webhook_http import METHODS, WebhookResponse, check_kwargs, send_request

__all__ = ["Webhook"]

log = logging.getLogger("flowpack.storage.webhook")


class Webhook(Storage):
    """Flows kept by an HTTP service (see the module docstring)."""

    def __init__(
        self,
        build_request_kwargs: dict[str, Any],
        build_request_http_method: str,
        get_flow_request_kwargs: dict[str, Any],
        get_flow_request_http_method: str,
        stored_as_script: bool = False,
        flow_script_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        for method in (build_request_http_method, get_flow_request_http_method):
            if str(method).upper() not in METHODS:
                raise UsageError(f"HTTP method {method!r} not recognized: use {', '.join(METHODS)}")
        check_kwargs(build_request_kwargs, "build_request_kwargs")
        check_kwargs(get_flow_request_kwargs, "get_flow_request_kwargs")
        self.build_request_kwargs = copy.deepcopy(build_request_kwargs)
        self.build_request_http_method = build_request_http_method.upper()
        self.get_flow_request_kwargs = copy.deepcopy(get_flow_request_kwargs)
        self.get_flow_request_http_method = get_flow_request_http_method.upper()
        self.flow_script_path = flow_script_path
        #: flow name -> digest of the body build() sent (what get_flow accepts back).
        self.payloads: dict[str, str] = {}
        self._build_responses: dict[str, WebhookResponse] = {}
        super().__init__(stored_as_script=stored_as_script, **kwargs)

    @property
    def default_labels(self) -> list[str]:
        return []

    def script_path(self, flow: Any) -> str:
        if self.flow_script_path is not None:
            return self.flow_script_path
        return super().script_path(flow)

    def flow_location(self, flow_name: str) -> str:
        """The seed's Webhook location: the flow's name."""
        return flow_name

    def add_flow(self, flow: Any) -> str:
        """Pack ``flow`` (replacing any flow added before) and return its name."""
        if self.stored_as_script and not (
            self.flow_script_path and Path(self.flow_script_path).is_file()
        ):
            raise UsageError(
                "stored_as_script=True needs flow_script_path naming an existing file "
                f"(got {self.flow_script_path!r})"
            )
        self.flows, self._digests, self._flows, self.payloads = {}, {}, {}, {}
        return super().add_flow(flow)

    def publish(self, flows: Mapping[str, Digest]) -> None:
        """At registration (the seed's ``flow.register()`` builds its storage): take the flow
        just registered and :meth:`build`, which sends it."""
        self.flows = {name: name for name in flows}
        self._digests = {name: str(digest) for name, digest in flows.items()}
        self.build()

    def build(self) -> Webhook:
        """Send every added flow with the build request; record what was sent."""
        super().build()
        kwargs = dict(self.build_request_kwargs)
        if "data" in kwargs:
            message = "'data' in build_request_kwargs is replaced by the flow's content"
            log.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            del kwargs["data"]
        for name, digest in self.flow_digests().items():
            data = self._payload(digest)
            rendered = render(kwargs, SecretLookup(), "build_request_kwargs")
            shown = str(kwargs["url"])
            response = send_request(self.build_request_http_method, rendered, shown, data)
            self._build_responses[name] = response
            self.payloads[name] = str(Digest.of(data))
        return self

    def _payload(self, digest: str) -> bytes:
        if self.stored_as_script:
            assert self.flow_script_path is not None  # checked by add_flow
            try:
                return Path(self.flow_script_path).read_text(encoding="utf-8").encode("utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(
                    f"cannot read {self.flow_script_path} as UTF-8: {type(exc).__name__}"
                ) from None
        with tempfile.TemporaryDirectory(prefix="flowpack-webhook-") as tmp:
            out = Path(tmp) / "bundle.fpk"
            export_bundle(self.store, self.store.resolve(digest), out)
            return out.read_bytes()

    def get_flow(self, name_or_location: str | None = None) -> Any:
        """Fetch the flow, verify it against the registered digests, and load it."""
        name, digest = self._locate(name_or_location)
        if name is None:
            name = next((n for n, d in self.flow_digests().items() if d == digest), None)
        kwargs = self.get_flow_request_kwargs
        rendered = render(kwargs, SecretLookup(), "get_flow_request_kwargs")
        body = send_request(self.get_flow_request_http_method, rendered, str(kwargs["url"])).content
        got, expected = Digest.of(body), self.payloads.get(name or "")
        if expected is not None and str(got) != expected:
            raise CorruptObject(
                f"fetched flow {name!r} is {got}, but {expected} was registered; "
                "refusing to load it",
                got,
            )
        if self.stored_as_script:
            if expected is None:
                raise FlowError(f"no digest was recorded for flow {name!r}: build() it first")
            return _load_script(body, name, Path(self.flow_script_path or "flow.py").name)
        if not digest.startswith("blake3:"):
            raise FlowError(f"no bundle digest was recorded for flow {name!r}: add_flow() it first")
        return _load_export(body, Digest.parse(digest, 0), name)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_build_responses"] = {}
        return state


def _load_export(body: bytes, registered: Digest, name: str | None) -> Any:
    """Import an export into a private in-memory store, check its root, load the flow."""
    from flowpack.cas.opening import open_store
    from flowpack.packer.loading import load_flow

    store = open_store("memory://")
    with tempfile.TemporaryDirectory(prefix="flowpack-webhook-") as tmp:
        path = Path(tmp) / "bundle.fpk"
        path.write_bytes(body)
        root = import_bundle(store, path)
    if root.hex != registered.hex:
        raise CorruptObject(
            f"fetched flow {name!r} holds bundle {root}, but {registered} was registered; "
            "refusing to load it",
            root,
        )
    return load_flow(store, root, name).flow


def _load_script(body: bytes, name: str | None, filename: str) -> Any:
    """Run a fetched (and verified) script in a fresh directory and pick flow ``name``."""
    from flowpack.packer.discover import find_flows, pick_flow
    from flowpack.packer.scope import ModuleScope
    from flowpack.packer.script import run_script

    root = Path(tempfile.mkdtemp(prefix="flowpack-webhook-"))  # the flow's code may read it later
    path = root / filename
    path.write_bytes(body)
    namespace = run_script(path, filename, ModuleScope.for_files(root, ["."], [filename]))
    return pick_flow(find_flows(namespace), name, filename)
