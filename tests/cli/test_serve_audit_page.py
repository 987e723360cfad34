"""``flowpack serve`` shows a flow's audit view at ``/flows/P/F`` (the page of
``flowpack audit P/F --html``), to read-scope callers, verified against the served store."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cli_invoke import make_invoker

from servers.httpserver import start_flowpack_server

FLOW = """\
from flowpack import Flow, task


@task
def get_data():
    return [1, 2, 3, 4, 5]


with Flow("example") as flow:
    get_data()
"""


def test_the_audit_view_is_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "server"
    (root / "store").mkdir(parents=True)
    (tmp_path / "my_flow.py").write_text(FLOW)
    monkeypatch.chdir(tmp_path)
    run = make_invoker((root / "store").as_uri())
    run("register", "-p", "my_flow.py", "--project", "demo")
    run("run", "demo/example")
    server = start_flowpack_server(root)
    try:
        headers = {"Authorization": f"Bearer {server.tokens['read']}"}
        page = httpx.get(f"{server.url}/flows/demo/example", headers=headers, timeout=30)
        assert page.status_code == 200, page.text
        assert "text/html" in page.headers["content-type"]
        assert "Audit of demo/example: passed" in page.text
        assert "Run of version 1" in page.text and "Version 1 registered" in page.text
        missing = httpx.get(f"{server.url}/flows/demo/nope", headers=headers, timeout=30)
        assert missing.status_code == 404
        anonymous = httpx.get(f"{server.url}/flows/demo/example", timeout=30)
        assert anonymous.status_code == 401
    finally:
        server.process.stop()
