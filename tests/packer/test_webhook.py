"""The seed's Webhook class against real HTTP services: a generic WebDAV server (wsgidav, basic
auth) and ``flowpack serve`` (bearer token).  Templates are filled from the environment and
secrets; no rendered value reaches a log, an error, or the serialised storage."""

from __future__ import annotations

import logging
import pickle
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

from flowpack import Flow, task
from flowpack.cas.digest import Digest
from flowpack.cas.errors import CorruptObject, NotFound, PermissionDenied, UsageError
from flowpack.packer.run import execute
from flowpack.storage import Webhook
from flowpack.storage.templates import SecretLookup, render
from servers.httpserver import FlowpackServer
from servers.webdav import WebDavServer

SCRIPT = """\
from flowpack import Flow, task


@task
def double(x):
    return 2 * x


with Flow("scripted") as flow:
    double(21)
"""


def simple_flow(name: str, value: int) -> Flow:
    @task
    def produce() -> int:
        return value

    with Flow(name) as flow:
        produce()
    return flow


@pytest.fixture
def dav(webdav_server: WebDavServer, monkeypatch: pytest.MonkeyPatch) -> WebDavServer:
    """The WebDAV server, with its credentials in the environment (the templates' source)."""
    monkeypatch.setenv("DAV_USER", webdav_server.user)
    monkeypatch.setenv("DAV_PASSWORD", webdav_server.password)
    return webdav_server


def dav_storage(server: WebDavServer, name: str, **kwargs: Any) -> Webhook:
    url = f"{server.url}/{name}"
    auth = ["${DAV_USER}", "${DAV_PASSWORD}"]
    return Webhook(
        build_request_kwargs={"url": url, "auth": auth},
        build_request_http_method="PUT",
        get_flow_request_kwargs={
            "url": url,
            "auth": auth,
            "headers": {"Accept": "application/octet-stream"},
        },
        get_flow_request_http_method="GET",
        **kwargs,
    )


