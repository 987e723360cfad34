"""``HttpRefStore``: the ref half of an ``http(s)://`` location.

A ref's token is its ETag.  ``compare_and_set`` is a conditional PUT (``If-None-Match: *`` to
create, ``If-Match: <ETag>`` to move), ``compare_and_delete`` a conditional DELETE; the server
applies them with its store's own compare-and-set, so they are exactly as atomic as that store
(``capabilities.atomic_cas`` says so).  A 412 is a lost race: False, changing nothing.  Writes
are never retried (a retry could not tell a lost response from a lost race); reads are.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

from flowpack.backends.http.client import read_ndjson
from flowpack.backends.http.transport import Transport
from flowpack.backends.http.wire import digest_from_json, digest_json
from flowpack.cas.digest import Digest
from flowpack.cas.errors import MalformedData
from flowpack.cas.protocols import Capabilities, Token
from flowpack.cas.refname import check_ref_name

__all__ = ["HttpRefStore"]


def ref_path(name: str) -> str:
    """The URL path of ref ``name`` (already checked: only safe characters)."""
    return "/refs/" + quote(name, safe="/")


class HttpRefStore:
    """Refs of a remote ``flowpack serve``.  Thread-safe."""

    def __init__(self, transport: Transport, capabilities: Capabilities) -> None:
        self.transport = transport
        self._capabilities = capabilities

    @property
    def capabilities(self) -> Capabilities:
        """The served store's guarantees."""
        return self._capabilities

    def read(self, name: str) -> tuple[Digest, Token] | None:
        """The value and ETag of ``name``, or None; :class:`MalformedData` if damaged."""
        check_ref_name(name)
        response = self.transport.request("GET", ref_path(name), ok=(200, 404))
        if response.status_code == 404:
            return None
        etag = response.headers.get("etag")
        if not etag:
            raise MalformedData(f"ref {name!r}: the server sent no ETag")
        return digest_from_json(_json(response.content, name), f"ref {name!r}"), etag

    def iter_refs(self, prefix: str = "") -> Iterator[tuple[str, Digest]]:
        """Every ref under ``prefix`` with its value, streamed from one listing request."""
        with self.transport.stream("GET", "/refs", params={"prefix": prefix}) as response:
            for doc in read_ndjson(response.iter_lines(), "ref listing"):
                name = str(doc.get("name"))
                yield name, digest_from_json(doc, f"ref {name!r}")

    def compare_and_set(self, name: str, new: Digest, expected: Token | None) -> bool:
        """Point ``name`` at ``new`` if its ETag is still ``expected`` (None: absent)."""
        check_ref_name(name)
        if expected is not None and not _is_etag(expected):
            return False  # no ETag of this server looks like that: it cannot match
        headers = {"if-none-match": "*"} if expected is None else {"if-match": expected}
        response = self.transport.request(
            "PUT", ref_path(name), ok=(200, 412), json=digest_json(new), headers=headers
        )
        return response.status_code == 200

    def compare_and_delete(self, name: str, expected: Token) -> bool:
        """Remove ``name`` if its ETag is still ``expected``; False when changed or absent."""
        check_ref_name(name)
        if not _is_etag(expected):
            return False
        response = self.transport.request(
            "DELETE",
            ref_path(name),
            ok=(204, 412, 404),
            retry=False,
            headers={"if-match": expected},
        )
        return response.status_code == 204


def _json(content: bytes, name: str) -> object:
    import json

    try:
        return json.loads(content)
    except ValueError as exc:
        raise MalformedData(f"ref {name!r}: the server sent no JSON") from exc


def _is_etag(token: str) -> bool:
    return 2 <= len(token) <= 1024 and token.isascii() and token.isprintable()
