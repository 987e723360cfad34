"""Flows <-> bundles, and the records of what was registered and what ran.

Nouns:

- *flow*: any object :func:`flowpack.packer.discover.is_flow` accepts; flowpack's own small
  model is :mod:`flowpack.packer.flow` (``Flow``, ``task``, ``Parameter``).
- *bundle*: a content-addressed manifest holding a flow as a script (the file plus its local
  import closure, :mod:`~flowpack.packer.script`), a module's sources
  (:mod:`~flowpack.packer.modules`) or a pickle (:mod:`~flowpack.packer.pickled`); its layout
  is in :mod:`~flowpack.packer.bundle`.
- *registration* and *run records*: immutable manifests chained by parent digest, under the
  refs ``flows/<project>/<flow>`` and ``runs/<project>/<flow>``
  (:mod:`~flowpack.packer.records`), written by :mod:`~flowpack.packer.register` and
  :mod:`~flowpack.packer.run`, checked by :mod:`~flowpack.packer.audit`.

The seed-compatible storage classes that use all this live one layer up, in the ``storage``
package; the packer sees a storage only through :class:`~flowpack.packer.flowstorage.FlowStorage`
and imports nothing from there.
"""

from flowpack.packer.flowstorage import FlowStorage

__all__ = ["FlowStorage"]
