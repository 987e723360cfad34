"""git+file:// and git+http:// (git http-backend with Basic auth) pass the shared suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowpack.backends.git import naming
from flowpack.backends.git.location import open_git
from flowpack.cas.protocols import BlobStore, RefStore
from flowpack.cas.testing import BlobStoreConformance, RefStoreConformance
from servers.gitserver import GitHttpServer, git, init_bare


def corrupt_git_ref(repo: Path, name: str) -> None:
    """Point flowpack ref ``name`` of the bare ``repo`` at a blob holding damaged bytes."""
    damaged = repo / "damaged"
    damaged.write_bytes(b"blake3:ffff 12 0000000000000000\n")
    blob = git("hash-object", "-w", str(damaged), cwd=repo).strip()
    git("update-ref", naming.encode(naming.REFS, name), blob, cwd=repo)


@pytest.fixture
def file_repo(tmp_path: Path) -> Path:
    return init_bare(tmp_path / "store.git")


@pytest.fixture
def http_repo(git_http_server: GitHttpServer) -> tuple[Path, str]:
    path, url_path = git_http_server.new_repo()
    return path, "git+" + git_http_server.url(url_path, "flowpack", "s3cret-token")


class TestGitFileBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, file_repo: Path) -> BlobStore:
        return open_git(f"git+file://{file_repo}").blobs


class TestGitFileRefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, file_repo: Path) -> RefStore:
        self.repo = file_repo
        return open_git(f"git+file://{file_repo}").refs

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        corrupt_git_ref(self.repo, name)


class TestGitHttpBlobStore(BlobStoreConformance):
    @pytest.fixture
    def blob_store(self, http_repo: tuple[Path, str]) -> BlobStore:
        return open_git(http_repo[1]).blobs


class TestGitHttpRefStore(RefStoreConformance):
    @pytest.fixture
    def ref_store(self, http_repo: tuple[Path, str]) -> RefStore:
        self.repo = http_repo[0]
        return open_git(http_repo[1]).refs

    def corrupt_ref(self, store: RefStore, name: str) -> None:
        corrupt_git_ref(self.repo, name)
