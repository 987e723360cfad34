"""The HTML audit report, loaded in a real browser (headless Chromium from Debian's package).

The page is rendered with the network cut off (every host resolves nowhere), the rendered DOM
is read back with ``--dump-dom`` and checked, and a screenshot is saved in the test's tmp dir.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from auditfixtures import History, make_history
from click.testing import CliRunner
from flowfixtures import damage, reopen

from flowpack.cas.store import Store
from flowpack.cli.main import cli
from flowpack.packer import keys
from flowpack.packer.records import registrations

BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser binary (scripts/install-test-servers.sh installs it); missing is a failure."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed: run scripts/install-test-servers.sh"
    return found


def browse(
    chromium: str, page: Path, tmp_path: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    return subprocess.run(
        [chromium, *BROWSER_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


class Elements(HTMLParser):
    """Every element of a document: (tag, classes, attributes), and the text of the page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.found: list[tuple[str, set[str], dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.found.append((tag, set((attributes.get("class") or "").split()), attributes))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def having(self, *classes: str) -> list[dict[str, str | None]]:
        return [a for _, c, a in self.found if set(classes) <= c]


def rendered(chromium: str, page: Path, tmp_path: Path, shot: str) -> Elements:
    dom = browse(chromium, page, tmp_path, "--dump-dom").stdout
    assert "<html" in dom and "</body>" in dom
    picture = tmp_path / shot
    browse(chromium, page, tmp_path, f"--screenshot={picture}", "--window-size=1200,2400")
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    return Elements(dom)


@pytest.fixture
def history(store: Store, tmp_path: Path) -> History:
    keys.generate()
    return make_history(store, tmp_path)


def write_page(store: Store, tmp_path: Path, pub: Path, name: str, code: int) -> Path:
    page = tmp_path / name
    result = CliRunner().invoke(
        cli,
        ["--store", store.url or "", "audit", "demo/etl", "--trusted-key", pub, "--html", page],
    )
    assert result.exit_code == code, result.output
    return page


def test_the_report_renders_in_chromium(chromium: str, history: History, tmp_path: Path) -> None:
    pub = tmp_path / "pub"
    pub.write_text(f"{keys.public()}\n")
    page = write_page(history.store, tmp_path, pub, "report.html", 0)
    source = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", source)
    assert "<script" not in source and "<link" not in source
    dom = rendered(chromium, page, tmp_path, "report.png")
    assert dom.having("pass") and dom.found[0][0] == "html"
    assert [a for t, c, a in dom.found if t == "header" and "pass" in c]
    regs = dom.having("event", "registration")
    run_cards = dom.having("event", "run")
    assert {a["data-record"] for a in regs} == {str(v.record) for v in history.versions}
    assert {a["data-record"] for a in run_cards} == {str(r) for r in history.runs}
    assert len(dom.having("badge", "trusted")) == 6 and not dom.having("badge", "untrusted")
    assert len(dom.having("check", "pass")) >= 3 + 6 and not dom.having("check", "fail")
    text = "".join(dom.text)
    assert "changed: flows/helpers.py" in text
    assert "+    return [v + 3 for v in values]" in text
    assert "-    return [v + 2 for v in values]" in text
    assert len(dom.having("add")) >= 2 and len(dom.having("del")) >= 2
    assert str(keys.public()) in text  # who signed


def test_a_damaged_record_shows_as_damaged(chromium: str, history: History, tmp_path: Path) -> None:
    store = history.store
    middle = [r.digest for r in registrations(store, store.refs.get("flows/demo/etl"))][1]
    damage(store, middle)
    pub = tmp_path / "pub"
    pub.write_text(f"{keys.public()}\n")
    page = write_page(reopen(store), tmp_path, pub, "damaged.html", 1)
    dom = rendered(chromium, page, tmp_path, "damaged.png")
    assert [a for t, c, a in dom.found if t == "header" and "fail" in c]
    assert dom.having("event", "damaged") and dom.having("badge", "damaged")
    text = "".join(dom.text)
    (card,) = dom.having("event", "damaged")
    assert card["data-record"] == str(middle)
    fails = dom.having("check", "fail")
    assert fails
    assert "cannot be read" in text and "the chain is broken here" in text
