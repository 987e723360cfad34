"""The trust policy: which public keys a user accepts as signers of the flows they run.

The policy is the *verifier's* and lives with the verifier, never in a store: a file
``$XDG_CONFIG_HOME/flowpack/trust.json`` (else ``~/.config/flowpack/trust.json``)::

    {"version": 1,
     "stores": {"<store id>": {"url": "<redacted url, for people>",
                               "keys": ["ed25519:...", ...],
                               "projects": {"<project>": ["ed25519:...", ...]}}}}

Only who can write that file (the user, and root) can change what they trust; anyone who can
write to a store can add records and signatures to it, but cannot make this user trust them.
A store is named by its id (its ``config``), so every URL of one store shares its policy.

A registration of project P in store S *requires* a trusted signature when S has any trusted
key for the whole store or for P; the trusted keys are then those two lists together.  When it
is required, :func:`check_registration` (called before a run loads anything) and
:func:`check_bundle` (called by ``Storage.get_flow``) refuse, with :class:`UntrustedFlow`
naming the record and the keys it was signed with, unless a signature by a trusted key that
verifies is found for the registration in ``signatures/<project>/<flow>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flowpack.cas.errors import FlowError, MalformedData, NotFound
from flowpack.cas.store import Store
from flowpack.cas.urls import redact
from flowpack.packer import keys
from flowpack.packer.lookup import registered
from flowpack.packer.records import REGISTRATION, Registration, registrations
from flowpack.packer.signing import Signature, signature_ref, signatures


class UntrustedFlow(FlowError):
    """A flow's registration is unsigned, or signed by no key the trust policy accepts."""


def policy_path() -> Path:
    return keys.config_dir() / "trust.json"


def load_policy() -> dict[str, Any]:
    """The policy document (empty when there is no file); :class:`MalformedData` if damaged."""
    path = policy_path()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": 1, "stores": {}}
    except (OSError, ValueError) as exc:
        raise MalformedData(f"trust policy {path} cannot be read: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("stores"), dict):
        raise MalformedData(f"trust policy {path} is not a flowpack trust policy")
    return doc


def _save(doc: dict[str, Any]) -> None:
    path = policy_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _scope(doc: dict[str, Any], store: Store) -> dict[str, Any]:
    entry = doc["stores"].setdefault(store.config.store_id, {"keys": [], "projects": {}})
    entry["url"] = redact(store.url or "")
    assert isinstance(entry, dict)
    return entry


def add_key(store: Store, key: keys.PublicKey, project: str | None = None) -> bool:
    """Trust ``key`` for ``store`` (or only its ``project``); False if it was trusted already."""
    doc = load_policy()
    entry = _scope(doc, store)
    held: list[str] = (
        entry["keys"] if project is None else entry["projects"].setdefault(project, [])
    )
    if str(key) in held:
        return False
    held.append(str(key))
    _save(doc)
    return True


def remove_key(store: Store, key: keys.PublicKey, project: str | None = None) -> None:
    """Stop trusting ``key`` for ``store`` (or its ``project``); :class:`NotFound` if not held."""
    doc = load_policy()
    entry = _scope(doc, store)
    held: list[str] = entry["keys"] if project is None else entry["projects"].get(project, [])
    if str(key) not in held:
        raise NotFound(f"{key} is not trusted for {project or 'this store'}")
    held.remove(str(key))
    _save(doc)


def listing(store: Store) -> dict[str, list[str]]:
    """The trusted keys of ``store``: ``{"*": store-wide keys, project: keys, ...}``."""
    stores = load_policy()["stores"]
    if not stores:  # no policy at all: do not even read the store's config
        return {"*": []}
    entry = stores.get(store.config.store_id) or {}
    out = {"*": list(entry.get("keys", []))}
    out.update({p: list(v) for p, v in sorted(entry.get("projects", {}).items())})
    return out


def trusted_keys(store: Store, project: str) -> set[keys.PublicKey]:
    """The keys trusted for ``project`` in ``store`` (empty: no signature is required)."""
    held = listing(store)
    return {keys.PublicKey.parse(k) for k in (*held["*"], *held.get(project, []))}


def record_signatures(store: Store, project: str, flow: str) -> list[Signature]:
    """Every signature in the flow's signature chain (an unreadable chain raises)."""
    return list(signatures(store, store.refs.get(signature_ref(project, flow)), cached=True))


def required(store: Store, project: str) -> bool:
    """Whether the policy requires a trusted signature for ``project`` in ``store``."""
    return bool(trusted_keys(store, project))


def check_registration(store: Store, registration: Registration, bundle: Any = None) -> None:
    """Refuse ``registration`` (:class:`UntrustedFlow`) when the policy requires a trusted
    signature and none verifies; returns silently otherwise.  ``bundle``: the bundle about to
    run, when not the registered one (a run that followed its git ref): under a policy that is
    refused too, since no key signed it."""
    trusted = trusted_keys(store, registration.project)
    if not trusted:
        return
    if bundle is not None and bundle != registration.bundle:
        raise UntrustedFlow(
            f"bundle {bundle} was packed at run time from a newer commit of registration"
            f" {registration.digest}; no trusted key signed it, so it is not run (run the"
            " registered bundle, or register and sign the new commit)"
        )
    sigs = [
        s
        for s in record_signatures(store, registration.project, registration.flow)
        if s.record == registration.digest and s.record_kind == REGISTRATION
    ]
    _decide(registration, sigs, trusted)


def _decide(
    registration: Registration, sigs: Iterable[Signature], trusted: set[keys.PublicKey]
) -> None:
    valid = [s for s in sigs if s.valid]
    if any(s.key in trusted for s in valid):
        return
    what = f"registration {registration.digest} of {registration.project}/{registration.flow}"
    if not valid:
        raise UntrustedFlow(
            f"{what} is unsigned, and the trust policy requires a trusted signature;"
            " refusing to load it"
        )
    names = ", ".join(sorted({f"{s.key} (id {s.key.key_id})" for s in valid}))
    raise UntrustedFlow(
        f"{what} is signed by {names}, which is not trusted for project"
        f" {registration.project!r}; refusing to load it ('flowpack trust add' to trust it)"
    )


def check_bundle(store: Store, bundle: Any) -> None:
    """For a bundle loaded without naming a registration (``Storage.get_flow``): when the
    store has a policy, some registration of ``bundle`` must pass :func:`check_registration`.

    Raises :class:`UntrustedFlow` naming the newest registration (or the bundle when no
    registration names it).
    """
    held = listing(store)
    if not any(held.values()):
        return
    found: list[Registration] = []
    for name in registered(store):
        for reg in registrations(store, store.refs.get(name.ref)):
            if reg.bundle == bundle:
                found.append(reg)
    if not found:
        raise UntrustedFlow(
            f"bundle {bundle} has no registration in this store, and the trust policy"
            " requires a trusted signature; refusing to load it"
        )
    errors: list[UntrustedFlow] = []
    for reg in sorted(found, key=lambda r: r.time, reverse=True):
        try:
            check_registration(store, reg)
            return
        except UntrustedFlow as exc:
            errors.append(exc)
    raise errors[0]
