"""oci+http:// against the distribution registry: the shared suites, and what is OCI's own.

The suites run unchanged: they already accept several winners of a race where the store
declares ``atomic_create=False`` and ``atomic_cas=False``, as a registry must.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowpack.backends.oci import artifacts, tags
from flowpack.backends.oci.client import OCI_MANIFEST
from flowpack.backends.oci.opener import open_oci
from flowpack.backends.oci.refs import OciRefStore
from flowpack.cas.digest import Digest
from flowpack.cas.errors import CapabilityError, PermissionDenied, UsageError
from flowpack.cas.location import Location
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.refvalue import encode_ref_value
from flowpack.cas.registry import open_location
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance
from servers.registry import Registry
from servers.tokenauth import TokenService


@pytest.fixture(autouse=True)
def no_docker_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's own ``~/.docker/config.json`` out of these tests."""
    empty = tmp_path / "docker-config"
    empty.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(empty))


@pytest.fixture
def location(registry: Registry) -> Iterator[Location]:
    loc = open_oci(registry.fresh_url())
    yield loc
    loc.close()


#: Racers in the OCI conformance suites: as many as the client has connections (8).  With 16,
#: half wait for a connection, and in the full suite (two workers) a registry request that
#: stalled held the rest past the 60 s request timeout.
OCI_RACERS = 8


class TestOciBlobStore(BlobStoreConformance):
    race_threads = OCI_RACERS

    @pytest.fixture
    def blob_store(self, location: Location) -> BlobStore:
        return location.blobs


class TestOciRefStore(RefStoreConformance):
    race_threads = OCI_RACERS

    @pytest.fixture
    def ref_store(self, location: Location) -> RefStore:
        return location.refs

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        inner = store.inner  # type: ignore[attr-defined]
        assert isinstance(inner, OciRefStore)
        value = "blake3:" + "0" * 64 + " 1 0000000000000000"
        raw = artifacts.ref_manifest(name, value, None, "damaged", [])
        inner.client.put_manifest(inner.repo, tags.encode_tag(tags.REF, name), raw, OCI_MANIFEST)


class TestOciWithBasicAuth(BlobStoreConformance):
    """The blob suite again, through htpasswd (bcrypt) Basic authentication."""

    race_threads = OCI_RACERS

    @pytest.fixture
    def blob_store(self, auth_registry: Registry) -> BlobStore:
        return open_oci(auth_registry.fresh_url(), **auth_registry.options()).blobs


def test_wrong_password_is_permission_denied_without_the_secret(auth_registry: Registry) -> None:
    secret = "not-the-password-4f1e"
    loc = open_oci(auth_registry.fresh_url(), username="flowpack-ci", password=secret)
    with pytest.raises(PermissionDenied) as info:
        loc.blobs.put("config", b"x")
    assert secret not in str(info.value)
    assert "\n" not in str(info.value)


def test_no_credentials_is_permission_denied(auth_registry: Registry) -> None:
    with pytest.raises(PermissionDenied):
        open_oci(auth_registry.fresh_url()).refs.read("tags/x")


def _login(directory: Path, config: dict[str, object]) -> None:
    (directory / "config.json").write_text(json.dumps(config))


def test_credentials_from_docker_config_auths(auth_registry: Registry, tmp_path: Path) -> None:
    opts = auth_registry.options()
    token = base64.b64encode(f"{opts['username']}:{opts['password']}".encode()).decode()
    _login(tmp_path, {"auths": {f"http://{auth_registry.host}/v1/": {"auth": token}}})
    with open_oci(auth_registry.fresh_url(), docker_config=str(tmp_path)) as loc:
        loc.blobs.put("config", b"from config.json")
        assert loc.blobs.get("config") == b"from config.json"


