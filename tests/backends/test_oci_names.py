"""Names on a registry: tags derived from keys and refs, image references, login entries."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowpack.backends.oci import tags
from flowpack.backends.oci.credentials import find_credentials
from flowpack.backends.oci.image import parse_image
from flowpack.cas.errors import UsageError

SEGMENT = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,10}", fullmatch=True)


@given(st.lists(SEGMENT, min_size=1, max_size=4))
def test_tags_decode_to_the_name_they_encode(segments: list[str]) -> None:
    name = "/".join(segments)
    for kind in (tags.BLOB, tags.REF):
        tag = tags.encode_tag(kind, name)
        assert len(tag) <= tags.MAX_TAG
        assert tags.decode_tag(kind, tag) == name
        other = tags.REF if kind == tags.BLOB else tags.BLOB
        assert tags.decode_tag(other, tag) is None


def test_other_tags_are_not_flowpacks() -> None:
    for tag in [
        "latest",
        "v1.2",
        "ref.",
        "ref.a..b",
        "ref._zz",
        "ref.a._2",
        "blob.x.",
        "blake3-ab",
    ]:
        assert tags.decode_tag(tags.REF, tag) is None
        assert tags.decode_tag(tags.BLOB, tag) is None


def test_names_too_long_for_a_tag_are_refused() -> None:
    with pytest.raises(UsageError, match="too long"):
        tags.encode_tag(tags.REF, "flows/" + "a" * 130)


@pytest.mark.parametrize(
    ("text", "host", "repo", "ref"),
    [
        ("python:3.12-slim", "registry-1.docker.io", "library/python", "3.12-slim"),
        ("acme/etl", "registry-1.docker.io", "acme/etl", "latest"),
        ("127.0.0.1:5000/base:v1", "127.0.0.1:5000", "base", "v1"),
        ("localhost/a/b", "localhost", "a/b", "latest"),
        ("ghcr.io/acme/flows@sha256:" + "a" * 64, "ghcr.io", "acme/flows", "sha256:" + "a" * 64),
    ],
)
def test_image_references(text: str, host: str, repo: str, ref: str) -> None:
    name = parse_image(text)
    assert (name.host, name.repository, name.reference) == (host, repo, ref)


@pytest.mark.parametrize("text", ["UPPER/case", "ghcr.io/a@sha256:short", "a:b:c:d", "a:"])
def test_bad_image_references(text: str) -> None:
    with pytest.raises(UsageError):
        parse_image(text)


def test_docker_hub_logins_are_found_under_their_index_name(tmp_path: Path) -> None:
    auth = base64.b64encode(b"hubuser:hubpass").decode()
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth}}})
    )
    found = find_credentials("registry-1.docker.io", docker_config=tmp_path)
    assert found is not None and (found.username, found.secret) == ("hubuser", "hubpass")
    assert "hubpass" not in repr(found)
    assert find_credentials("ghcr.io", docker_config=tmp_path) is None


def test_half_given_credentials_are_refused() -> None:
    with pytest.raises(UsageError):
        find_credentials("ghcr.io", username="u")
