"""The image healthcheck: each flow's bundle verifies against its registered digest and loads.

Run inside the image as ``python <prefect_directory>/healthcheck.py`` (flowpack is on
``PYTHONPATH`` from ``<prefect_directory>/lib``), or against an unpacked image root as
``python ROOT/<prefect_directory>/healthcheck.py``: the paths in ``flows.json`` are taken
from the image root this file's directory lies in.  Prints one line per flow; exits 1 with one
line naming what failed.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here / "lib"))
    sys.path.insert(1, str(here / "site-packages"))
    from flowpack.cas.errors import FlowpackError
    from flowpack.cas.opening import open_store
    from flowpack.cas.transfer import import_bundle
    from flowpack.packer.loading import load_flow

    index = json.loads((here / "flows.json").read_text())
    root = here  # the image's root: "/" in the image, a scratch folder when built
    for _ in Path(index["prefect_directory"]).parts[1:]:
        root = root.parent
    with tempfile.TemporaryDirectory(prefix="flowpack-healthcheck-") as tmp:
        store = open_store((Path(tmp) / "store").as_uri(), cache_dir=None)
        for name, entry in sorted(index["flows"].items()):
            path = root / entry["path"].lstrip("/")
            try:
                digest = import_bundle(store, path)
                if str(digest) != entry["digest"]:
                    raise SystemExit(f"healthcheck: {name}: {digest} != {entry['digest']}")
                load_flow(store, digest, name)
            except FlowpackError as exc:
                print(f"healthcheck: flow {name!r} failed: {exc}", file=sys.stderr)
                return 1
            print(f"healthcheck: flow {name!r} ok ({digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
