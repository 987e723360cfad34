"""The git family: a small git client over dulwich, and git repositories as flowpack stores.

Nouns: a *remote* (:class:`GitRemote`) is one repository reached by URL, with credentials; a
*snapshot* (:class:`GitSnapshot`) is the file tree of one commit fetched from it; a *git store*
(``git+file://``, ``git+http(s)://``, ``git+ssh://``, opened by :func:`open_git`) keeps
flowpack's blobs and refs as git objects under ``refs/flowpack/``, beside the repository's own
branches, so the repository stays an ordinary one that ``git clone`` copies as before.
"""

from flowpack.backends.git.remote import ZERO_ID, GitCredentials, GitRemote, is_object_id
from flowpack.backends.git.tree import GitSnapshot, check_repo_path

__all__ = [
    "ZERO_ID",
    "GitCredentials",
    "GitRemote",
    "GitSnapshot",
    "check_repo_path",
    "is_object_id",
]