def test_pickled_flow_round_trips_through_webdav(
    dav: WebDavServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"{uuid.uuid4().hex}.fpk"
    storage = dav_storage(dav, name)
    location = storage.add_flow(simple_flow("hooked", 7))
    assert location == "hooked" == storage.flows["hooked"]  # the seed's Webhook location
    assert storage.digest_of("hooked").startswith("blake3:")
    assert storage.build() is storage
    sent = (dav.root / name).read_bytes()
    assert storage.payloads == {"hooked": str(Digest.of(sent))}
    assert storage._build_responses["hooked"].status_code in (201, 204)
    # Elsewhere: the registered storage, an empty store of its own, the flow fetched over HTTP.
    monkeypatch.setenv("FLOWPACK_STORE", (tmp_path / "elsewhere").as_uri())
    registered = pickle.loads(pickle.dumps(storage))
    assert list(execute(registered.get_flow(), {}).values()) == [7]
    assert list(execute(registered.get_flow(location), {}).values()) == [7]


def test_script_flow_round_trips_through_webdav(dav: WebDavServer, tmp_path: Path) -> None:
    script = tmp_path / "scripted.py"
    script.write_text(SCRIPT)
    name = f"{uuid.uuid4().hex}.py"
    storage = dav_storage(dav, name, stored_as_script=True, flow_script_path=str(script))
    from flowpack.packer.script import ScriptSource, collect

    (flow,) = collect(ScriptSource.from_path(script))
    storage.add_flow(flow)
    storage.build()
    assert (dav.root / name).read_bytes() == SCRIPT.encode()
    assert list(execute(storage.get_flow("scripted"), {}).values()) == [42]


def test_a_tampered_body_is_refused_naming_both_digests(dav: WebDavServer) -> None:
    name = f"{uuid.uuid4().hex}.fpk"
    storage = dav_storage(dav, name)
    storage.add_flow(simple_flow("victim", 1))
    storage.build()
    registered = storage.payloads["victim"]
    other = dav_storage(dav, f"{uuid.uuid4().hex}.fpk")  # a valid export of another flow
    other.add_flow(simple_flow("victim", 666))
    other.build()
    swapped = (dav.root / other.build_request_kwargs["url"].rsplit("/", 1)[1]).read_bytes()
    for body in (swapped, b"garbage"):
        (dav.root / name).write_bytes(body)
        with pytest.raises(CorruptObject) as info:
            storage.get_flow()
        assert registered in str(info.value)
        assert str(Digest.of(body)) in str(info.value)


def test_webhook_against_flowpack_serve(
    flowpack_server: FlowpackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", flowpack_server.tokens["write"])
    url = f"{flowpack_server.url}/blobs/webhooks/{uuid.uuid4().hex}"
    auth = {"Authorization": "Bearer ${HOOK_TOKEN}"}
    storage = Webhook(
        build_request_kwargs={"url": url, "headers": {**auth, "If-None-Match": "*"}},
        build_request_http_method="PUT",
        get_flow_request_kwargs={"url": url, "headers": auth},
        get_flow_request_http_method="GET",
    )
    storage.add_flow(simple_flow("served", 5))
    storage.build()
    assert storage._build_responses["served"].status_code == 201
    assert list(execute(storage.get_flow(), {}).values()) == [5]


def test_no_rendered_value_reaches_logs_errors_or_state(
    dav: WebDavServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    planted = f"planted-{uuid.uuid4().hex}"
    monkeypatch.setenv("HOOK_SIG", planted)
    caplog.set_level(logging.DEBUG)
    name = f"{uuid.uuid4().hex}.fpk"
    storage = dav_storage(dav, name)
    storage.build_request_kwargs["params"] = {"sig": "${HOOK_SIG}"}
    storage.get_flow_request_kwargs["headers"]["X-Sig"] = "v1 ${HOOK_SIG}"
    storage.add_flow(simple_flow("quiet", 2))
    storage.build()
    storage.get_flow()
    failures = []
    monkeypatch.setenv("DAV_PASSWORD", planted)  # now a wrong password, and a secret
    for call in (storage.build, storage.get_flow):
        with pytest.raises(PermissionDenied) as info:
            call()
        failures.append(f"{info.value} {info.value.__cause__} {info.value.__context__}")
    missing = dav_storage(dav, f"{uuid.uuid4().hex}.fpk")
    monkeypatch.setenv("DAV_PASSWORD", dav.password)
    missing.flows["quiet"] = storage.flows["quiet"]
    with pytest.raises(NotFound) as info:
        missing.get_flow()
    failures.append(str(info.value))
    out = capsys.readouterr()
    seen = [caplog.text, out.out, out.err, *failures, repr(storage), str(vars(storage))]
    seen.append(pickle.dumps(storage).decode("latin-1"))
    for text in seen:
        assert planted not in text
        assert dav.password not in text
    assert "HTTP 401" in failures[0] and "${DAV_USER}" not in failures[0]


def test_templates_fill_nested_values_from_environment_then_secrets(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "API_KEY").write_text("from-file\n")
    (secrets_dir / "BOTH").write_text("file loses\n")
    lookup = SecretLookup({"BOTH": "env wins", "USER": "u"}, secrets_dir)
    value = {
        "headers": {"X-Api-Key": "${API_KEY}", "Authorization": "Bearer ${BOTH}"},
        "auth": ["$USER", "${API_KEY}"],
        "params": {"deep": [{"x": "a-${USER}-b"}], "n": 3, "cost": "$$5"},
        "${USER}": "keys are not templates",
    }
    assert render(value, lookup, "kwargs") == {
        "headers": {"X-Api-Key": "from-file", "Authorization": "Bearer env wins"},
        "auth": ["u", "from-file"],
        "params": {"deep": [{"x": "a-u-b"}], "n": 3, "cost": "$5"},
        "${USER}": "keys are not templates",
    }
    with pytest.raises(UsageError, match=r"'NOPE' in kwargs\['h'\]\[0\] is neither"):
        render({"h": ["${NOPE}"]}, lookup, "kwargs")
    with pytest.raises(UsageError, match="malformed template"):
        render({"h": "${unclosed"}, lookup, "kwargs")


def test_seed_argument_checks(tmp_path: Path) -> None:
    good = {"url": "http://127.0.0.1:1/x"}
    with pytest.raises(UsageError, match="not recognized"):
        Webhook(good, "FETCH", good, "GET")
    with pytest.raises(UsageError, match="files"):
        Webhook({**good, "files": {}}, "PUT", good, "GET")
    with pytest.raises(UsageError, match="url"):
        Webhook({}, "PUT", good, "GET")
    storage = Webhook(good, "put", good, "get", stored_as_script=True)
    assert storage.build_request_http_method == "PUT"
    with pytest.raises(UsageError, match="flow_script_path"):
        storage.add_flow(simple_flow("x", 1))


def test_data_in_build_kwargs_is_replaced_with_a_warning(dav: WebDavServer) -> None:
    name = f"{uuid.uuid4().hex}.fpk"
    storage = dav_storage(dav, name)
    storage.build_request_kwargs["data"] = "not the flow"
    storage.add_flow(simple_flow("warned", 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        storage.build()
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    assert (dav.root / name).read_bytes() != b"not the flow"
    assert list(execute(storage.get_flow(), {}).values()) == [4]


REGISTERED_FLOW = """\
from flowpack import Flow, task
from flowpack.storage import Webhook


@task
def double(x):
    return 2 * x


with Flow("hooked") as flow:
    double(21)

flow.storage = Webhook(
    build_request_kwargs={{"url": "{url}", "auth": ["${{DAV_USER}}", "${{DAV_PASSWORD}}"]}},
    build_request_http_method="PUT",
    get_flow_request_kwargs={{"url": "{url}", "auth": ["${{DAV_USER}}", "${{DAV_PASSWORD}}"]}},
    get_flow_request_http_method="GET",
)
"""


@pytest.mark.parametrize("reachable", [True, False])
def test_register_builds_the_storage_as_the_seed_does(
    dav: WebDavServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reachable: bool
) -> None:
    """The seed's register builds each storage after adding its flows: a Webhook sends them."""
    from click.testing import CliRunner

    from flowpack.cli.main import cli

    name = f"{uuid.uuid4().hex}.fpk"
    url = f"{dav.url}/{name}" if reachable else f"http://127.0.0.1:9/{name}"
    (tmp_path / "hooked.py").write_text(REGISTERED_FLOW.format(url=url))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLOWPACK_CACHE", str(tmp_path / "cache"))
    argv = ["--store", (tmp_path / "store").as_uri(), "register", "-p", "hooked.py"]
    out = CliRunner().invoke(cli, [*argv, "--project", "default"])
    assert "Pushing `Webhook` storage..." in out.output
    if reachable:
        assert out.exit_code == 0, out.output
        assert (dav.root / name).is_file(), "the registered flow was sent to the webhook"
        assert "Pushing `Webhook` storage... Done" in out.output
    else:
        assert out.exit_code == 1, out.output
        assert "Pushing `Webhook` storage... Error" in out.output