def test_credentials_from_a_credential_helper(
    auth_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opts = auth_registry.options()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-flowpacktest"
    answer = json.dumps(
        {"ServerURL": auth_registry.host, "Username": opts["username"], "Secret": opts["password"]}
    )
    helper.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 1\n'
        f'read server; [ "$server" = "{auth_registry.host}" ] || '
        "{ echo 'credentials not found in native keychain'; exit 1; }\n"
        f"echo '{answer}'\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    docker_dir = Path(os.environ["DOCKER_CONFIG"])
    _login(docker_dir, {"credHelpers": {auth_registry.host: "flowpacktest"}})
    with open_oci(auth_registry.fresh_url()) as loc:
        assert loc.refs.compare_and_set("tags/t", Digest.of(b"x"), None)
        assert loc.refs.read("tags/t") is not None
    _login(docker_dir, {"credsStore": "flowpacktest"})
    with open_oci(auth_registry.fresh_url()) as loc:
        loc.blobs.put("k", b"via credsStore")
    _login(docker_dir, {"credsStore": "absent-helper"})
    with pytest.raises(PermissionDenied, match="not on PATH"):
        open_oci(auth_registry.fresh_url())


def test_opens_through_the_entry_point(registry: Registry) -> None:
    with open_location(registry.fresh_url()) as loc:
        assert loc.capabilities.atomic_cas is False
        assert loc.capabilities.listable is False
        loc.blobs.put("config", b"cfg")
        assert loc.blobs.get("config") == b"cfg"
    assert loc.closed


def test_plain_http_only_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="plain HTTP"):
        open_oci("oci+http://registry.example.com/team/flows")
    open_oci("oci+http://registry.example.com/team/flows", insecure=True).close()
    open_oci("oci+https://registry.example.com/team/flows").close()
    monkeypatch.setenv("FLOWPACK_INSECURE_REGISTRIES", "other.example, registry.example.com:5000")
    open_oci("oci+http://registry.example.com:5000/team/flows").close()
    with pytest.raises(UsageError, match="plain HTTP"):
        open_oci("oci+http://registry.example.com/team/flows")


@pytest.mark.parametrize(
    "url",
    [
        "oci+https://u:p@registry.example.com/r",
        "oci+https://registry.example.com/",
        "oci+https://registry.example.com/Upper",
        "oci+https://registry.example.com/r?x=1",
        "https://registry.example.com/r",
    ],
)
def test_bad_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError) as info:
        open_oci(url)
    assert ":p@" not in str(info.value)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(UsageError, match="unknown option"):
        open_oci("oci+https://registry.example.com/r", colour="blue")


def test_skopeo_reads_the_ref_manifest(registry: Registry) -> None:
    url = registry.fresh_url()
    with open_oci(url) as loc:
        loc.blobs.put("packs/" + "a" * 64, b"pack bytes")
        value = Digest.of(b"bundle")
        assert loc.refs.compare_and_set("flows/p/f", value, None)
        repo = url.split("/", 3)[3]
    out = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{registry.host}/{repo}:ref.flows.p.f",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    doc = json.loads(out)
    push = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--raw",
            "--tls-verify=false",
            f"docker://{registry.host}/{repo}:blake3-{value.hex}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    push_doc = json.loads(push)
    assert push_doc["artifactType"] == artifacts.PUSH_TYPE
    assert push_doc["layers"] == doc["layers"]
    assert doc["artifactType"] == artifacts.REF_TYPE
    assert doc["annotations"][artifacts.REF_VALUE].startswith(str(value))
    assert doc["annotations"][artifacts.REF_PREVIOUS] == ""
    [layer] = doc["layers"]
    assert layer["annotations"][artifacts.KEY] == "packs/" + "a" * 64
    assert (
        layer["annotations"][artifacts.BLAKE3]
        == str(Digest.of(b"pack bytes")).split(":")[0] + ":" + Digest.of(b"pack bytes").hex
    )


class TestOciWithBearerTokens(RefStoreConformance):
    """The ref suite through bearer tokens from a token service (the registry's challenge)."""

    race_threads = OCI_RACERS

    @pytest.fixture
    def ref_store(self, token_registry: tuple[Registry, TokenService]) -> RefStore:
        reg, _ = token_registry
        return open_oci(reg.fresh_url(), **reg.options()).refs

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        TestOciRefStore.corrupt_ref(self, store, name)  # type: ignore[arg-type]


def test_bearer_tokens_are_fetched_once_and_reused(
    token_registry: tuple[Registry, TokenService],
) -> None:
    reg, tokens = token_registry
    before = tokens.issued
    with open_oci(reg.fresh_url(), **reg.options()) as loc:
        for i in range(5):
            loc.blobs.put(f"k/{i}", os.urandom(100))
        assert len(list(loc.blobs.iter_keys())) == 5
        loc.blobs.delete("k/0")
    assert 1 <= tokens.issued - before <= 3  # pull+push, then once more for delete
    with pytest.raises(PermissionDenied) as info:
        open_oci(reg.fresh_url(), username="flowpack-ci", password="wrong-pw-1234").blobs.get("x")
    assert "wrong-pw-1234" not in str(info.value)


