"""No command prints a credential: a secret planted in every place a store URL can carry one
(password, query parameter, a URL inside an option, an encoded ``token=`` inside an option) is
absent from every output of every command, in text and in ``--json``, whether the command
fails at once or after talking to a (dead) endpoint."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowpack.cli.main import cli

SECRET = "S3CR3Tplanted0123456789"


def dead_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Store URLs carrying the secret; ``{port}`` becomes a dead loopback port in the test (test
#: ids must be the same in every pytest-xdist worker).
URLS = [
    f"file://user:{SECRET}@host/store",
    f"file:///tmp/store?token={SECRET}",
    f"s3://bucket/p?endpoint_url=http://user:{SECRET}@127.0.0.1:{{port}}&max_attempts=1",
    f"s3://bucket/p?endpoint_url=http://127.0.0.1:{{port}}&secret={SECRET}&key=AKIA&max_attempts=1",
    f"s3://bucket/p?endpoint_url=http%3A%2F%2F127.0.0.1%3A{{port}}%3Ftoken%3D{SECRET}&max_attempts=1",
    f"nope://user:{SECRET}@host/x",
    f"memory://x?token={SECRET}",
]


def test_vendor_messages_are_scrubbed() -> None:
    """What gcsfs raised for ``gs://bucket/p?token=SECRET`` (a requests error quoting the
    token-info URL), and other vendor shapes: the CLI prints them scrubbed.  (gcsfs checks such a
    token against Google's servers, which these tests never contact, so the text is quoted.)"""
    from flowpack.cli.failure import one_line

    messages = [
        "HTTPSConnectionPool(host='oauth2.googleapis.com', port=443): Max retries exceeded with "
        f"url: /tokeninfo?access_token={SECRET} (Caused by NameResolutionError(...))",
        f"401 Unauthorized: {{'access_token': '{SECRET}', 'scope': 'x'}}",
        f"request failed: Authorization: Bearer {SECRET}",
        f"bad option storage_options=a%26token%3D{SECRET}",
    ]
    for message in messages:
        assert SECRET not in one_line(message), message


def commands(tmp: Path) -> list[list[str]]:
    tree = tmp / "tree"
    tree.mkdir(exist_ok=True)
    (tree / "a.txt").write_text("a\n")
    digest = "blake3:" + "ab" * 32
    return [
        ["push", str(tree), "--ref", "t/x"],
        ["pull", digest, str(tmp / "out")],
        ["ls", "t/x"],
        ["cat", digest],
        ["verify"],
        ["verify", "--all", "--read-data"],
        ["gc", "--grace", "1h"],
        ["stats"],
        ["ref", "ls"],
        ["ref", "set", "t/x", digest, "--create"],
        ["export", "t/x", "-o", str(tmp / "x.pack")],
        ["log", "p/f"],
        ["run", "p/f"],
    ]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("json", [False, True])
def test_no_output_carries_the_planted_secret(
    url: str, json: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWPACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    url = url.replace("{port}", str(dead_port()))
    runner = CliRunner()
    for argv in commands(tmp_path):
        full = ["--store", url] + (["--json"] if json else []) + argv
        result = runner.invoke(cli, full, catch_exceptions=False)
        text = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert SECRET not in text, (argv, text)
        assert "Traceback" not in text, (argv, text)
        if not url.startswith("memory:"):  # a named memory store works: its outputs count too
            assert result.exit_code != 0, (argv, text)  # the others are broken or unreachable


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        (["copy", "file:///nowhere", f"file://u:{SECRET}@h/x"], "destination"),
        (["copy", f"file:///tmp/x?token={SECRET}", "memory://y"], "source"),
    ],
)
def test_copy_names_neither_store_secret(argv: list[str], where: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code != 0, where
    assert SECRET not in result.output, (where, result.output)
