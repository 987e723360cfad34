"""Tokens and the listening policy of ``flowpack serve`` (no server needed for these)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowpack.backends.http.auth import (
    TokenBook,
    create_token,
    list_tokens,
    revoke_token,
    scope_allows,
)
from flowpack.backends.http.serving import check_listen_policy, is_loopback
from flowpack.cas.errors import UsageError
from flowpack.cas.testing import race


def test_only_hashes_are_stored_and_tokens_check(tmp_path: Path) -> None:
    config = tmp_path / "server.json"
    token, grant = create_token(config, "write", prefix="flows/a/")
    assert token not in config.read_text()
    book = TokenBook(config)
    assert book.check(token) == grant
    assert book.check(token + "x") is None
    assert grant.may_change_ref("flows/a/x") and not grant.may_change_ref("flows/b/x")


def test_expired_tokens_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "server.json"
    token, grant = create_token(config, "read", expires_in=60)
    book = TokenBook(config)
    assert book.check(token) == grant
    assert grant.expires is not None
    assert book.check(token, now=grant.expires + 1) is None


def test_concurrent_creators_lose_nothing(tmp_path: Path) -> None:
    config = tmp_path / "server.json"
    made = race(8, lambda i: create_token(config, "read"))
    ids = {m[1].id for m in made if isinstance(m, tuple)}
    assert len(ids) == 8
    assert {g.id for g in list_tokens(config)} == ids
    victim = sorted(ids)[0]
    assert revoke_token(config, victim) and not revoke_token(config, victim)
    assert {g.id for g in list_tokens(config)} == ids - {victim}


def test_the_book_rereads_a_changed_file(tmp_path: Path) -> None:
    config = tmp_path / "server.json"
    book = TokenBook(config)
    assert book.grants() == ()
    token, _ = create_token(config, "admin")
    assert book.check(token) is not None
    config.write_text(json.dumps({"tokens": "nonsense"}))
    with pytest.raises(UsageError, match="not valid"):
        book.grants()


def test_scopes_are_ordered() -> None:
    assert scope_allows("admin", "write") and scope_allows("write", "read")
    assert not scope_allows("read", "write") and not scope_allows("write", "admin")
    with pytest.raises(UsageError):
        create_token(Path("/nonexistent/x.json"), "root")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("::", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listening_policy(tmp_path: Path) -> None:
    empty = TokenBook(tmp_path / "none.json")
    assert check_listen_policy("127.0.0.1", empty, None) == "admin"
    with pytest.raises(UsageError, match=r"refusing to serve on 0\.0\.0\.0"):
        check_listen_policy("0.0.0.0", empty, None)
    assert check_listen_policy("0.0.0.0", empty, "read") == "read"
    assert check_listen_policy("0.0.0.0", empty, "none") is None
    config = tmp_path / "server.json"
    create_token(config, "read")
    with_tokens = TokenBook(config)
    assert check_listen_policy("127.0.0.1", with_tokens, None) is None
    assert check_listen_policy("0.0.0.0", with_tokens, None) is None
    with pytest.raises(UsageError, match="unknown anonymous scope"):
        check_listen_policy("127.0.0.1", with_tokens, "root")