def test_a_tag_overwritten_before_the_re_read_is_reported_as_lost(
    registry: Registry, caplog: pytest.LogCaptureFixture
) -> None:
    """Writer A passes its check; writer B (who read the same token) writes between A's write
    and A's re-read.  A reports False and logs the lost update; B's manifest names the token
    both started from, so the chain shows two updates of one parent."""
    from servers.proxy import FaultProxy, Request

    repo = registry.fresh_repo()
    with FaultProxy(registry.endpoint) as proxy:
        loc = open_oci(f"oci+http://127.0.0.1:{proxy.port}/{repo}")
        refs = loc.refs.inner  # type: ignore[attr-defined]
        assert isinstance(refs, OciRefStore)
        assert loc.refs.compare_and_set("flows/p/f", Digest.of(b"start"), None)
        token = loc.refs.read("flows/p/f")[1]  # type: ignore[index]
        theirs = Digest.of(b"theirs")
        tag = tags.encode_tag(tags.REF, "flows/p/f")
        raw = artifacts.ref_manifest(
            "flows/p/f", encode_ref_value(theirs).decode().strip(), token, "b", []
        )
        seen_put: list[bool] = []

        def race_in_before_the_re_read(rec: Request) -> None:
            if rec.method == "PUT" and rec.path.endswith(f"/manifests/{tag}"):
                seen_put.append(True)
            elif seen_put and rec.method == "HEAD" and rec.path.endswith(f"/manifests/{tag}"):
                proxy.before_forward = None
                refs.client.put_manifest(repo, tag, raw, OCI_MANIFEST)

        proxy.before_forward = race_in_before_the_re_read
        assert loc.refs.compare_and_set("flows/p/f", Digest.of(b"mine"), token) is False
        loc.close()
    assert "lost update" in caplog.text
    with open_oci(f"oci+http://{registry.host}/{repo}") as direct:
        value, now = direct.refs.read("flows/p/f")  # type: ignore[misc]
        assert value == theirs
        doc = json.loads(direct.refs.inner.client.get_manifest(repo, now).raw)  # type: ignore[attr-defined]
    assert doc["annotations"][artifacts.REF_PREVIOUS] == token


def test_skopeo_copies_a_push_and_every_blob_matches_its_annotations(
    registry: Registry, tmp_path: Path
) -> None:
    """``skopeo copy`` checks every blob's sha256 on the way; the copy's bytes also match the
    blake3 digest flowpack wrote beside each key."""
    import blake3

    url = registry.fresh_url()
    repo = url.split("/", 3)[3]
    payloads = {f"packs/{i}": os.urandom(10_000 + i) for i in range(3)}
    with open_oci(url) as loc:
        for key, data in payloads.items():
            loc.blobs.put(key, data)
        assert loc.refs.compare_and_set("tags/release", Digest.of(b"bundle"), None)
    layout = tmp_path / "layout"
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--src-tls-verify=false",
            f"docker://{registry.host}/{repo}:ref.tags.release",
            f"oci:{layout}:x",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    index = json.loads((layout / "index.json").read_text())
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    copied = {}
    for layer in manifest["layers"]:
        data = (blobs / layer["digest"].split(":")[1]).read_bytes()
        assert "blake3:" + blake3.blake3(data).hexdigest() == layer["annotations"][artifacts.BLAKE3]
        copied[layer["annotations"][artifacts.KEY]] = data
    assert copied == payloads


def test_a_registry_without_deletes_says_so(no_delete_registry: Registry) -> None:
    with open_oci(no_delete_registry.fresh_url()) as loc:
        loc.blobs.put("packs/a", b"x")
        with pytest.raises(CapabilityError, match="does not allow deletes"):
            loc.blobs.delete("packs/a")
        assert loc.blobs.get("packs/a") == b"x"
        assert loc.refs.compare_and_set("tags/t", Digest.of(b"x"), None)
        token = loc.refs.read("tags/t")[1]  # type: ignore[index]
        with pytest.raises(CapabilityError):
            loc.refs.compare_and_delete("tags/t", token)


def test_an_identity_token_from_docker_config_gets_bearer_tokens(
    token_registry: tuple[Registry, TokenService], tmp_path: Path
) -> None:
    """``identitytoken`` in ``auths`` (what ``docker login`` keeps for OAuth registries) is
    exchanged with the refresh-token grant, never sent as a password."""
    reg, tokens = token_registry
    identity = reg.options()["password"]
    _login(tmp_path, {"auths": {reg.host: {"identitytoken": identity}}})
    before = tokens.issued
    with open_oci(reg.fresh_url(), docker_config=str(tmp_path)) as loc:
        loc.blobs.put("config", b"via identity token")
        assert loc.blobs.get("config") == b"via identity token"
    assert tokens.issued > before
    _login(tmp_path, {"auths": {reg.host: {"identitytoken": "revoked-token-99"}}})
    with pytest.raises(PermissionDenied) as info:
        open_oci(reg.fresh_url(), docker_config=str(tmp_path)).blobs.get("config")
    assert "revoked-token-99" not in str(info.value)
