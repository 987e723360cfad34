"""What the bundle commands (``pull``, ``ls``, ``cat``, ``diff``) accept: a digest, a ref, or a
registered flow's name.

:func:`resolve_bundle` tries, in order, a full digest, a unique digest prefix and a ref
(:meth:`CliContext.resolve`), then a flow spec ``PROJECT/FLOW[@VERSION]`` or ``FLOW[@VERSION]``
(:func:`flowpack.packer.lookup.find_registration`): a flow names the bundle of that
registration.  A text that is none of these raises the flow lookup's error when it has a
``@VERSION`` or the lookup has a "did you mean", else the store's (also with the closest ref
names).  With ``bundle_only``, a digest or ref
naming a registration, run or project record (which holds no files) raises
:class:`~flowpack.cas.errors.UsageError` naming the bundle to use instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowpack.cli.context import CliContext

if TYPE_CHECKING:
    from flowpack.cas.digest import Digest


def resolve_bundle(cli: CliContext, text: str, *, bundle_only: bool = False) -> Digest:
    """The manifest ``text`` names (module docstring)."""
    from flowpack.cas.errors import FlowpackError, NotFound, UsageError

    flowish = "@" in text and not text.strip().startswith("blake3:")
    try:
        digest = cli.resolve(text)
    except (NotFound, UsageError) as first:
        if isinstance(first, UsageError) and not flowish:
            raise  # not a digest, not a ref name, and not FLOW@VERSION
        from flowpack.packer.lookup import find_registration  # a flow name: the flow's code

        try:
            return find_registration(cli.store, text).bundle
        except FlowpackError as second:
            if flowish or (text.count("/") == 1 and "did you mean" in str(second)):
                raise second from None
            raise first from None
    if bundle_only:
        _refuse_record(cli, text, digest)
    return digest


def _refuse_record(cli: CliContext, text: str, digest: Digest) -> None:
    from flowpack.cas.errors import UsageError
    from flowpack.packer.kinds import PROJECT, RECORD_KINDS, REGISTRATION, RUN

    manifest = cli.store.get_manifest(digest)
    if manifest.kind not in RECORD_KINDS:
        return
    from flowpack.packer.records import parse_registration, parse_run

    if manifest.kind == REGISTRATION:
        reg = parse_registration(digest, manifest)
        raise UsageError(
            f"{text} is the registration record of {reg.project}/{reg.flow} version"
            f" {reg.version}, which holds no files; its bundle is {reg.bundle}"
            f" (name it {reg.project}/{reg.flow}@{reg.version})"
        )
    if manifest.kind == RUN:
        run = parse_run(digest, manifest)
        raise UsageError(
            f"{text} is a run record of {run.project}/{run.flow}, which holds no files;"
            f" the bundle it ran is {run.bundle}"
        )
    if manifest.kind == PROJECT:
        raise UsageError(f"{text} is a project record, which holds no files")
