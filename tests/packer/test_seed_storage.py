"""The seed's Storage behaviour: abstract base, ``serialize()``, ``logger``, the errors of
``stored_as_script=True`` without a script, ``add_flow`` returning the key/path, a tampered
export refused, and ``Module`` for a module installed only where flows run."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from flowpack import Flow, task
from flowpack.cas.errors import IntegrityError
from flowpack.cas.opening import open_store
from flowpack.packer.register import register_flow
from flowpack.packer.run import run_flow
from flowpack.storage import GCS, S3, Azure, Local, Module, Storage


@task
def produce() -> int:
    return 5


def make_flow(name: str, value: int = 5) -> Flow:
    @task
    def give() -> int:
        return value

    with Flow(name) as flow:
        give()
    return flow


def test_storage_is_abstract_and_local_is_the_default() -> None:
    with pytest.raises(TypeError, match="Can't instantiate abstract class Storage"):
        Storage()
    assert isinstance(Local(), Storage)


def test_serialize_and_logger_as_the_seed(tmp_path: Path) -> None:
    local = Local(directory=str(tmp_path / "s"), secrets=["TOKEN"])
    local.add_flow(make_flow("ser"))
    doc = local.serialize()
    assert doc["type"] == "Local" and doc["secrets"] == ["TOKEN"]
    assert doc["flows"] == {"ser": local.flows["ser"]} and doc["__version__"]
    assert (doc["directory"], doc["path"], doc["stored_as_script"]) == (
        str(tmp_path / "s"),
        None,
        False,
    )
    s3 = S3("b", key="k.py", client_options={"aws_secret_access_key": "hunter2", "region": "x"})
    sdoc = s3.serialize()
    assert (sdoc["type"], sdoc["bucket"], sdoc["key"]) == ("S3", "b", "k.py")
    assert sdoc["client_options"] == {"aws_secret_access_key": "***", "region": "x"}
    assert "hunter2" not in repr(sdoc)
    assert GCS("g", project="p").serialize()["project"] == "p"
    assert Azure("c", blob_name="f.py").serialize()["blob_name"] == "f.py"
    assert Module("pkg.mod").serialize()["module"] == "pkg.mod"
    assert isinstance(local.logger, logging.Logger) and local.logger.name.endswith("Local")


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        (lambda d: Local(directory=d, stored_as_script=True), "A `path` must be provided"),
        (lambda d: S3("b", stored_as_script=True), "A `key` must be provided .* in S3 or"),
        (lambda d: GCS("b", stored_as_script=True), "A `key` must be provided .* in GCS or"),
        (lambda d: Azure("c", stored_as_script=True), "A `blob_name` must be provided"),
    ],
    ids=["Local", "S3", "GCS", "Azure"],
)
def test_a_script_without_a_location_raises_the_seeds_error(
    storage: object, message: str, tmp_path: Path
) -> None:
    made = storage(str(tmp_path / "s"))  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        made.add_flow(make_flow("script"))


def test_add_flow_returns_the_path_and_a_tampered_export_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "exports" / "flow.pack"
    storage = Local(directory=str(tmp_path / "a"), path=str(out))
    assert storage.add_flow(make_flow("tamper", 1)) == str(out)
    registered = storage.digest_of("tamper")
    other = Local(directory=str(tmp_path / "c"), path=str(out))
    other.add_flow(make_flow("tamper", 2))  # someone writes another flow at the same path
    reader = Local(directory=str(tmp_path / "b"), path=str(out))
    reader.flows["tamper"] = str(out)
    reader._digests["tamper"] = registered  # what the registration recorded
    with pytest.raises(IntegrityError) as caught:
        reader.get_flow("tamper")
    assert registered in str(caught.value) and other.digest_of("tamper") in str(caught.value)


def test_module_installed_only_where_flows_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store((tmp_path / "store").as_uri(), cache_dir=None)
    flow = make_flow("remote")
    flow.storage = Module("prod_only_flows")
    result = register_flow(store, flow, project="default", storage=flow.storage)
    manifest = store.get_manifest(result.bundle)
    assert manifest.files == () or list(manifest.files) == []
    assert manifest.metadata["flow"]["installed"] is True
    # Where flows run, the module is installed:
    site = tmp_path / "site"
    site.mkdir()
    (site / "prod_only_flows.py").write_text(
        "from flowpack import Flow, task\n\n@task\ndef t():\n    return 11\n\n"
        "with Flow('remote') as flow:\n    t()\n"
    )
    monkeypatch.syspath_prepend(str(site))
    outcome = run_flow(store, "default/remote")
    assert outcome.ok, outcome.exception
    assert list(outcome.result.values()) == [11]
    source = store.get_manifest(outcome.record.digest).metadata["module_source"]
    assert source["module"] == "prod_only_flows" and source["digest"].startswith("blake3:")
    sys.modules.pop("prod_only_flows", None)
