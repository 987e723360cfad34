"""The manifest kinds of flowpack's records (a light module: the bundle commands check a
manifest's kind before they import the records' code)."""

from __future__ import annotations

REGISTRATION = "flowpack.registration.v1"
RUN = "flowpack.run.v1"
PROJECT = "flowpack.project.v1"
#: Kinds of manifests that hold a record, not files.
RECORD_KINDS = frozenset({REGISTRATION, RUN, PROJECT})
